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
	// The key goes in x-api-key, the header the Messages API documents; a
	// request carrying it gets no other credential from the SDK's chain
	// (ANTHROPIC_API_KEY, auth tokens).
	sdk := anthropic.NewClient(option.WithBaseURL(cfg.HTTP.BaseURL), option.WithHeader("X-Api-Key", cfg.HTTP.APIKey),
		option.WithHTTPClient(cfg.HTTP.HTTPClient), option.WithMaxRetries(0))
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
		var s map[string]any
		if err := json.Unmarshal(r.Schema, &s); err != nil {
			return params, fmt.Errorf("provider: anthropic: schema: %w", err)
		}
		in := anthropic.ToolInputSchemaParam{Properties: s["properties"]}
		if req, ok := s["required"].([]any); ok {
			for _, v := range req {
				if name, ok := v.(string); ok {
					in.Required = append(in.Required, name)
				}
			}
		}
		delete(s, "properties")
		delete(s, "required")
		delete(s, "type")
		in.ExtraFields = s
		name := schemaName(r.SchemaName)
		params.Tools = []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
			Name: name, Description: anthropic.String("Record the answer."), InputSchema: in}}}
		params.ToolChoice = anthropic.ToolChoiceParamOfTool(name)
	}
	return params, nil
}

// schemaName is a Request's SchemaName or the default.
func schemaName(n string) string {
	if n == "" {
		return "answer"
	}
	return n
}

// stream makes one attempt and reads its events: message_start,
// content_block_delta (text or tool input JSON), message_delta and
// message_stop; an error event is an *APIError.
func (a *Anthropic) stream(ctx context.Context, params anthropic.MessageNewParams) (*Response, error) {
	var raw *http.Response
	sent := time.Now()
	st := a.sdk.Messages.NewStreaming(ctx, params, option.WithResponseInto(&raw))
	defer st.Close()
	out := &Response{UsageReported: true}
	var text strings.Builder
	for st.Next() {
		e := st.Current()
		switch e.Type {
		case "message_start":
			out.Model = e.Message.Model
			u := e.Message.Usage
			out.InputTokens = int(u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens)
			out.OutputTokens = int(u.OutputTokens)
		case "content_block_delta":
			var d string
			switch e.Delta.Type {
			case "text_delta":
				d = e.Delta.Text
			case "input_json_delta":
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
			if len(params.Tools) > 0 {
				out.Text = compactJSON(out.Text)
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
