package provider

import (
	"context"
	"encoding/json"
	"time"

	"github.com/mmq/mmq/tasks"
)

// Analyzer turns one unit into a result. It has the method set of
// worker.Analyzer; the decorators of this package take and return it.
type Analyzer interface {
	Analyze(ctx context.Context, u tasks.Unit) (tasks.Analysis, error)
}

// Client sends one request to a model API. Anthropic and OpenAI implement
// it; a Pipeline puts the controls around it.
type Client interface {
	// Name is the provider's name in configuration and metrics.
	Name() string
	// AcceptsPDF reports whether Send takes a PDF part as it is; a
	// Pipeline rasterizes pages for a client that does not.
	AcceptsPDF() bool
	// Send makes the call, with the client's own retries. Its errors are
	// *tasks.Error with CodeProviderRefused (the provider rejected the
	// request: no retry can help) or CodeProviderFailed (down, overloaded,
	// rate limited or garbled after the retries), wrapping an *APIError
	// when the provider answered.
	Send(ctx context.Context, req *Request) (*Response, error)
}

// Request is one model call: a system prompt, a user prompt and the page or
// frame it is about.
type Request struct {
	Model  string
	System string
	Prompt string
	// Parts are the attachments, sent before the prompt.
	Parts []Part
	// MaxTokens bounds the answer.
	MaxTokens int
	// Schema, when set, is a JSON Schema (an object at the top) the answer
	// must follow; the client enforces it with the provider's structured
	// output feature (Anthropic: a forced tool whose input_schema it is;
	// OpenAI and compatible servers: response_format json_schema), and
	// Response.Text is then the answer's JSON. SchemaName names it there
	// (a-z, 0-9, _ and -, at most 64); defaults to "answer".
	Schema     json.RawMessage
	SchemaName string
}

// Part is one attachment of a Request.
type Part struct {
	// MIME is "application/pdf", "image/png" or "image/jpeg".
	MIME string
	Data []byte
}

// Response is what a Client got back.
type Response struct {
	Text string
	// Model is the model the provider says answered.
	Model      string
	StopReason string
	// InputTokens and OutputTokens are the provider's usage figures.
	// UsageReported is false when the provider sent none (some
	// OpenAI-compatible servers), and the counts are then estimates.
	InputTokens   int
	OutputTokens  int
	UsageReported bool
	// TTFB is the time from sending the answering request to its first
	// streamed token.
	TTFB time.Duration
	// Retries counts the attempts after the first.
	Retries int
	// LastError is the last error a retry got past, or nil.
	LastError error
}
