package provider

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/param"
)

// AnthropicName is the name of the Anthropic provider.
const AnthropicName = "anthropic"

// AnthropicConfig configures an Anthropic client.
type AnthropicConfig struct {
	// HTTP holds the base URL (defaults to "https://api.anthropic.com"),
	// the API key (required) and the retry policy.
	HTTP HTTPConfig
}

// Anthropic calls the Messages API (POST /v1/messages), streaming, through
// the official SDK (github.com/anthropics/anthropic-sdk-go/v2) with its own
// retries off: mmq's retry policy (caller) decides. A PDF page goes as a
// document block, a frame as an image block, both base64, before the
// prompt's text block. A request with a schema declares one tool whose
// input_schema it is and forces it with tool_choice; the answer is the
// tool's input.
type Anthropic struct {
	caller
	sdk anthropic.Client
}

var _ Client = (*Anthropic)(nil)

// NewAnthropic returns an Anthropic client.
func NewAnthropic(cfg AnthropicConfig) (*Anthropic, error) {
	cfg.HTTP.setDefaults("https://api.anthropic.com")
	if err := cfg.HTTP.validate(AnthropicName); err != nil {
		return nil, err
	}
	if cfg.HTTP.APIKey == "" {
		return nil, errors.New("provider: anthropic needs an API key (providers.anthropic.api_key or ANTHROPIC_API_KEY)")
	}
	// The key goes in x-api-key, the header the Messages API documents
	// (the SDK's option.WithAPIKey sends it as a bearer token). The
	// configuration is the one source: without WithoutEnvironmentDefaults
	// the SDK would add a credential of its own from ANTHROPIC_API_KEY,
	// ANTHROPIC_AUTH_TOKEN or a profile on disk, and ANTHROPIC_CUSTOM_HEADERS.
	sdk := anthropic.NewClient(option.WithoutEnvironmentDefaults(), option.WithBaseURL(cfg.HTTP.BaseURL),
		option.WithHeader("X-Api-Key", cfg.HTTP.APIKey), option.WithHTTPClient(cfg.HTTP.HTTPClient), option.WithMaxRetries(0))
	return &Anthropic{caller: caller{name: AnthropicName, cfg: cfg.HTTP, apiError: anthropicError}, sdk: sdk}, nil
}

// Name returns "anthropic".
func (a *Anthropic) Name() string { return AnthropicName }

// AcceptsPDF returns true: Claude reads PDF pages itself.
func (a *Anthropic) AcceptsPDF() bool { return true }

// Send makes a streamed Messages call with retries.
func (a *Anthropic) Send(ctx context.Context, r *Request) (*Response, error) {
	params, err := anthropicParams(r)
	if err != nil {
		return nil, err
	}
	return a.call(ctx, func(ctx context.Context) (*Response, error) { return a.stream(ctx, params) })
}

func anthropicParams(r *Request) (anthropic.MessageNewParams, error) {
	blocks := make([]anthropic.ContentBlockParamUnion, 0, len(r.Parts)+1)
	for _, p := range r.Parts {
		data := base64.StdEncoding.EncodeToString(p.Data)
		if p.MIME == "application/pdf" {
			blocks = append(blocks, anthropic.NewDocumentBlock(anthropic.Base64PDFSourceParam{Data: data}))
		} else {
			blocks = append(blocks, anthropic.NewImageBlockBase64(p.MIME, data))
		}
	}
	blocks = append(blocks, anthropic.NewTextBlock(r.Prompt))
	params := anthropic.MessageNewParams{
		Model:     anthropic.Model(r.Model),
		MaxTokens: int64(r.MaxTokens),
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(blocks...)},
	}
	if r.System != "" {
		params.System = []anthropic.TextBlockParam{{Text: r.System}}
	}
	if len(r.Schema) > 0 {
		schema, err := compactSchema(AnthropicName, r.Schema)
		if err != nil {
			return params, err
		}
		// The schema goes as it is, its properties in their order, which
		// is the order the model writes them in.
		name := schemaName(r.SchemaName)
		params.Tools = []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: name, Description: anthropic.String("Record the answer."),
			InputSchema: param.Override[anthropic.ToolInputSchemaParam](schema)}}}
		params.ToolChoice = anthropic.ToolChoiceParamOfTool(name)
	}
	return params, nil
}

// compactSchema returns a Request's schema compacted, after checking that it
// is a JSON object.
func compactSchema(provider string, schema json.RawMessage) (json.RawMessage, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, schema); err != nil {
		return nil, fmt.Errorf("provider: %s: schema: %w", provider, err)
	}
	if b.Len() == 0 || b.Bytes()[0] != '{' {
		return nil, fmt.Errorf("provider: %s: schema: not a JSON object", provider)
	}
	return b.Bytes(), nil
}

