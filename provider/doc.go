// Package provider analyzes pages and frames with vision models, and holds
// the controls that keep that affordable: routing, caching, rate limiting,
// cost accounting, fallback and a PII guardrail.
//
// Two clients speak the providers' wire formats, streaming:
//
//   - [Anthropic]: the Messages API. A page goes as a single-page PDF
//     document block, a frame as an image block.
//   - [OpenAI]: Chat Completions, with images as data URIs; any
//     OpenAI-compatible server (Ollama, vLLM, LM Studio) works by its base
//     URL. Pages are rendered with pdftoppm first ([Rasterizer]).
//
// Both retry 408, 429, 5xx, 529 and network errors with exponential backoff
// and full jitter, never earlier than the provider's Retry-After or
// rate-limit reset headers, and never retry another 4xx ([HTTPConfig]).
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
// The package knows tasks and third-party libraries only; cmd/mmq builds
// the clients, pipelines and router from the configuration, and hands the
// router to the worker as its analyzer.
package provider
