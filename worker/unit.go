package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/tasks"
)

// analyzeUnit analyzes one unit with its own bounded retries and stores the
// outcome at once, so a later run of the job skips it. A unit interrupted by
// the end of the task's context is not stored: it was not finished.
//
// last, when not nil and on, counts the run's saved results; the run's last
// result is saved with Store.SaveLastPage, which may end the job.
func (h *Handler) analyzeUnit(ctx context.Context, job *tasks.Job, it Item, last *lastSave) {
	h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	u := it.Unit
	if u.Provider == "" {
		u.Provider = job.Options.Provider
	}
	// The page's logger is made only for the warnings that need it: most
	// pages log nothing.
	log := func() *zerolog.Logger {
		l := zerolog.Ctx(ctx).With().Int("page", u.Index).Logger()
		return &l
	}
	start := time.Now()
	res := tasks.PageResult{Index: u.Index, Timestamp: u.Timestamp, Width: u.Width, Height: u.Height}

	var an tasks.Analysis
	err := it.Err
	if err == nil {
		res.Attempts, err = h.cfg.PageBackoff.Retry(ctx, h.cfg.PageAttempts, func(ctx context.Context) error {
			var aerr error
			an, aerr = h.analyze(ctx, u)
			return aerr
		}, func(n int, err error, wait time.Duration) {
			log().Warn().Err(ssrf.RedactError(err)).Int("attempt", n+1).Dur("wait", wait).Msg("page attempt failed; retrying")
		})
	}
	if b := budgetFrom(ctx); b != nil && it.Err == nil {
		defer func() { b.settle(u.Index, an.CostUSD) }()
	}
	if err != nil && ctx.Err() != nil {
		return
	}
	res.DurationMS = time.Since(start).Milliseconds()
	res.FinishedAt = time.Now().UTC()
	m := an.PageMetrics()
	m.Retries += max(res.Attempts-1, 0)
	res.Metrics = &m
	if err != nil {
		res.Status = tasks.PageFailed
		res.ErrorCode = tasks.ErrorCode(err)
		res.ErrorMessage = publicMessage(err)
		m.Error = res.ErrorCode
		// An answer that failed (one that did not follow the schema) is
		// kept for inspection.
		res.Output = an.Output
		log().Warn().Err(ssrf.RedactError(err)).Str("error_code", string(res.ErrorCode)).Int("attempts", res.Attempts).Msg("page failed")
	} else {
		res.Status = tasks.PageDone
		res.Output = an.Output
	}
	// The result exists: store it even if the task is being stopped now.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := h.savePage(wctx, job, res, last); err != nil {
		log().Error().Err(err).Msg("could not store the page result; the page will be redone")
		return
	}
	h.deps.Observer.PageDone(job, res)
}

// savePage stores res. When every other result of the run is saved, no
// other result of the job can be in flight, and res is saved with
// SaveLastPage, which ends the job if all its pages have an outcome.
func (h *Handler) savePage(ctx context.Context, job *tasks.Job, res tasks.PageResult, last *lastSave) error {
	if last == nil || last.want == 0 {
		return h.deps.Store.SavePage(ctx, job.ID, res)
	}
	if last.saved.Load() != last.want-1 {
		if err := h.deps.Store.SavePage(ctx, job.ID, res); err != nil {
			return err
		}
		last.saved.Add(1)
		return nil
	}
	ended, err := h.deps.Store.SaveLastPage(ctx, job.ID, res)
	if err != nil {
		return err
	}
	last.saved.Add(1)
	if ended != nil {
		last.ended.Store(ended)
	}
	return nil
}

// analyze calls the analyzer, turning a panic into a permanent error so one
// bad page cannot take the worker down.
func (h *Handler) analyze(ctx context.Context, u tasks.Unit) (an tasks.Analysis, err error) {
	defer func() {
		if r := recover(); r != nil {
			// Permanent: the same input would crash it again.
			err = &tasks.Error{Code: tasks.CodeInternal, Message: "the analyzer crashed on this page",
				Err: fmt.Errorf("panic: %v: %w", r, asynq.SkipRetry)}
		}
	}()
	return h.deps.Analyzer.Analyze(ctx, u)
}
