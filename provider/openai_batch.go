package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/mmq/mmq/tasks"
)

// openAIAPI is the base URL of the real OpenAI API, whose Batch API
// economy mode uses when the configuration says auto.
const openAIAPI = "https://api.openai.com/v1"

// openAILabel is the metadata key of the label a batch is created with.
const openAILabel = "mmq_label"

// openAILine frames one request of a batch input file:
// {"custom_id":"…","method":"POST","url":"/v1/chat/completions","body":{…}}.
var openAILine = lineFormat{head: `{"custom_id":"`, mid: `","method":"POST","url":"/v1/chat/completions","body":`, tail: "}\n"}

// Limits returns OpenAI's limits on a batch.
func (o *OpenAI) Limits() BatchLimits { return OpenAIBatchLimits }

// Size returns the bytes of the JSONL input file lines make.
func (o *OpenAI) Size(lines []tasks.BatchLine) int64 { return bodySize("", "", "", openAILine, lines) }

// CreateBatch uploads lines as a JSONL file (POST /v1/files, purpose
// batch, the multipart body streamed as it is sent) and creates a batch of
// it (POST /v1/batches: /v1/chat/completions, completion window 24h), the
// label in its metadata. The upload is retried like any call (a file
// uploaded twice is only stored twice); the create only on 429 and 529.
func (o *OpenAI) CreateBatch(ctx context.Context, label string, lines []tasks.BatchLine) (tasks.ProviderBatch, error) {
	if err := checkLines(OpenAIName, lines, OpenAIBatchLimits, o.Size(lines)); err != nil {
		return tasks.ProviderBatch{}, err
	}
	var file *openai.FileObject
	_, _, err := o.do(ctx, 0, anyTransient, func(ctx context.Context) (err error) {
		file, err = o.upload(ctx, lines)
		return err
	})
	if err != nil {
		return tasks.ProviderBatch{}, err
	}
	params := openai.BatchNewParams{CompletionWindow: openai.BatchNewParamsCompletionWindow24h,
		Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions, InputFileID: file.ID}
	if label != "" {
		params.Metadata = shared.Metadata{openAILabel: label}
	}
	var b *openai.Batch
	_, _, err = o.do(ctx, o.cfg.Timeout, createRetryable, func(ctx context.Context) (err error) {
		var raw *http.Response
		if b, err = o.sdk.Batches.New(ctx, params, option.WithResponseInto(&raw)); err != nil {
			return o.apiError(err, raw)
		}
		return nil
	})
	if err != nil {
		return tasks.ProviderBatch{}, err
	}
	return openAIBatch(b), nil
}

