package provider

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// AnthropicName is the name of the Anthropic provider.
const AnthropicName = "anthropic"

// AnthropicVersion is the API version sent in the anthropic-version header.
const AnthropicVersion = "2023-06-01"

// AnthropicConfig configures an Anthropic client.
type AnthropicConfig struct {
	// HTTP holds the base URL (defaults to "https://api.anthropic.com"),
	// the API key (required) and the retry policy.
	HTTP HTTPConfig
}

// Anthropic calls the Messages API (POST /v1/messages), streaming. A PDF
// page goes as a document block, a frame as an image block, both base64,
// before the prompt's text block.
type Anthropic struct {
	caller
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
	return &Anthropic{caller{name: AnthropicName, cfg: cfg.HTTP, parseError: anthropicError}}, nil
}

// Name returns "anthropic".
func (a *Anthropic) Name() string { return AnthropicName }

// AcceptsPDF returns true: Claude reads PDF pages itself.
func (a *Anthropic) AcceptsPDF() bool { return true }

// Messages API request, the parts mmq sends.
type (
	anthropicRequest struct {
		Model     string             `json:"model"`
		MaxTokens int                `json:"max_tokens"`
		System    string             `json:"system,omitempty"`
		Messages  []anthropicMessage `json:"messages"`
		Stream    bool               `json:"stream"`
	}
	anthropicMessage struct {
		Role    string           `json:"role"`
		Content []anthropicBlock `json:"content"`
	}
	anthropicBlock struct {
		Type   string           `json:"type"`
		Text   string           `json:"text,omitempty"`
		Source *anthropicSource `json:"source,omitempty"`
	}
	anthropicSource struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
	}
)

// Streamed events, the fields mmq reads.
type (
	anthropicUsage struct {
		InputTokens              int `json:"input_tokens"`
		OutputTokens             int `json:"output_tokens"`
		CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	}
	anthropicEvent struct {
		Type    string `json:"type"`
		Message struct {
			Model string         `json:"model"`
			Usage anthropicUsage `json:"usage"`
		} `json:"message"`
		Delta struct {
			Type       string `json:"type"`
			Text       string `json:"text"`
			StopReason string `json:"stop_reason"`
		} `json:"delta"`
		Usage *anthropicUsage      `json:"usage"`
		Error anthropicErrorDetail `json:"error"`
	}
	anthropicErrorDetail struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
)

// Send makes a streamed Messages call with retries.
func (a *Anthropic) Send(ctx context.Context, r *Request) (*Response, error) {
	content := make([]anthropicBlock, 0, len(r.Parts)+1)
	for _, p := range r.Parts {
		typ := "image"
		if p.MIME == "application/pdf" {
			typ = "document"
		}
		content = append(content, anthropicBlock{Type: typ, Source: &anthropicSource{
			Type: "base64", MediaType: p.MIME, Data: base64.StdEncoding.EncodeToString(p.Data),
		}})
	}
	content = append(content, anthropicBlock{Type: "text", Text: r.Prompt})
	body, err := json.Marshal(anthropicRequest{
		Model:     r.Model,
		MaxTokens: r.MaxTokens,
		System:    r.System,
		Messages:  []anthropicMessage{{Role: "user", Content: content}},
		Stream:    true,
	})
	if err != nil {
		return nil, fmt.Errorf("provider: anthropic: encode request: %w", err)
	}
	newReq := func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.BaseURL+"/v1/messages", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("content-type", "application/json")
		req.Header.Set("accept", "text/event-stream")
		req.Header.Set("x-api-key", a.cfg.APIKey)
		req.Header.Set("anthropic-version", AnthropicVersion)
		return req, nil
	}
	return a.call(ctx, newReq, a.readStream)
}

// readStream reads message_start, content_block_delta, message_delta and
// message_stop events; an error event is an *APIError.
func (a *Anthropic) readStream(resp *http.Response, sent time.Time) (*Response, error) {
	out := &Response{UsageReported: true}
	var text strings.Builder
	sr := newSSEReader(resp.Body)
	for {
		ev, err := sr.next()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: anthropic stream ended before message_stop", errGarbled)
		}
		if err != nil {
			return nil, err
		}
		var e anthropicEvent
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return nil, fmt.Errorf("%w: anthropic %s event: %v", errGarbled, ev.Event, err)
		}
		switch e.Type {
		case "message_start":
			out.Model = e.Message.Model
			u := e.Message.Usage
			out.InputTokens = u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
			out.OutputTokens = u.OutputTokens
		case "content_block_delta":
			if e.Delta.Type == "text_delta" {
				if out.TTFB == 0 {
					out.TTFB = time.Since(sent)
				}
				text.WriteString(e.Delta.Text)
			}
		case "message_delta":
			out.StopReason = e.Delta.StopReason
			if e.Usage != nil {
				// message_delta's usage is cumulative.
				out.OutputTokens = e.Usage.OutputTokens
				if in := e.Usage.InputTokens + e.Usage.CacheCreationInputTokens + e.Usage.CacheReadInputTokens; in > 0 {
					out.InputTokens = in
				}
			}
		case "message_stop":
			out.Text = text.String()
			return out, nil
		case "error":
			return nil, &APIError{Provider: AnthropicName, Type: e.Error.Type, Message: e.Error.Message,
				RequestID: resp.Header.Get("request-id")}
		}
	}
}

// anthropicError reads an error response: {"type":"error","error":{"type",
// "message"}}, with Retry-After or the anthropic-ratelimit-*-reset headers.
func anthropicError(resp *http.Response, body []byte) *APIError {
	e := &APIError{Provider: AnthropicName, Status: resp.StatusCode, RequestID: resp.Header.Get("request-id")}
	var b struct {
		Error anthropicErrorDetail `json:"error"`
	}
	if json.Unmarshal(body, &b) == nil && b.Error.Type != "" {
		e.Type, e.Message = b.Error.Type, b.Error.Message
	} else {
		e.Message = http.StatusText(resp.StatusCode)
	}
	now := time.Now()
	e.RetryAfter = retryAfter(resp.Header, now)
	if e.RetryAfter == 0 && resp.StatusCode == http.StatusTooManyRequests {
		e.RetryAfter = anthropicReset(resp.Header, now)
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
