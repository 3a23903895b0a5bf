package worker

import (
	"errors"
	"time"

	"github.com/mmq/mmq/tasks"
)

// Config configures a Worker. Zero values mean the documented defaults.
type Config struct {
	// Concurrency is how many jobs one process handles at once. Pages run in
	// parallel inside a job, so this can stay small. Defaults to 4.
	Concurrency int
	// PageConcurrency is how many units of one job are analyzed at once.
	// Defaults to 8.
	PageConcurrency int
	// ProcessPageConcurrency bounds the units analyzed at once by all jobs
	// of the process together. Defaults to 16.
	ProcessPageConcurrency int
	// PageAttempts is how many times one unit's analysis is tried before the
	// unit counts as failed. Defaults to 3.
	PageAttempts int
	// PageBackoff spaces a unit's attempts. Defaults to base 500 ms, cap 10 s.
	PageBackoff tasks.Backoff
	// TaskBackoff spaces asynq's retries of a whole task. Defaults to
	// tasks.DefaultBackoffBase and DefaultBackoffCap, 60 s and 1 h: the n-th retry waits a random time in [0, 60 s·2^n].
	TaskBackoff tasks.Backoff
	// TaskCheckInterval is how long an idle processor waits before it polls
	// the queues again; it sets the pickup latency of an idle system.
	// Defaults to 10 ms (p50 pickup ~5 ms; one cheap Redis script call per
	// 10 ms per process).
	TaskCheckInterval time.Duration
	// DelayedTaskCheckInterval is how often retries and scheduled tasks move
	// back to their queue. Defaults to 1 s.
	DelayedTaskCheckInterval time.Duration
	// ShutdownTimeout is how long a stopping worker lets in-flight pages
	// finish; the rest of each job is left to its retry. Defaults to 30 s.
	ShutdownTimeout time.Duration
	// MaxPages refuses documents with more pages. Defaults to
	// tasks.DefaultMaxPages, 2000.
	MaxPages int
	// Fetch configures downloads of inputs submitted by URL.
	Fetch FetchConfig
	// Webhooks holds the retry schedule and asynq options of
	// webhook:deliver tasks; see tasks.WebhookTaskConfig for its defaults.
	// The API's must be the same.
	Webhooks tasks.WebhookTaskConfig
	// WebhookConcurrency is how many webhook deliveries one process makes
	// at once. They run on an asynq server of their own, so that they never
	// wait behind long analysis tasks; it polls its queue every 100 ms at
	// most (or every TaskCheckInterval, if longer). Defaults to 10.
	WebhookConcurrency int
	// BlobSweepInterval is how often the worker deletes the inputs of jobs
	// that expired or were deleted (Deps.Sweeper). Defaults to 1 minute.
	BlobSweepInterval time.Duration
	// Economy tunes economy mode (see EconomyConfig's defaults).
	Economy EconomyConfig
}

// Defaults of Config and FetchConfig; the configuration's worker.* keys
// default to them too.
const (
	DefaultConcurrency              = 4
	DefaultPageConcurrency          = 8
	DefaultProcessPageConcurrency   = 16
	DefaultPageAttempts             = 3
	DefaultPageBackoffBase          = 500 * time.Millisecond
	DefaultPageBackoffCap           = 10 * time.Second
	DefaultTaskCheckInterval        = 10 * time.Millisecond
	DefaultDelayedTaskCheckInterval = time.Second
	DefaultShutdownTimeout          = 30 * time.Second
	DefaultWebhookConcurrency       = 10
	DefaultBlobSweepInterval        = time.Minute
	DefaultFetchTimeout             = 60 * time.Second
)

func (c *Config) setDefaults() {
	c.Economy.setDefaults()
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.PageConcurrency <= 0 {
		c.PageConcurrency = DefaultPageConcurrency
	}
	if c.ProcessPageConcurrency <= 0 {
		c.ProcessPageConcurrency = DefaultProcessPageConcurrency
	}
	if c.PageAttempts <= 0 {
		c.PageAttempts = DefaultPageAttempts
	}
	if c.PageBackoff.Base <= 0 {
		c.PageBackoff.Base = DefaultPageBackoffBase
	}
	if c.PageBackoff.Cap <= 0 {
		c.PageBackoff.Cap = DefaultPageBackoffCap
	}
	if c.TaskBackoff.Base <= 0 {
		c.TaskBackoff.Base = tasks.DefaultBackoffBase
	}
	if c.TaskBackoff.Cap <= 0 {
		c.TaskBackoff.Cap = tasks.DefaultBackoffCap
	}
	if c.TaskCheckInterval <= 0 {
		c.TaskCheckInterval = DefaultTaskCheckInterval
	}
	if c.DelayedTaskCheckInterval <= 0 {
		c.DelayedTaskCheckInterval = DefaultDelayedTaskCheckInterval
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.MaxPages <= 0 {
		c.MaxPages = tasks.DefaultMaxPages
	}
	c.Fetch.setDefaults()
	if len(c.Webhooks.Schedule) == 0 {
		c.Webhooks.Schedule = tasks.DefaultWebhookSchedule
	}
	if c.WebhookConcurrency <= 0 {
		c.WebhookConcurrency = DefaultWebhookConcurrency
	}
	if c.BlobSweepInterval <= 0 {
		c.BlobSweepInterval = DefaultBlobSweepInterval
	}
}

// Validate reports a configuration that cannot work.
func (c *Config) Validate() error {
	if c.PageConcurrency > c.ProcessPageConcurrency {
		return errors.New("worker: page_concurrency must not exceed process_page_concurrency")
	}
	if c.PageBackoff.Base > c.PageBackoff.Cap || c.TaskBackoff.Base > c.TaskBackoff.Cap {
		return errors.New("worker: a backoff base exceeds its cap")
	}
	return c.Webhooks.Validate()
}
