package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"

	"github.com/mmq/mmq/tasks"
)

// Batch APIs: half-price analysis for units that can wait (economy mode).
//
// A [Batcher] is a client's side of its provider's batch API: create a
// provider batch from prepared lines, read its status, stream its results,
// cancel it, list the recent ones. [Anthropic] speaks Message Batches
// (POST /v1/messages/batches), [OpenAI] the Batch API over an uploaded
// JSONL file (purpose batch, endpoint /v1/chat/completions, completion
// window 24h); both through their SDKs, with the SDKs' retries off.
//
// Retries: reading (status, results, list) and cancelling are idempotent
// and retried like any call. Creating is retried only on 429 and 529,
// which say the request was not taken: after a 5xx, a network error or a
// timeout the batch may exist at the provider, so the error goes back to
// the caller, which must reconcile with ListBatches (OpenAI batches carry
// the label in their metadata; Anthropic keeps none, and a batch is
// recognized there by its creation time and request count) before it
// creates again, or the same units would be billed twice.

// BatchLimits are a provider's limits on one batch.
type BatchLimits struct {
	// Requests is the most requests one batch takes.
	Requests int
	// Bytes bounds the batch's body: Anthropic's request, OpenAI's input
	// file.
	Bytes int64
}

// The vendors' documented limits.
var (
	// AnthropicBatchLimits: 100,000 requests or 256 MB per Message Batch.
	AnthropicBatchLimits = BatchLimits{Requests: 100_000, Bytes: 256 << 20}
	// OpenAIBatchLimits: 50,000 requests per batch, 200 MB per input file.
	OpenAIBatchLimits = BatchLimits{Requests: 50_000, Bytes: 200 << 20}
)

// Batcher is one provider's batch API. Its errors are *tasks.Error with
// CodeProviderRefused (the provider rejected the request) or
// CodeProviderFailed (down, overloaded or unreachable after the retries).
type Batcher interface {
	// Name is the provider's name.
	Name() string
	// Limits are the provider's limits on one batch.
	Limits() BatchLimits
	// Size returns the bytes lines make as the provider's batch body, to
	// hold them within Limits before CreateBatch.
	Size(lines []tasks.BatchLine) int64
	// CreateBatch creates a provider batch of lines (at most
	// Limits().Requests lines, Size at most Limits().Bytes), streaming
	// the body. label names it where the provider keeps metadata. A
	// failure that may have created the batch anyway is not retried (see
	// the package's notes on batches): reconcile with ListBatches.
	CreateBatch(ctx context.Context, label string, lines []tasks.BatchLine) (tasks.ProviderBatch, error)
	// Batch returns a provider batch's status.
	Batch(ctx context.Context, id string) (tasks.ProviderBatch, error)
	// BatchResults streams an ended batch's results, one call of fn per
	// request, in the provider's order, never holding more than one line
	// in memory. An error of fn stops the stream and is returned. A stream
	// broken in the middle is not resumed: fn must take an outcome it has
	// seen before (the caller imports idempotently).
	BatchResults(ctx context.Context, id string, fn func(tasks.BatchOutcome) error) error
	// CancelBatch asks the provider to stop a batch; it ends canceling,
	// then ended, its unprocessed requests canceled.
	CancelBatch(ctx context.Context, id string) (tasks.ProviderBatch, error)
	// ListBatches returns the provider's most recent batches, newest
	// first, at most limit of them.
	ListBatches(ctx context.Context, limit int) ([]tasks.ProviderBatch, error)
}

var (
	_ Batcher = (*Anthropic)(nil)
	_ Batcher = (*OpenAI)(nil)
)

