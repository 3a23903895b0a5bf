package worker

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"
	"golang.org/x/sync/semaphore"

	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/tasks"
)

// Deps are the parts a Worker uses; cmd/mmq passes the concrete ones.
type Deps struct {
	Store    Store
	Blobs    Blobs
	Analyzer Analyzer
	OpenPDF  OpenPDF
	Logger   zerolog.Logger
	// Queue enqueues the webhooks of the jobs (and batches) that end with a
	// callback URL. Nil sends no webhooks.
	Queue Enqueuer
	// Deliverer delivers webhook:deliver tasks. With it the worker serves
	// the webhooks queue; without it, it leaves that queue to others.
	Deliverer Deliverer
	// OpenVideo opens the input of video jobs. Nil fails them with
	// CodeFFmpegUnavailable.
	OpenVideo OpenVideo
	// Sniff tells a fetched input's kind from its bytes (media.SniffKind),
	// so that a job submitted by URL that turns out to be a video is
	// analyzed as one. Nil treats every URL job as a document.
	Sniff func(data []byte) (tasks.Kind, error)
	// Observer hears of job ends, page results, task retries and webhook
	// attempts, for metrics. Defaults to one that ignores them.
	Observer Observer
	// Sweeper deletes the inputs of expired and deleted jobs every
	// Config.BlobSweepInterval while the worker runs. Nil sweeps nothing.
	Sweeper BlobSweeper
	// Economy runs economy jobs through the providers' batch APIs; with
	// it (and a Store that implements EconomyStore, and Queue) the worker
	// serves tasks.QueueEconomy. Nil fails economy jobs with
	// CodeModeUnsupported.
	Economy Economy
}

func (d Deps) validate() error {
	switch {
	case d.Store == nil:
		return errors.New("worker: Deps.Store is nil")
	case d.Blobs == nil:
		return errors.New("worker: Deps.Blobs is nil")
	case d.Analyzer == nil:
		return errors.New("worker: Deps.Analyzer is nil")
	case d.OpenPDF == nil:
		return errors.New("worker: Deps.OpenPDF is nil")
	}
	return nil
}

// Handler processes analysis tasks. It is safe for concurrent use; one
// Handler serves every job of a process and owns the process-wide page
// semaphore.
type Handler struct {
	cfg     Config
	deps    Deps
	log     zerolog.Logger
	process *semaphore.Weighted
	// inFlight counts the units being analyzed, which hold process.
	inFlight atomic.Int64
	// drain is closed when the worker stops taking work.
	drain chan struct{}
}

// NewHandler returns a Handler. Most callers want New, which also runs the
// asynq server; tests drive a Handler directly.
func NewHandler(cfg Config, deps Deps) (*Handler, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := deps.validate(); err != nil {
		return nil, err
	}
	if deps.Observer == nil {
		deps.Observer = nopObserver{}
	}
	return &Handler{
		cfg:     cfg,
		deps:    deps,
		log:     deps.Logger,
		process: semaphore.NewWeighted(int64(cfg.ProcessPageConcurrency)),
		drain:   make(chan struct{}),
	}, nil
}

// ProcessTask implements asynq.Handler for document:analyze and
// video:analyze tasks. The job's input decides how it is split: a job
// submitted by URL is a document job until its input turns out a video.
func (h *Handler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.DecodeAnalyzePayload(t.Payload())
	if err != nil {
		return tasks.ForAsynq(err)
	}
	job, err := h.deps.Store.StartJob(ctx, p.JobID)
	if err != nil {
		return tasks.ForAsynq(err)
	}
	// One logger per run, made once the kind is known.
	taskID, _ := asynq.GetTaskID(ctx)
	log := h.log.With().Str("job_id", p.JobID).Str("task_id", taskID).Str("type", t.Type()).
		Str("kind", string(job.Kind)).Logger()
	ctx = log.WithContext(ctx)
	if job.Status.Final() {
		log.Info().Str("status", string(job.Status)).Msg("job already ended; nothing to do")
		// Its webhook may not have been enqueued when it ended.
		return h.announce(ctx, job, true)
	}
	start := time.Now()
	log.Info().Int("attempt", job.Attempts).Int("pages", job.PagesTotal).Int("pages_done", job.PagesDone).Msg("job start")

	ctx = h.withBudget(ctx, job)
	var last lastSave
	err = h.run(ctx, job, p, &last)
	return h.conclude(ctx, job, err, start, last.ended.Load())
}

// lastSave lets the last result a run of a document job saves end the job
// in the same step (Store.SaveLastPage), which saves EndJob's round trip.
// A unit knows it is the last when every other unit of the run has saved
// its result: only then can no other result of the job be in flight.
type lastSave struct {
	// want is how many results the run will save; 0 turns this off.
	want int64
	// saved counts the results saved.
	saved atomic.Int64
	// ended is the job the last save ended, if it did.
	ended atomic.Pointer[tasks.Job]
}

