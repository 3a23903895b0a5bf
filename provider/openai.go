package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"
)

// OpenAIName is the name of the OpenAI provider.
const OpenAIName = "openai"

// OpenAIConfig configures an OpenAI client.
type OpenAIConfig struct {
	// HTTP holds the base URL (defaults to "https://api.openai.com/v1";
	// any OpenAI-compatible server — Ollama, vLLM, LM Studio — by its own
	// /v1 root), the API key (optional: local servers need none) and the
	// retry policy.
	HTTP HTTPConfig
}

// OpenAI calls Chat Completions (POST {base}/chat/completions), streaming,
// through the official SDK (github.com/openai/openai-go/v3) with its own
// retries off, the page or frame as an image_url data URI. It takes no
// PDF: a Pipeline rasterizes pages first. A request with a schema sets
// response_format json_schema, strict where the schema allows it
// (StrictSchema).
type OpenAI struct {
	caller
	sdk openai.Client
}

var _ Client = (*OpenAI)(nil)

// NewOpenAI returns an OpenAI client.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	cfg.HTTP.setDefaults("https://api.openai.com/v1")
	if err := cfg.HTTP.validate(OpenAIName); err != nil {
		return nil, err
	}
	// The configuration is the one source: the key replaces the SDK's
	// OPENAI_API_KEY (an empty one too: a local server configured without
	// a key gets none), and the organization and project headers it would
	// take from OPENAI_ORG_ID and OPENAI_PROJECT_ID are dropped.
	opts := []option.RequestOption{option.WithBaseURL(cfg.HTTP.BaseURL), option.WithHTTPClient(cfg.HTTP.HTTPClient),
		option.WithMaxRetries(0), option.WithAPIKey(cfg.HTTP.APIKey),
		option.WithHeaderDel("OpenAI-Organization"), option.WithHeaderDel("OpenAI-Project")}
	return &OpenAI{caller: caller{name: OpenAIName, cfg: cfg.HTTP, apiError: openAIError}, sdk: openai.NewClient(opts...)}, nil
}

// Name returns "openai".
func (o *OpenAI) Name() string { return OpenAIName }

// AcceptsPDF returns false: pages are sent as images.
func (o *OpenAI) AcceptsPDF() bool { return false }

// Send makes a streamed Chat Completions call with retries, asking for the
// usage in the last chunk (stream_options.include_usage).
func (o *OpenAI) Send(ctx context.Context, r *Request) (*Response, error) {
	params, err := openAIParams(r)
	if err != nil {
		return nil, err
	}
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	return o.call(ctx, func(ctx context.Context) (*Response, error) { return o.stream(ctx, params) })
}

// openAIParams is r as a Chat Completions request, streamed or not.
func openAIParams(r *Request) (openai.ChatCompletionNewParams, error) {
	var msgs []openai.ChatCompletionMessageParamUnion
	if r.System != "" {
		msgs = append(msgs, openai.SystemMessage(r.System))
	}
	if len(r.Parts) == 0 {
		// A text-only call (combining page answers) as a plain string,
		// which every compatible server takes.
		msgs = append(msgs, openai.UserMessage(r.Prompt))
	} else {
		parts := []openai.ChatCompletionContentPartUnionParam{openai.TextContentPart(r.Prompt)}
		for _, p := range r.Parts {
			if !strings.HasPrefix(p.MIME, "image/") {
				return openai.ChatCompletionNewParams{}, fmt.Errorf("provider: openai takes images, not %s", p.MIME)
			}
			parts = append(parts, openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{
				URL: "data:" + p.MIME + ";base64," + base64.StdEncoding.EncodeToString(p.Data)}))
		}
		msgs = append(msgs, openai.UserMessage(parts))
	}
	params := openai.ChatCompletionNewParams{Model: openai.ChatModel(r.Model), Messages: msgs}
	if r.MaxTokens > 0 {
		params.MaxTokens = openai.Int(int64(r.MaxTokens))
	}
	if len(r.Schema) > 0 {
		schema, err := compactSchema(OpenAIName, r.Schema)
		if err != nil {
			return params, err
		}
		var s map[string]any
		if err := json.Unmarshal(schema, &s); err != nil {
			return params, fmt.Errorf("provider: openai: schema: %w", err)
		}
		// The schema goes as it is: strict mode writes the properties in
		// the schema's order.
		params.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: schemaName(r.SchemaName), Schema: schema,
				Strict: openai.Bool(StrictSchema(s))}}}
	}
	return params, nil
}

// stream makes one attempt and reads its chunks up to the end of the
// stream, which must have told why the answer ended (a finish_reason): a
// stream cut short is garbled.
func (o *OpenAI) stream(ctx context.Context, params openai.ChatCompletionNewParams) (*Response, error) {
	var raw *http.Response
	sent := time.Now()
	st := o.sdk.Chat.Completions.NewStreaming(ctx, params, option.WithResponseInto(&raw))
	defer st.Close()
	out := &Response{}
	var text strings.Builder
	for st.Next() {
		c := st.Current()
		if c.Model != "" {
			out.Model = c.Model
		}
		for _, ch := range c.Choices {
			if d := ch.Delta.Content; d != "" {
				if out.TTFB == 0 {
					out.TTFB = time.Since(sent)
				}
				text.WriteString(d)
			}
			if ch.FinishReason != "" {
				out.StopReason = ch.FinishReason
			}
		}
		if c.JSON.Usage.Valid() && (c.Usage.PromptTokens > 0 || c.Usage.CompletionTokens > 0) {
			out.InputTokens, out.OutputTokens, out.UsageReported = int(c.Usage.PromptTokens), int(c.Usage.CompletionTokens), true
		}
	}
	if err := st.Err(); err != nil {
		return nil, o.apiError(err, raw)
	}
	if out.StopReason == "" {
		return nil, fmt.Errorf("%w: openai stream ended before its finish_reason", errGarbled)
	}
	out.Text = text.String()
	if !out.UsageReported {
		// Some compatible servers send no usage: estimate it, so that
		// budgets and rate limits still see the call.
		out.OutputTokens = textTokens(out.Text)
	}
	return out, nil
}

