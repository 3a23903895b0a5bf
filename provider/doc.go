// Package provider analyzes pages and frames with vision models, and holds
// the controls that keep that affordable: routing, caching, rate limiting,
// cost accounting, fallback and a PII guardrail.
//
// Two clients call the providers through their official SDKs, streaming,
// with the SDKs' own retries off and nothing taken from the SDKs'
// environment variables (the configuration is the one source of keys and
// headers):
//
//   - [Anthropic] (anthropic-sdk-go/v2): the Messages API. A page goes as a
//     single-page PDF document block, a frame as an image block; a schema
//     as the input_schema of one tool that tool_choice forces, the answer
//     being the tool's streamed input.
//   - [OpenAI] (openai-go/v3): Chat Completions, with images as data URIs;
//     any OpenAI-compatible server (Ollama, vLLM, LM Studio) works by its
//     base URL. Pages are rendered with pdftoppm first ([Rasterizer]). A
//     schema goes as response_format json_schema, strict when
//     [StrictSchema] says the schema allows it.
//
// mmq's retry policy is the one that decides: 408, 429, 5xx, 529, overload
// events in the stream and network errors retry with exponential backoff
// and full jitter, never earlier than the provider's Retry-After or
// rate-limit reset headers; another 4xx never retries ([HTTPConfig]).
//
// A job's instructions and JSON Schema ride on every unit (see extract.go):
// every answer is validated, asked again with the errors fed back, and
// fails with schema_mismatch when it never validates; [Router.Combine]
// merges the page answers of a job of scope document in rounds.
//
// A [Pipeline] puts one client behind the controls, in this order:
//
//	plan      task → complexity, resolution, prompts; (complexity, has image) → model
//	cache     Redis, keyed by sha256(content), prompts, provider, model, resolution
//	prepare   render the page or downscale the frame to the resolution
//	limit     GCRA in Redis on requests and tokens per minute, shared by all workers
//	call      the client, streaming (time to first token is measured)
//	account   usage × the model's price
//	guard     flag (and optionally redact) e-mails, phones, cards, IBANs
//
// and reports each step in the result's tasks.Metrics. A [Router] picks the
// job's provider (or the default) and falls back along the configured chain
// when one fails transiently; it also estimates a unit's cost, which the
// worker reserves against a job's max_cost_usd.
//
// Economy mode (see batch.go and pipeline_batch.go): [Pipeline.PrepareEconomy]
// builds a unit's request with the realtime code as one line of the
// provider's batch API ([Batcher]: Anthropic Message Batches, the OpenAI
// Batch API), a cache hit never sent; [Pipeline.FinishEconomy] turns the
// line's outcome into the realtime result, at the batch price (default
// half). The [Router] says which provider takes a job's economy units, if
// any ([Router.SupportsEconomy]).
//
// The package knows tasks and third-party libraries only; cmd/mmq builds
// the clients, pipelines and router from the configuration, and hands the
// router to the worker as its analyzer.
package provider
