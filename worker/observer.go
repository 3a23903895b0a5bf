package worker

import (
	"time"

	"github.com/mmq/mmq/tasks"
)

// Observer hears how jobs, pages and webhook deliveries go, for metrics.
// *metrics.Registry implements it. Its methods run on the worker's hot
// paths: they must be quick and must not block.
type Observer interface {
	// JobEnded is called when the worker has moved a job to a final state,
	// or found it canceled by its client, with the duration of the task
	// run that ended it.
	JobEnded(j *tasks.Job, run time.Duration)
	// PageDone is called for every unit result the worker stored, done or
	// failed.
	PageDone(j *tasks.Job, r tasks.PageResult)
	// TaskRetry is called when a run of a job's task failed with code and
	// asynq will run it again.
	TaskRetry(j *tasks.Job, code tasks.Code)
	// WebhookAttempt is called after each webhook delivery attempt.
	WebhookAttempt(a tasks.DeliveryAttempt)
}

// nopObserver is the Observer of a worker without metrics.
type nopObserver struct{}

func (nopObserver) JobEnded(*tasks.Job, time.Duration)    {}
func (nopObserver) PageDone(*tasks.Job, tasks.PageResult) {}
func (nopObserver) TaskRetry(*tasks.Job, tasks.Code)      {}
func (nopObserver) WebhookAttempt(tasks.DeliveryAttempt)  {}

// PagesInFlight returns how many units the process analyzes now: the part
// of the process-wide page semaphore (Config.ProcessPageConcurrency) in use.
func (h *Handler) PagesInFlight() int64 { return h.inFlight.Load() }

// PageSlots returns the capacity of the process-wide page semaphore.
func (h *Handler) PageSlots() int { return h.cfg.ProcessPageConcurrency }