// upload sends lines as a JSONL file of purpose batch. The SDK would
// build the multipart body in memory; it is written into a pipe instead,
// by the SDK's own field writer, as the request reads it.
func (o *OpenAI) upload(ctx context.Context, lines []tasks.BatchLine) (*openai.FileObject, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	done := make(chan struct{})
	go func() {
		defer close(done)
		jsonl := &linesReader{format: openAILine, lines: lines}
		err := openai.FileNewParams{File: openai.File(jsonl, "mmq-batch.jsonl", "application/jsonl"),
			Purpose: openai.FilePurposeBatch}.MarshalMultipartTo(mw)
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	var raw *http.Response
	f, err := o.sdk.Files.New(ctx, openai.FileNewParams{File: strings.NewReader(""), Purpose: openai.FilePurposeBatch},
		option.WithRequestBody(mw.FormDataContentType(), pr), option.WithResponseInto(&raw))
	// A request that stopped reading leaves the writer blocked: release it.
	pr.CloseWithError(errors.New("provider: openai: upload ended"))
	<-done
	if err != nil {
		return nil, o.apiError(err, raw)
	}
	return f, nil
}

// Batch returns a batch's status (GET /v1/batches/{id}).
func (o *OpenAI) Batch(ctx context.Context, id string) (tasks.ProviderBatch, error) {
	b, err := o.batch(ctx, id)
	if err != nil {
		return tasks.ProviderBatch{}, err
	}
	return openAIBatch(b), nil
}

func (o *OpenAI) batch(ctx context.Context, id string) (*openai.Batch, error) {
	return o.batchCall(ctx, func(ctx context.Context, opts ...option.RequestOption) (*openai.Batch, error) {
		return o.sdk.Batches.Get(ctx, id, opts...)
	})
}

// CancelBatch cancels a batch (POST /v1/batches/{id}/cancel): it is
// cancelling, then cancelled, its finished requests' results kept.
func (o *OpenAI) CancelBatch(ctx context.Context, id string) (tasks.ProviderBatch, error) {
	b, err := o.batchCall(ctx, func(ctx context.Context, opts ...option.RequestOption) (*openai.Batch, error) {
		return o.sdk.Batches.Cancel(ctx, id, opts...)
	})
	if err != nil {
		return tasks.ProviderBatch{}, err
	}
	return openAIBatch(b), nil
}

// batchCall makes an idempotent call that returns a batch, with retries.
func (o *OpenAI) batchCall(ctx context.Context, call func(context.Context, ...option.RequestOption) (*openai.Batch, error)) (*openai.Batch, error) {
	var b *openai.Batch
	_, _, err := o.do(ctx, o.cfg.Timeout, anyTransient, func(ctx context.Context) (err error) {
		var raw *http.Response
		if b, err = call(ctx, option.WithResponseInto(&raw)); err != nil {
			return o.apiError(err, raw)
		}
		return nil
	})
	return b, err
}

// ListBatches returns the most recent batches, newest first
// (GET /v1/batches, pages of up to 100).
func (o *OpenAI) ListBatches(ctx context.Context, limit int) ([]tasks.ProviderBatch, error) {
	var out []tasks.ProviderBatch
	after := ""
	for len(out) < limit {
		params := openai.BatchListParams{Limit: openai.Int(int64(min(limit-len(out), 100)))}
		if after != "" {
			params.After = openai.String(after)
		}
		var page []openai.Batch
		var more bool
		_, _, err := o.do(ctx, o.cfg.Timeout, anyTransient, func(ctx context.Context) error {
			var raw *http.Response
			p, err := o.sdk.Batches.List(ctx, params, option.WithResponseInto(&raw))
			if err != nil {
				return o.apiError(err, raw)
			}
			page, more = p.Data, p.HasMore
			return nil
		})
		if err != nil {
			return nil, err
		}
		for i := range page {
			out = append(out, openAIBatch(&page[i]))
		}
		if !more || len(page) == 0 {
			break
		}
		after = page[len(page)-1].ID
	}
	return out, nil
}

// openAIResult is one line of a batch's output or error file.
type openAIResult struct {
	CustomID string `json:"custom_id"`
	Response *struct {
		StatusCode int             `json:"status_code"`
		Body       json.RawMessage `json:"body"`
	} `json:"response"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// BatchResults streams an ended batch's output file, then its error file
// (GET /v1/files/{id}/content, JSONL), decoded one line at a time. A batch
// that failed as a whole (its input did not validate: ProviderBatch.Failed)
// has none: every request of it errored.
func (o *OpenAI) BatchResults(ctx context.Context, id string, fn func(tasks.BatchOutcome) error) error {
	b, err := o.batch(ctx, id)
	if err != nil {
		return err
	}
	for _, fileID := range []string{b.OutputFileID, b.ErrorFileID} {
		if fileID == "" {
			continue
		}
		if err := o.fileResults(ctx, id, fileID, fn); err != nil {
			return err
		}
	}
	return nil
}

func (o *OpenAI) fileResults(ctx context.Context, batchID, fileID string, fn func(tasks.BatchOutcome) error) error {
	var resp *http.Response
	_, _, err := o.do(ctx, 0, anyTransient, func(_ context.Context) (err error) {
		var raw *http.Response
		if resp, err = o.sdk.Files.Content(ctx, fileID, option.WithResponseInto(&raw)); err != nil {
			return o.apiError(err, raw)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var l openAIResult
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("provider: openai: %w", ctx.Err())
			}
			return tasks.WrapError(tasks.CodeProviderFailed, garbledOr(err),
				fmt.Sprintf("openai: batch %s: file %s broke off: %v", batchID, fileID, err))
		}
		if err := fn(openAIOutcome(l)); err != nil {
			return err
		}
	}
}

// openAIOutcome reads one result line: a response with status 200 is an
// answer, another status an errored request; an error without a response
// is an expired or cancelled request (batch_expired, batch_cancelled) or
// an errored one.
func openAIOutcome(l openAIResult) tasks.BatchOutcome {
	o := tasks.BatchOutcome{CustomID: l.CustomID}
	switch {
	case l.Response != nil && l.Response.StatusCode == http.StatusOK:
		o.Result, o.Response = tasks.BatchSucceeded, l.Response.Body
	case l.Response != nil:
		var b struct {
			Error struct {
				Message string `json:"message"`
				Type    string `json:"type"`
			} `json:"error"`
		}
		_ = json.Unmarshal(l.Response.Body, &b)
		o.Result, o.Err = tasks.BatchErrored, outcomeError(OpenAIName, l.Response.StatusCode, b.Error.Type, b.Error.Message)
	case l.Error != nil && l.Error.Code == "batch_expired":
		o.Result = tasks.BatchExpired
	case l.Error != nil && l.Error.Code == "batch_cancelled":
		o.Result = tasks.BatchCanceled
	case l.Error != nil:
		o.Result, o.Err = tasks.BatchErrored, outcomeError(OpenAIName, 0, l.Error.Code, l.Error.Message)
	default:
		o.Result, o.Err = tasks.BatchErrored, outcomeError(OpenAIName, 0, "", "a result line with neither response nor error")
	}
	return o
}

// openAIBatch is a batch as mmq tracks it. validating, in_progress and
// finalizing are in progress; completed, failed, expired and cancelled
// ended. Until a batch ends, the requests neither completed nor failed are
// processing; in an expired or cancelled one they expired or were
// canceled.
func openAIBatch(b *openai.Batch) tasks.ProviderBatch {
	c := b.RequestCounts
	rest := int(max(c.Total-c.Completed-c.Failed, 0))
	pb := tasks.ProviderBatch{ID: b.ID, Provider: OpenAIName, Model: b.Model, VendorStatus: string(b.Status),
		CreatedAt: time.Unix(b.CreatedAt, 0).UTC(), Label: b.Metadata[openAILabel],
		Counts: tasks.ProviderBatchCount{Succeeded: int(c.Completed), Errored: int(c.Failed)}}
	switch b.Status {
	case openai.BatchStatusCancelling:
		pb.Status, pb.Counts.Processing = tasks.ProviderBatchCanceling, rest
	case openai.BatchStatusCompleted, openai.BatchStatusFailed:
		pb.Status = tasks.ProviderBatchEnded
	case openai.BatchStatusExpired:
		pb.Status, pb.Counts.Expired = tasks.ProviderBatchEnded, rest
	case openai.BatchStatusCancelled:
		pb.Status, pb.Counts.Canceled = tasks.ProviderBatchEnded, rest
	default:
		pb.Status, pb.Counts.Processing = tasks.ProviderBatchInProgress, rest
	}
	if b.Status == openai.BatchStatusFailed {
		msgs := make([]string, 0, len(b.Errors.Data))
		for _, e := range b.Errors.Data {
			m := e.Code + ": " + e.Message
			if e.Line > 0 {
				m = fmt.Sprintf("line %d: %s", e.Line, m)
			}
			msgs = append(msgs, m)
		}
		pb.Failed = cmpOr(strings.Join(msgs, "; "), "the batch failed")
	}
	return pb
}

// batchBody is r as the body of a batch's /v1/chat/completions request:
// the same parameters Send streams, without streaming.
func (o *OpenAI) batchBody(r *Request) (json.RawMessage, error) {
	params, err := openAIParams(r)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("provider: openai: %w", err)
	}
	return b, nil
}

// batchAnswer reads the chat completion of a succeeded request as Send's
// Response.
func (o *OpenAI) batchAnswer(raw json.RawMessage, _ bool) (*Response, error) {
	var c openai.ChatCompletion
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%w: openai batch completion: %v", errGarbled, err)
	}
	if len(c.Choices) == 0 {
		return nil, fmt.Errorf("%w: openai batch completion without choices", errGarbled)
	}
	out := &Response{Model: c.Model, Text: c.Choices[0].Message.Content, StopReason: c.Choices[0].FinishReason}
	if c.JSON.Usage.Valid() && (c.Usage.PromptTokens > 0 || c.Usage.CompletionTokens > 0) {
		out.InputTokens, out.OutputTokens, out.UsageReported = int(c.Usage.PromptTokens), int(c.Usage.CompletionTokens), true
	} else {
		out.OutputTokens = textTokens(out.Text)
	}
	return out, nil
}

// batchAvailable reports whether the client talks to the real API, which
// has the Batch API (compatible servers have none).
func (o *OpenAI) batchAvailable() bool { return o.cfg.BaseURL == openAIAPI }
