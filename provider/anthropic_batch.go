package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/jsonl"

	"github.com/mmq/mmq/tasks"
)

// anthropicAPI is the base URL of the real Messages API, whose Message
// Batches economy mode uses when the configuration says auto.
const anthropicAPI = "https://api.anthropic.com"

// anthropicLine frames one request of a Message Batch:
// {"custom_id":"…","params":{…}}.
var anthropicLine = lineFormat{head: `{"custom_id":"`, mid: `","params":`, tail: `}`}

// Limits returns Anthropic's limits on a Message Batch.
func (a *Anthropic) Limits() BatchLimits { return AnthropicBatchLimits }

// Size returns the bytes of the Message Batch request lines make.
func (a *Anthropic) Size(lines []tasks.BatchLine) int64 {
	return bodySize(`{"requests":[`, ",", "]}", anthropicLine, lines)
}

// CreateBatch creates a Message Batch (POST /v1/messages/batches), the
// request body streamed from lines. label is not sent: Message Batches
// keep no metadata. The attempt is bounded by ctx alone (a body of up to
// 256 MB may take longer than one call's timeout).
func (a *Anthropic) CreateBatch(ctx context.Context, _ string, lines []tasks.BatchLine) (tasks.ProviderBatch, error) {
	if err := checkLines(AnthropicName, lines, AnthropicBatchLimits, a.Size(lines)); err != nil {
		return tasks.ProviderBatch{}, err
	}
	var b *anthropic.MessageBatch
	_, _, err := a.do(ctx, 0, createRetryable, func(ctx context.Context) (err error) {
		var raw *http.Response
		body := &linesReader{open: `{"requests":[`, sep: ",", close: "]}", format: anthropicLine, lines: lines}
		// The SDK's params would marshal every request into one []byte:
		// the body replaces them, read as it is sent.
		b, err = a.sdk.Messages.Batches.New(ctx, anthropic.MessageBatchNewParams{},
			option.WithRequestBody("application/json", body), option.WithResponseInto(&raw))
		if err != nil {
			return a.apiError(err, raw)
		}
		return nil
	})
	if err != nil {
		return tasks.ProviderBatch{}, err
	}
	return anthropicBatch(b), nil
}

// Batch returns a Message Batch's status (GET /v1/messages/batches/{id}).
func (a *Anthropic) Batch(ctx context.Context, id string) (tasks.ProviderBatch, error) {
	return a.batchCall(ctx, func(ctx context.Context, opts ...option.RequestOption) (*anthropic.MessageBatch, error) {
		return a.sdk.Messages.Batches.Get(ctx, id, anthropic.MessageBatchGetParams{}, opts...)
	})
}

// CancelBatch cancels a Message Batch (POST /v1/messages/batches/{id}/cancel).
func (a *Anthropic) CancelBatch(ctx context.Context, id string) (tasks.ProviderBatch, error) {
	return a.batchCall(ctx, func(ctx context.Context, opts ...option.RequestOption) (*anthropic.MessageBatch, error) {
		return a.sdk.Messages.Batches.Cancel(ctx, id, anthropic.MessageBatchCancelParams{}, opts...)
	})
}

// batchCall makes an idempotent call that returns a batch, with retries.
func (a *Anthropic) batchCall(ctx context.Context, call func(context.Context, ...option.RequestOption) (*anthropic.MessageBatch, error)) (tasks.ProviderBatch, error) {
	var b *anthropic.MessageBatch
	_, _, err := a.do(ctx, a.cfg.Timeout, anyTransient, func(ctx context.Context) (err error) {
		var raw *http.Response
		if b, err = call(ctx, option.WithResponseInto(&raw)); err != nil {
			return a.apiError(err, raw)
		}
		return nil
	})
	if err != nil {
		return tasks.ProviderBatch{}, err
	}
	return anthropicBatch(b), nil
}

