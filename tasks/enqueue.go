package tasks

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Defaults of EnqueueConfig.
const (
	DefaultTaskTimeout   = 30 * time.Minute
	DefaultTaskMaxRetry  = 3
	DefaultTaskRetention = 24 * time.Hour
)

// EnqueueConfig holds the asynq options every analysis task gets. Zero
// values mean the documented defaults.
type EnqueueConfig struct {
	// Timeout bounds one run of the task. Defaults to 30 minutes.
	Timeout time.Duration
	// MaxRetry is how many times asynq retries a task that failed with a
	// transient error. Defaults to 3; negative means no retries.
	MaxRetry int
	// Retention keeps a finished task visible in asynqmon. Defaults to 24 h.
	Retention time.Duration
}

func (c *EnqueueConfig) setDefaults() {
	if c.Timeout == 0 {
		c.Timeout = DefaultTaskTimeout
	}
	if c.MaxRetry == 0 {
		c.MaxRetry = DefaultTaskMaxRetry
	} else if c.MaxRetry < 0 {
		c.MaxRetry = 0
	}
	if c.Retention == 0 {
		c.Retention = DefaultTaskRetention
	}
}

// Validate reports an EnqueueConfig that cannot work.
func (c EnqueueConfig) Validate() error {
	if c.Timeout < 0 || c.Retention < 0 {
		return fmt.Errorf("tasks: negative task timeout %v or retention %v", c.Timeout, c.Retention)
	}
	return nil
}

// NewAnalyzeTask returns the task that analyzes the job p names, with the
// job id as asynq's TaskID so a job is enqueued at most once, and the queue
// chosen by the job's priority.
func NewAnalyzeTask(kind Kind, p AnalyzePayload, cfg EnqueueConfig) (*asynq.Task, error) {
	if p.JobID == "" {
		return nil, fmt.Errorf("tasks: payload without job id")
	}
	prio := p.Options.Priority
	if prio == "" {
		prio = PriorityDefault
	}
	if !prio.Valid() {
		return nil, Errorf(CodeInvalidRequest, "unknown priority %q (want critical, default or low)", prio)
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("tasks: encode payload: %w", err)
	}
	return asynq.NewTask(kind.TaskType(), b,
		asynq.TaskID(p.JobID),
		asynq.Queue(string(prio)),
		asynq.Timeout(cfg.Timeout),
		asynq.MaxRetry(cfg.MaxRetry),
		asynq.Retention(cfg.Retention),
	), nil
}

// DecodeAnalyzePayload parses an analysis task's payload. A payload that does
// not parse is a permanent error: no retry will fix it.
func DecodeAnalyzePayload(b []byte) (AnalyzePayload, error) {
	var p AnalyzePayload
	if err := json.Unmarshal(b, &p); err != nil {
		return p, WrapError(CodeInvalidRequest, err, "task payload is not valid JSON")
	}
	if p.JobID == "" {
		return p, Errorf(CodeInvalidRequest, "task payload has no job_id")
	}
	return p, nil
}
