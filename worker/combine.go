package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/tasks"
)

// Combiner makes the answer of a job of scope document from its unit
// results. provider.Router implements it; its errors are *tasks.Error
// values (CodeSchemaMismatch with the Analysis of the last try).
type Combiner interface {
	Combine(ctx context.Context, job *tasks.Job, rs []tasks.PageResult) (tasks.Analysis, error)
}

// AnswerStore is what combining needs of the store beyond Store;
// store.Redis implements it.
type AnswerStore interface {
	Results(ctx context.Context, id string, after, limit int) (rs []tasks.PageResult, more bool, err error)
	// SaveAnswer stores the job's combined answer (nil: only the usage)
	// and adds the usage to the job's totals.
	SaveAnswer(ctx context.Context, id string, answer json.RawMessage, u tasks.Usage) error
}

// storeTimeout bounds a store write that must happen even when the task's
// context has ended.
const storeTimeout = 10 * time.Second

// combineError is a combining step that failed for good: the job's pages
// stand, and the job ends partially_succeeded with the error's code.
type combineError struct{ err error }

func (e *combineError) Error() string { return "worker: combine the page answers: " + e.err.Error() }
func (e *combineError) Unwrap() error { return e.err }

// combine makes and stores the answer of a job of scope document once
// every unit has its outcome. The stored answer is the step's checkpoint: a
// retried or restarted job that has one does not combine again, and its
// pages are never redone for it. A transient failure returns the error, so
// the task is retried (only this step is redone); any other failure, or a
// transient one on the task's last attempt, is a *combineError.
func (h *Handler) combine(ctx context.Context, job *tasks.Job) error {
	if job.Options.Scope != tasks.ScopeDocument || len(job.Answer) > 0 {
		return nil
	}
	c, ok := h.deps.Analyzer.(Combiner)
	if !ok {
		return &combineError{tasks.Errorf(tasks.CodeProviderRequired, "this worker's analyzer cannot combine page answers")}
	}
	as, ok := h.deps.Store.(AnswerStore)
	if !ok {
		return errors.New("worker: the store cannot record answers (it does not implement AnswerStore)")
	}
	rs, err := allResults(ctx, as, job.ID)
	if err != nil {
		return err
	}
	done := 0
	for _, r := range rs {
		if r.Status == tasks.PageDone {
			done++
		}
	}
	if done == 0 {
		// The job fails on its page counts; there is nothing to combine.
		return nil
	}
	log := zerolog.Ctx(ctx)
	an, err := c.Combine(ctx, job, rs)
	if err != nil && ctx.Err() != nil {
		return err
	}
	u := tasks.Usage{InputTokens: int64(an.InputTokens), OutputTokens: int64(an.OutputTokens), CostUSD: an.CostUSD}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err != nil {
		if !u.Zero() {
			if serr := as.SaveAnswer(wctx, job.ID, nil, u); serr != nil {
				log.Error().Err(serr).Msg("could not record the usage of a failed combining")
			}
		}
		if !tasks.IsPermanent(err) && !lastAttempt(ctx) {
			log.Warn().Err(ssrf.RedactError(err)).Msg("combining the page answers failed; the task will retry it")
			return err
		}
		return &combineError{err}
	}
	answer, err := answerOf(an.Output)
	if err != nil {
		return &combineError{tasks.WrapError(tasks.CodeInternal, err, "the combined answer could not be read")}
	}
	if err := as.SaveAnswer(wctx, job.ID, answer, u); err != nil {
		return err
	}
	job.Answer = answer
	log.Info().Int("pages", done).Int("input_tokens", an.InputTokens).Float64("cost_usd", an.CostUSD).Msg("page answers combined")
	return nil
}

// answerOf returns a combined output's data, or its text as a JSON string.
func answerOf(output json.RawMessage) (json.RawMessage, error) {
	var out struct {
		Text string          `json:"text"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(output, &out); err != nil {
		return nil, fmt.Errorf("worker: combined output: %w", err)
	}
	if len(out.Data) > 0 && string(out.Data) != "null" {
		return out.Data, nil
	}
	return json.Marshal(out.Text)
}

// allResults reads every unit result of a job, a page of results at a time.
func allResults(ctx context.Context, rs interface {
	Results(ctx context.Context, id string, after, limit int) ([]tasks.PageResult, bool, error)
}, id string) ([]tasks.PageResult, error) {
	var all []tasks.PageResult
	for after := -1; ; {
		page, more, err := rs.Results(ctx, id, after, resultsPage)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if !more || len(page) == 0 {
			return all, nil
		}
		after = page[len(page)-1].Index
	}
}