// ListBatches returns the most recent Message Batches, newest first
// (GET /v1/messages/batches, a page of up to 1,000 at a time).
func (a *Anthropic) ListBatches(ctx context.Context, limit int) ([]tasks.ProviderBatch, error) {
	var out []tasks.ProviderBatch
	after := ""
	for len(out) < limit {
		params := anthropic.MessageBatchListParams{Limit: anthropic.Int(int64(min(limit-len(out), 1000)))}
		if after != "" {
			params.AfterID = anthropic.String(after)
		}
		var page []anthropic.MessageBatch
		var more bool
		_, _, err := a.do(ctx, a.cfg.Timeout, anyTransient, func(ctx context.Context) error {
			var raw *http.Response
			p, err := a.sdk.Messages.Batches.List(ctx, params, option.WithResponseInto(&raw))
			if err != nil {
				return a.apiError(err, raw)
			}
			page, more = p.Data, p.HasMore
			return nil
		})
		if err != nil {
			return nil, err
		}
		for i := range page {
			out = append(out, anthropicBatch(&page[i]))
		}
		if !more || len(page) == 0 {
			break
		}
		after = page[len(page)-1].ID
	}
	return out, nil
}

// BatchResults streams an ended Message Batch's results
// (GET /v1/messages/batches/{id}/results, the results_url, JSONL). Opening
// the stream is retried; reading it is bounded by ctx alone.
func (a *Anthropic) BatchResults(ctx context.Context, id string, fn func(tasks.BatchOutcome) error) error {
	var st *jsonl.Stream[anthropic.MessageBatchIndividualResponse]
	_, _, err := a.do(ctx, 0, anyTransient, func(_ context.Context) error {
		var raw *http.Response
		st = a.sdk.Messages.Batches.ResultsStreaming(ctx, id, anthropic.MessageBatchResultsParams{}, option.WithResponseInto(&raw))
		if err := st.Err(); err != nil {
			_ = st.Close()
			return a.apiError(err, raw)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer st.Close()
	for st.Next() {
		r := st.Current()
		o := tasks.BatchOutcome{CustomID: r.CustomID, Result: r.Result.Type}
		switch r.Result.Type {
		case tasks.BatchSucceeded:
			o.Response = json.RawMessage(r.Result.Message.RawJSON())
		case tasks.BatchErrored:
			e := r.Result.Error.Error
			o.Err = outcomeError(AnthropicName, 0, e.Type, e.Message)
		case tasks.BatchCanceled, tasks.BatchExpired:
		default:
			return tasks.Errorf(tasks.CodeProviderFailed, "anthropic: batch %s: result of %s has unknown type %q", id, r.CustomID, r.Result.Type)
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	if err := st.Err(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("provider: anthropic: %w", ctx.Err())
		}
		return tasks.WrapError(tasks.CodeProviderFailed, garbledOr(err), "anthropic: the batch results broke off: "+err.Error())
	}
	return nil
}

// anthropicBatch is a Message Batch as mmq tracks it; its processing
// statuses are mmq's own (in_progress, canceling, ended).
func anthropicBatch(b *anthropic.MessageBatch) tasks.ProviderBatch {
	c := b.RequestCounts
	return tasks.ProviderBatch{
		ID: b.ID, Provider: AnthropicName, Status: string(b.ProcessingStatus), VendorStatus: string(b.ProcessingStatus),
		CreatedAt: b.CreatedAt,
		Counts: tasks.ProviderBatchCount{Processing: int(c.Processing), Succeeded: int(c.Succeeded), Errored: int(c.Errored),
			Canceled: int(c.Canceled), Expired: int(c.Expired)},
	}
}

// batchBody is r as the params of a Message Batch request: the same
// MessageNewParams Send streams, without streaming.
func (a *Anthropic) batchBody(r *Request) (json.RawMessage, error) {
	params, err := anthropicParams(r)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("provider: anthropic: %w", err)
	}
	return b, nil
}

// batchAnswer reads the Message of a succeeded request as Send's
// Response: the forced tool's input when the request had a schema, the
// text blocks otherwise.
func (a *Anthropic) batchAnswer(raw json.RawMessage, withSchema bool) (*Response, error) {
	var m anthropic.Message
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: anthropic batch message: %v", errGarbled, err)
	}
	u := m.Usage
	out := &Response{Model: m.Model, StopReason: string(m.StopReason), UsageReported: true,
		InputTokens:  int(u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens),
		OutputTokens: int(u.OutputTokens)}
	var text strings.Builder
	for _, b := range m.Content {
		switch {
		case withSchema && b.Type == "tool_use":
			out.Text = compactJSON(string(b.Input))
			return out, nil
		case !withSchema && b.Type == "text":
			text.WriteString(b.Text)
		}
	}
	out.Text = text.String()
	return out, nil
}

// batchAvailable reports whether the client talks to the real API, which
// has Message Batches.
func (a *Anthropic) batchAvailable() bool { return a.cfg.BaseURL == anthropicAPI }