// openAIError turns an error of the SDK into an *APIError when the provider
// answered: an error status with {"error":{"message","type","code"}} and
// Retry-After or the x-ratelimit-reset-* headers ("1s", "6m0s"), or an
// error object inside the stream.
func openAIError(err error, raw *http.Response) error {
	var se *ssestream.StreamError
	if errors.As(err, &se) {
		var b struct {
			Error struct {
				Message string `json:"message"`
				Type    string `json:"type"`
				Code    any    `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(se.Event.Data, &b)
		e := &APIError{Provider: OpenAIName, Type: b.Error.Type, Message: b.Error.Message}
		if b.Error.Code != nil {
			e.Code = fmt.Sprint(b.Error.Code)
		}
		if raw != nil {
			e.RequestID = raw.Header.Get("x-request-id")
		}
		return e
	}
	var oe *openai.Error
	if !errors.As(err, &oe) {
		return garbledOr(err)
	}
	e := &APIError{Provider: OpenAIName, Status: oe.StatusCode, Type: oe.Type, Code: oe.Code, Message: oe.Message}
	if e.Message == "" {
		e.Message = http.StatusText(oe.StatusCode)
	}
	if resp := oe.Response; resp != nil {
		e.RequestID = resp.Header.Get("x-request-id")
		e.RetryAfter = retryAfter(resp.Header, time.Now())
		if e.RetryAfter == 0 && oe.StatusCode == http.StatusTooManyRequests {
			for _, h := range []string{"x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"} {
				remaining := strings.Replace(h, "reset", "remaining", 1)
				if d, err := time.ParseDuration(resp.Header.Get(h)); err == nil &&
					(resp.Header.Get(remaining) == "" || resp.Header.Get(remaining) == "0") {
					e.RetryAfter = max(e.RetryAfter, d)
				}
			}
		}
	}
	return e
}

// strictRefused are the keywords OpenAI's strict mode refuses wherever
// they appear, from its "Supported schemas": composition other than anyOf,
// conditionals, and the object, string and array bounds it does not
// enforce.
var strictRefused = []string{"allOf", "oneOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas",
	"patternProperties", "propertyNames", "unevaluatedProperties", "unevaluatedItems", "minProperties", "maxProperties",
	"minLength", "maxLength", "contains", "minContains", "maxContains", "uniqueItems", "prefixItems"}

// StrictSchema reports whether OpenAI's strict structured outputs take the
// schema as it is. Its rules:
//
//   - the root is an object schema, not an anyOf;
//   - every object schema (one whose type is or includes "object", or that
//     has properties), nested ones too, under properties, items, anyOf,
//     $defs or definitions, has "additionalProperties": false and lists
//     every one of its properties in "required";
//   - every schema says what it is: a type, an anyOf, a $ref, an enum or
//     a const;
//   - none of strictRefused appears;
//   - objects nest at most 10 deep, with at most 5,000 properties and
//     1,000 enum values in all.
//
// In doubt it says no: mmq sends a schema that breaks a rule with strict
// false rather than rewriting it (a strict refusal is a 400), and
// validates every answer itself either way.
func StrictSchema(s map[string]any) bool {
	if !objectSchema(s) || s["anyOf"] != nil {
		return false
	}
	var w strictWalk
	return w.ok(s, 1) && w.props <= 5000 && w.enums <= 1000
}

// strictWalk checks a schema's nodes for StrictSchema, counting what its
// limits bound.
type strictWalk struct{ props, enums int }

func (w *strictWalk) ok(s map[string]any, depth int) bool {
	for _, k := range strictRefused {
		if _, has := s[k]; has {
			return false
		}
	}
	_, typed := s["type"]
	_, ref := s["$ref"]
	_, constant := s["const"]
	enum, enumerated := s["enum"].([]any)
	if !typed && !ref && !constant && !enumerated && s["anyOf"] == nil {
		return false
	}
	w.enums += len(enum)
	var subs []any
	if objectSchema(s) {
		props, _ := s["properties"].(map[string]any)
		required := map[string]bool{}
		rs, _ := s["required"].([]any)
		for _, r := range rs {
			if name, isName := r.(string); isName {
				required[name] = true
			}
		}
		if depth > 10 || s["additionalProperties"] != false {
			return false
		}
		for name, p := range props {
			if !required[name] || !w.child(p, depth+1) {
				return false
			}
		}
		w.props += len(props)
	}
	if items, has := s["items"]; has {
		subs = append(subs, items)
	}
	anyOf, _ := s["anyOf"].([]any)
	subs = append(subs, anyOf...)
	for _, k := range []string{"$defs", "definitions"} {
		defs, _ := s[k].(map[string]any)
		for _, d := range defs {
			subs = append(subs, d)
		}
	}
	for _, sub := range subs {
		if !w.child(sub, depth) {
			return false
		}
	}
	return true
}

// child checks a subschema, which must be an object (not true or false).
func (w *strictWalk) child(v any, depth int) bool {
	m, isSchema := v.(map[string]any)
	return isSchema && w.ok(m, depth)
}

// objectSchema reports whether s describes objects.
func objectSchema(s map[string]any) bool {
	if _, has := s["properties"]; has {
		return true
	}
	switch t := s["type"].(type) {
	case string:
		return t == "object"
	case []any:
		return slices.Contains(t, any("object"))
	}
	return false
}