// customIDRE is both vendors' rule for a custom_id.
var customIDRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// checkLines refuses a batch the provider would refuse as a whole, before
// anything is sent: no lines, too many, a custom_id it does not take or
// takes twice, a body that is not a JSON object, or too many bytes.
func checkLines(name string, lines []tasks.BatchLine, limits BatchLimits, size int64) error {
	if len(lines) == 0 {
		return tasks.Errorf(tasks.CodeInvalidRequest, "%s: a batch needs at least one request", name)
	}
	if len(lines) > limits.Requests {
		return tasks.Errorf(tasks.CodeInvalidRequest, "%s: %d requests in one batch, more than its %d", name, len(lines), limits.Requests)
	}
	if size > limits.Bytes {
		return tasks.Errorf(tasks.CodeInvalidRequest, "%s: a batch of %d bytes, more than its %d", name, size, limits.Bytes)
	}
	seen := make(map[string]struct{}, len(lines))
	for i, l := range lines {
		if !customIDRE.MatchString(l.CustomID) {
			return tasks.Errorf(tasks.CodeInvalidRequest, "%s: request %d: custom_id %q: want 1 to 64 of a-z, A-Z, 0-9, _ and -", name, i, l.CustomID)
		}
		if _, dup := seen[l.CustomID]; dup {
			return tasks.Errorf(tasks.CodeInvalidRequest, "%s: custom_id %q appears twice", name, l.CustomID)
		}
		seen[l.CustomID] = struct{}{}
		if len(l.Body) == 0 || l.Body[0] != '{' {
			return tasks.Errorf(tasks.CodeInvalidRequest, "%s: request %s: the body is not a JSON object", name, l.CustomID)
		}
	}
	return nil
}

// lineFormat is how a provider writes one request of a batch: head, the
// custom_id, mid, the body, tail. A custom_id needs no JSON escaping
// (customIDRE).
type lineFormat struct {
	head, mid, tail string
}

func (f lineFormat) size(l tasks.BatchLine) int64 {
	return int64(len(f.head) + len(l.CustomID) + len(f.mid) + len(l.Body) + len(f.tail))
}

// linesReader reads a batch body line by line as it is sent: open, the
// lines separated by sep, close. It holds one line's framing at a time,
// never the whole body.
type linesReader struct {
	open, sep, close string
	format           lineFormat
	lines            []tasks.BatchLine
	next             int
	pending          [][]byte
	opened, closed   bool
}

// bodySize is the size of what a linesReader of the same fields reads.
func bodySize(open, sep, close string, f lineFormat, lines []tasks.BatchLine) int64 {
	n := int64(len(open) + len(close))
	for i, l := range lines {
		if i > 0 {
			n += int64(len(sep))
		}
		n += f.size(l)
	}
	return n
}

func (r *linesReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.pending) == 0 && !r.fill() {
			break
		}
		c := copy(p[n:], r.pending[0])
		n += c
		if r.pending[0] = r.pending[0][c:]; len(r.pending[0]) == 0 {
			r.pending = r.pending[1:]
		}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// fill queues the next piece of the body; false at its end.
func (r *linesReader) fill() bool {
	switch {
	case !r.opened:
		r.opened = true
		r.pending = append(r.pending, []byte(r.open))
	case r.next < len(r.lines):
		l := r.lines[r.next]
		if r.next > 0 {
			r.pending = append(r.pending, []byte(r.sep))
		}
		r.next++
		r.pending = append(r.pending, []byte(r.format.head), []byte(l.CustomID), []byte(r.format.mid), l.Body, []byte(r.format.tail))
	case !r.closed:
		r.closed = true
		r.pending = append(r.pending, []byte(r.close))
	default:
		return false
	}
	return true
}

// createRetryable is what creating a batch may retry: a 429 or 529, which
// say the batch was not created. Anything else may have created it.
func createRetryable(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.Status == http.StatusTooManyRequests || ae.Status == 529)
}

// outcomeError is the error of an errored request: refused when the
// provider says the request is invalid, failed otherwise.
func outcomeError(name string, status int, typ, msg string) *tasks.Error {
	code := tasks.CodeProviderFailed
	if typ == "invalid_request_error" || (status >= 400 && status < 500 && status != http.StatusTooManyRequests && status != http.StatusRequestTimeout) {
		code = tasks.CodeProviderRefused
	}
	m := name
	if status != 0 {
		m += fmt.Sprintf(": HTTP %d", status)
	}
	if typ != "" {
		m += ": " + typ
	}
	if msg != "" {
		m += ": " + msg
	}
	return tasks.Errorf(code, "%s", m)
}