// schemaName is a Request's SchemaName or the default.
func schemaName(n string) string {
	if n == "" {
		return "answer"
	}
	return n
}

// stream makes one attempt and reads its events: message_start,
// content_block_start and _delta (text, or the forced tool's input JSON),
// message_delta and message_stop; an error event is an *APIError.
func (a *Anthropic) stream(ctx context.Context, params anthropic.MessageNewParams) (*Response, error) {
	var raw *http.Response
	sent := time.Now()
	st := a.sdk.Messages.NewStreaming(ctx, params, option.WithResponseInto(&raw))
	defer st.Close()
	out := &Response{UsageReported: true}
	tool := len(params.Tools) > 0
	var text strings.Builder
	// startInput is the tool input content_block_start carried: the
	// answer when no input_json_delta follows it.
	var startInput string
	for st.Next() {
		e := st.Current()
		switch e.Type {
		case "message_start":
			out.Model = e.Message.Model
			u := e.Message.Usage
			out.InputTokens = int(u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens)
			out.OutputTokens = int(u.OutputTokens)
		case "content_block_start":
			if tool && e.ContentBlock.Type == "tool_use" {
				startInput = e.ContentBlock.JSON.Input.Raw()
			}
		case "content_block_delta":
			// With a forced tool the answer is its input; text around it,
			// if a model wrote any, is not.
			var d string
			switch {
			case !tool && e.Delta.Type == "text_delta":
				d = e.Delta.Text
			case tool && e.Delta.Type == "input_json_delta":
				d = e.Delta.PartialJSON
			}
			if d != "" {
				if out.TTFB == 0 {
					out.TTFB = time.Since(sent)
				}
				text.WriteString(d)
			}
		case "message_delta":
			out.StopReason = string(e.Delta.StopReason)
			// message_delta's usage is cumulative.
			u := e.Usage
			out.OutputTokens = int(u.OutputTokens)
			if in := u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens; in > 0 {
				out.InputTokens = int(in)
			}
		case "message_stop":
			out.Text = text.String()
			if tool {
				out.Text = compactJSON(cmpOr(out.Text, startInput))
			}
			return out, nil
		}
	}
	if err := st.Err(); err != nil {
		return nil, a.apiError(err, raw)
	}
	return nil, fmt.Errorf("%w: anthropic stream ended before message_stop", errGarbled)
}

// compactJSON returns s compacted when it is JSON, else as it is.
func compactJSON(s string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return s
	}
	return b.String()
}

// anthropicError turns an error of the SDK into an *APIError when the
// provider answered: an error status with {"type":"error","error":{"type",
// "message"}} and Retry-After or the anthropic-ratelimit-*-reset headers,
// or an error event inside the stream. Other errors (network, a garbled
// event) pass through; a JSON decoding error is errGarbled.
func anthropicError(err error, raw *http.Response) error {
	var ae *anthropic.Error
	if !errors.As(err, &ae) {
		return garbledOr(err)
	}
	e := &APIError{Provider: AnthropicName, Status: ae.StatusCode, Type: string(ae.Type()), Message: ae.Message, RequestID: ae.RequestID}
	if e.Status/100 == 2 {
		// An error event inside a 200 stream: its type says what it is.
		e.Status = 0
	}
	resp := ae.Response
	if resp == nil {
		resp = raw
	}
	if resp != nil {
		e.RequestID = cmpOr(e.RequestID, resp.Header.Get("request-id"))
		if e.Status != 0 {
			now := time.Now()
			e.RetryAfter = retryAfter(resp.Header, now)
			if e.RetryAfter == 0 && ae.StatusCode == http.StatusTooManyRequests {
				e.RetryAfter = anthropicReset(resp.Header, now)
			}
		}
	}
	if e.Message == "" && e.Status != 0 {
		e.Message = http.StatusText(e.Status)
	}
	return e
}

// anthropicReset returns the latest reset time among the rate limits that
// are exhausted (remaining 0), or among all of them when none says so.
func anthropicReset(h http.Header, now time.Time) time.Duration {
	var exhausted, any time.Duration
	for _, limit := range []string{"requests", "tokens", "input-tokens", "output-tokens"} {
		v := h.Get("anthropic-ratelimit-" + limit + "-reset")
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			continue
		}
		d := max(t.Sub(now), 0)
		any = max(any, d)
		if h.Get("anthropic-ratelimit-"+limit+"-remaining") == "0" {
			exhausted = max(exhausted, d)
		}
	}
	if exhausted > 0 {
		return exhausted
	}
	return any
}
