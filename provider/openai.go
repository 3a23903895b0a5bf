package provider

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
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
// with the page or frame as an image_url data URI. It takes no PDF: a
// Pipeline rasterizes pages first.
type OpenAI struct {
	caller
}

var _ Client = (*OpenAI)(nil)

// NewOpenAI returns an OpenAI client.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	cfg.HTTP.setDefaults("https://api.openai.com/v1")
	if err := cfg.HTTP.validate(OpenAIName); err != nil {
		return nil, err
	}
	return &OpenAI{caller{name: OpenAIName, cfg: cfg.HTTP, parseError: openAIError}}, nil
}

// Name returns "openai".
func (o *OpenAI) Name() string { return OpenAIName }

// AcceptsPDF returns false: pages are sent as images.
func (o *OpenAI) AcceptsPDF() bool { return false }

// Chat Completions request, the parts mmq sends.
type (
	openAIRequest struct {
		Model         string          `json:"model"`
		Messages      []openAIMessage `json:"messages"`
		MaxTokens     int             `json:"max_tokens,omitempty"`
		Stream        bool            `json:"stream"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options,omitempty"`
	}
	openAIMessage struct {
		Role string `json:"role"`
		// Content is a string for the system message, parts for the user's.
		Content any `json:"content"`
	}
	openAIPart struct {
		Type     string          `json:"type"`
		Text     string          `json:"text,omitempty"`
		ImageURL *openAIImageURL `json:"image_url,omitempty"`
	}
	openAIImageURL struct {
		URL    string `json:"url"`
		Detail string `json:"detail,omitempty"`
	}
)

// Streamed chunks, the fields mmq reads.
type (
	openAIChunk struct {
		Model   string `json:"model"`
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
		Usage *struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
		Error *openAIErrorDetail `json:"error"`
	}
	openAIErrorDetail struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    any    `json:"code"`
	}
)

// Send makes a streamed Chat Completions call with retries, asking for the
// usage in the last chunk (stream_options.include_usage).
func (o *OpenAI) Send(ctx context.Context, r *Request) (*Response, error) {
	parts := []openAIPart{{Type: "text", Text: r.Prompt}}
	for _, p := range r.Parts {
		if !strings.HasPrefix(p.MIME, "image/") {
			return nil, fmt.Errorf("provider: openai takes images, not %s", p.MIME)
		}
		parts = append(parts, openAIPart{Type: "image_url", ImageURL: &openAIImageURL{
			URL: "data:" + p.MIME + ";base64," + base64.StdEncoding.EncodeToString(p.Data),
		}})
	}
	var msgs []openAIMessage
	if r.System != "" {
		msgs = append(msgs, openAIMessage{Role: "system", Content: r.System})
	}
	msgs = append(msgs, openAIMessage{Role: "user", Content: parts})
	req := openAIRequest{Model: r.Model, Messages: msgs, MaxTokens: r.MaxTokens, Stream: true}
	req.StreamOptions = &struct {
		IncludeUsage bool `json:"include_usage"`
	}{true}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("provider: openai: encode request: %w", err)
	}
	newReq := func(ctx context.Context) (*http.Request, error) {
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, o.cfg.BaseURL+"/chat/completions", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		hr.Header.Set("Content-Type", "application/json")
		hr.Header.Set("Accept", "text/event-stream")
		if o.cfg.APIKey != "" {
			hr.Header.Set("Authorization", "Bearer "+o.cfg.APIKey)
		}
		return hr, nil
	}
	return o.call(ctx, newReq, o.readStream)
}

// readStream reads "data:" chunks up to "data: [DONE]".
func (o *OpenAI) readStream(resp *http.Response, sent time.Time) (*Response, error) {
	out := &Response{}
	var text strings.Builder
	sr := newSSEReader(resp.Body)
	for {
		ev, err := sr.next()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: openai stream ended before [DONE]", errGarbled)
		}
		if err != nil {
			return nil, err
		}
		if string(bytes.TrimSpace(ev.Data)) == "[DONE]" {
			out.Text = text.String()
			if !out.UsageReported {
				// Some compatible servers send no usage: estimate it, so
				// that budgets and rate limits still see the call.
				out.OutputTokens = textTokens(out.Text)
			}
			return out, nil
		}
		var c openAIChunk
		if err := json.Unmarshal(ev.Data, &c); err != nil {
			return nil, fmt.Errorf("%w: openai chunk: %v", errGarbled, err)
		}
		if c.Error != nil {
			return nil, &APIError{Provider: OpenAIName, Type: c.Error.Type, Code: fmt.Sprint(c.Error.Code),
				Message: c.Error.Message, RequestID: resp.Header.Get("x-request-id")}
		}
		if c.Model != "" {
			out.Model = c.Model
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != "" {
				if out.TTFB == 0 {
					out.TTFB = time.Since(sent)
				}
				text.WriteString(ch.Delta.Content)
			}
			if ch.FinishReason != nil {
				out.StopReason = *ch.FinishReason
			}
		}
		if c.Usage != nil {
			out.InputTokens, out.OutputTokens, out.UsageReported = c.Usage.PromptTokens, c.Usage.CompletionTokens, true
		}
	}
}

// openAIError reads an error response: {"error":{"message","type","code"}},
// with Retry-After or the x-ratelimit-reset-* headers ("1s", "6m0s").
func openAIError(resp *http.Response, body []byte) *APIError {
	e := &APIError{Provider: OpenAIName, Status: resp.StatusCode, RequestID: resp.Header.Get("x-request-id")}
	var b struct {
		Error *openAIErrorDetail `json:"error"`
	}
	if json.Unmarshal(body, &b) == nil && b.Error != nil {
		e.Type, e.Message = b.Error.Type, b.Error.Message
		if b.Error.Code != nil {
			e.Code = fmt.Sprint(b.Error.Code)
		}
	} else {
		e.Message = http.StatusText(resp.StatusCode)
	}
	e.RetryAfter = retryAfter(resp.Header, time.Now())
	if e.RetryAfter == 0 && resp.StatusCode == http.StatusTooManyRequests {
		for _, h := range []string{"x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"} {
			remaining := strings.Replace(h, "reset", "remaining", 1)
			if d, err := time.ParseDuration(resp.Header.Get(h)); err == nil &&
				(resp.Header.Get(remaining) == "" || resp.Header.Get(remaining) == "0") {
				e.RetryAfter = max(e.RetryAfter, d)
			}
		}
	}
	return e
}