// run does the job's work; it returns nil when every unit has an outcome.
func (h *Handler) run(ctx context.Context, job *tasks.Job, p tasks.AnalyzePayload, last *lastSave) error {
	if in, ok := h.videoInPlace(job, p); ok {
		return h.runVideo(ctx, job, in)
	}
	data, err := h.loadInput(ctx, job, p)
	if err != nil {
		return err
	}
	if h.isVideo(job, data) {
		return h.runVideo(ctx, job, VideoInput{Data: data})
	}
	// The record says whether there is a password to read: most jobs
	// have none, and the round trip is saved.
	var password string
	if job.HasPassword {
		if password, err = h.deps.Store.Password(ctx, job.ID); err != nil {
			return err
		}
	}
	maxPages := h.cfg.MaxPages
	if p.Options.MaxPages > 0 {
		maxPages = min(maxPages, p.Options.MaxPages)
	}
	doc, err := h.deps.OpenPDF(ctx, data, password)
	if err != nil {
		return err
	}
	n := doc.PageCount()
	// The API checks the selection of an upload; the page count of a job
	// submitted by URL is known only here.
	sel, total, err := job.Options.SelectPages(n)
	if err != nil {
		return err
	}
	if total > maxPages {
		return tasks.Errorf(tasks.CodeTooManyPages, "the job has %d pages to analyze; the limit is %d", total, maxPages)
	}
	if total != job.PagesTotal {
		if err := h.deps.Store.SetPagesTotal(ctx, job.ID, total); err != nil {
			return err
		}
		job.PagesTotal = total
	}
	// pages_done counts the done set: a first run has no checkpoint to read.
	var done []int
	if job.PagesDone > 0 {
		if done, err = h.deps.Store.DonePages(ctx, job.ID); err != nil {
			return err
		}
	}
	if _, isImage := doc.(imageDocument); !isImage {
		defer h.prepareDocument(ctx, job, data, password, n)()
	}
	src := documentUnits(ctx, doc, sel, job, p.Options.Task, done)
	if job.Options.Economy() {
		return h.runEconomy(ctx, job, src)
	}
	if job.Options.Scope != tasks.ScopeDocument {
		// A job of scope document is combined after its pages: its last
		// page does not end it.
		last.want = int64(total - countSelected(done, sel, n))
	}
	lim := Limits{PerJob: h.cfg.PageConcurrency, Process: h.process}
	err = fanOut(ctx, src, lim, h.drain, func(ctx context.Context, it Item) {
		h.analyzeUnit(ctx, job, it, last)
	})
	if err != nil {
		return err
	}
	return h.combine(ctx, job)
}

// loadInput returns the job's input, downloading it first for a job
// submitted by URL (once: the blob key is recorded for retries).
func (h *Handler) loadInput(ctx context.Context, job *tasks.Job, p tasks.AnalyzePayload) ([]byte, error) {
	key := job.BlobKey
	if key == "" {
		key = p.BlobKey
	}
	if key != "" {
		return h.deps.Blobs.Get(ctx, key)
	}
	if p.SourceURL == "" {
		return nil, tasks.Errorf(tasks.CodeInvalidRequest, "job has neither an input nor a URL")
	}
	zerolog.Ctx(ctx).Debug().Str("source_url", ssrf.RedactURL(p.SourceURL)).Msg("downloading the input")
	data, err := fetch(ctx, h.cfg.Fetch, p.SourceURL)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, tasks.Errorf(tasks.CodeEmptyFile, "the URL returned an empty body")
	}
	// The reference first: a deletion of the same content that runs now
	// either sees it or ends before it (see store.Redis.RefBlob).
	key = tasks.BlobKey(data)
	if err := h.deps.Store.RefBlob(ctx, key, job.ID); err != nil {
		return nil, err
	}
	if _, err := h.deps.Blobs.Put(ctx, data); err != nil {
		return nil, err
	}
	if err := h.deps.Store.SetInput(ctx, job.ID, key, int64(len(data))); err != nil {
		return nil, err
	}
	return data, nil
}

// conclude ends the job when runErr is final, and tells asynq what to do
// with the task. ended is the job when the run's last saved result ended it.
func (h *Handler) conclude(ctx context.Context, job *tasks.Job, runErr error, start time.Time, ended *tasks.Job) error {
	log := zerolog.Ctx(ctx)
	// Store writes below must happen even when the task's context ended.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()

	if ended != nil {
		// Every unit had its outcome and the last save ended the job: what
		// runErr says (the worker stopping, the task's end) came after.
		logEnd(log, ended, start).Msg("job end")
		h.deps.Observer.JobEnded(ended, time.Since(start))
		// An error brings the task back, and its next run announces the end.
		return h.announce(wctx, ended, false)
	}

	if errors.Is(runErr, errDraining) || (runErr != nil && ctx.Err() != nil) {
		// Shutting down, timed out or aborted: the finished pages are saved
		// and the task comes back. While draining, wait for asynq to give up
		// on the handler and requeue the task: returning an error would burn
		// one of the job's retries.
		if j, err := h.deps.Store.GetJob(wctx, job.ID); err == nil && j.Status == tasks.StatusCanceled {
			log.Info().Dur("duration", time.Since(start)).Msg("job canceled by its client; finished pages are kept")
			h.deps.Observer.JobEnded(j, time.Since(start))
			if err := h.announce(wctx, j, true); err != nil {
				log.Error().Err(err).Msg("could not enqueue the job's webhook")
			}
			return nil
		}
		log.Warn().Err(ssrf.RedactError(runErr)).Dur("duration", time.Since(start)).Msg("job interrupted; finished pages are kept")
		if errors.Is(runErr, errDraining) {
			<-ctx.Done()
		}
		return runErr
	}
	if errors.Is(runErr, errEconomyWaiting) {
		log.Info().Dur("duration", time.Since(start)).Msg("job waits for provider batches")
		return nil
	}
	stopped := errors.Is(runErr, errBudgetExceeded)
	if stopped {
		runErr = nil
	}
	if ce := (*combineError)(nil); errors.As(runErr, &ce) {
		// The pages stand; only their combined answer is missing.
		j, err := h.deps.Store.FinishJob(wctx, job.ID, tasks.StatusPartiallySucceeded, tasks.ErrorCode(ce.err),
			"the pages are done, but combining their answers failed: "+publicMessage(ce.err))
		if err != nil {
			return fmt.Errorf("worker: end job %s: %w (after %w)", job.ID, err, runErr)
		}
		logEnd(log, j, start).Err(ssrf.RedactError(runErr)).Msg("job end")
		h.deps.Observer.JobEnded(j, time.Since(start))
		return h.announce(wctx, j, false)
	}
	if runErr != nil {
		permanent := tasks.IsPermanent(runErr)
		if !permanent && !lastAttempt(ctx) {
			log.Warn().Err(ssrf.RedactError(runErr)).Str("error_code", string(tasks.ErrorCode(runErr))).Int("pages", job.PagesTotal).
				Dur("duration", time.Since(start)).Msg("job attempt failed; will retry")
			h.deps.Observer.TaskRetry(job, tasks.ErrorCode(runErr))
			return runErr
		}
		j, err := h.deps.Store.FinishJob(wctx, job.ID, tasks.StatusFailed, tasks.ErrorCode(runErr), publicMessage(runErr))
		if err != nil {
			return fmt.Errorf("worker: end job %s: %w (after %w)", job.ID, err, runErr)
		}
		logEnd(log, j, start).Err(ssrf.RedactError(runErr)).Msg("job end")
		h.deps.Observer.JobEnded(j, time.Since(start))
		if err := h.announce(wctx, j, false); err != nil {
			// Not SkipRetry: the task's next run announces the end.
			return err
		}
		return tasks.ForAsynq(runErr)
	}

	var (
		j   *tasks.Job
		err error
	)
	if stopped {
		if j, err = h.deps.Store.GetJob(wctx, job.ID); err != nil {
			return err
		}
		status, code, msg := budgetFrom(ctx).outcome(j)
		j, err = h.deps.Store.FinishJob(wctx, job.ID, status, code, msg)
	} else {
		// The state follows from the page counts, which the store reads
		// in the step that ends the job.
		j, err = h.deps.Store.EndJob(wctx, job.ID)
	}
	if err != nil {
		return err
	}
	logEnd(log, j, start).Msg("job end")
	h.deps.Observer.JobEnded(j, time.Since(start))
	// An error brings the task back, and its next run announces the end.
	return h.announce(wctx, j, false)
}

// lastAttempt reports whether asynq will not retry the task after this run.
func lastAttempt(ctx context.Context) bool {
	n, ok1 := asynq.GetRetryCount(ctx)
	m, ok2 := asynq.GetMaxRetry(ctx)
	return ok1 && ok2 && n >= m
}

func logEnd(log *zerolog.Logger, j *tasks.Job, start time.Time) *zerolog.Event {
	ev := log.Info()
	if j.Status != tasks.StatusSucceeded {
		ev = log.Warn()
	}
	return ev.Str("status", string(j.Status)).Int("pages", j.PagesTotal).Int("pages_done", j.PagesDone).
		Int("pages_failed", j.PagesFailed).Str("error_code", string(j.ErrorCode)).Dur("duration", time.Since(start))
}
