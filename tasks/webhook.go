package tasks

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/hibiken/asynq"
)

// Job events, the notification and webhook event of each final state.
const (
	EventJobSucceeded          = "job.succeeded"
	EventJobPartiallySucceeded = "job.partially_succeeded"
	EventJobFailed             = "job.failed"
	EventJobCanceled           = "job.canceled"
)

// JobEvent returns the event of a job that ended in status s.
func JobEvent(s Status) string { return "job." + string(s) }

// WebhookQueue is the asynq queue of webhook:deliver tasks. A worker serves
// it with a server of its own, so that deliveries never wait behind long
// analysis tasks.
const WebhookQueue = "webhooks"

// WebhookPayload is the payload of a webhook:deliver task: one message to
// one URL. Body is sent as is on every attempt; each attempt signs it anew
// with its own timestamp.
type WebhookPayload struct {
	// WebhookID is the message id, sent as the webhook-id header. It is the
	// same on every attempt and on a redelivery, so receivers can drop
	// duplicates.
	WebhookID string `json:"webhook_id"`
	Event     string `json:"event"`
	// JobID or BatchID names what the message is about; delivery attempts
	// are logged with it.
	JobID   string `json:"job_id,omitempty"`
	BatchID string `json:"batch_id,omitempty"`
	// Tenant owns the job or batch: its own secret, if it has one, signs
	// the message instead of the deployment's. It travels with the task so
	// that each attempt and a redelivery sign alike without reading the
	// job.
	Tenant string          `json:"tenant,omitempty"`
	URL    string          `json:"url"`
	Body   json.RawMessage `json:"body"`
}

// WebhookTaskConfig holds the retry schedule and asynq options of
// webhook:deliver tasks. The worker and the API (for redeliveries) must use
// the same one.
type WebhookTaskConfig struct {
	// Schedule spaces the attempts; see Schedule. Defaults to
	// DefaultWebhookSchedule. A task gets len(Schedule)-1 retries.
	Schedule Schedule
	// Timeout bounds one run of the task, one attempt. Defaults to
	// DefaultWebhookTaskTimeout, 1 min.
	Timeout time.Duration
	// Retention keeps a finished delivery task, and with it its task id:
	// the same message enqueued again within Retention is refused as a
	// duplicate. Defaults to DefaultTaskRetention, 24 h.
	Retention time.Duration
}

// DefaultWebhookTaskTimeout is WebhookTaskConfig.Timeout's default.
const DefaultWebhookTaskTimeout = time.Minute

func (c *WebhookTaskConfig) setDefaults() {
	if len(c.Schedule) == 0 {
		c.Schedule = DefaultWebhookSchedule
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultWebhookTaskTimeout
	}
	if c.Retention == 0 {
		c.Retention = DefaultTaskRetention
	}
}

// Validate reports a WebhookTaskConfig that cannot work.
func (c WebhookTaskConfig) Validate() error {
	if c.Timeout < 0 || c.Retention < 0 {
		return fmt.Errorf("tasks: negative webhook task timeout %v or retention %v", c.Timeout, c.Retention)
	}
	for _, d := range c.Schedule {
		if d < 0 {
			return fmt.Errorf("tasks: webhook schedule %v has a negative delay", c.Schedule)
		}
	}
	return nil
}

// MaxRetry returns how many retries a delivery gets: one per entry of the
// schedule after the first.
func (c WebhookTaskConfig) MaxRetry() int {
	c.setDefaults()
	return len(c.Schedule) - 1
}

// NewWebhookTask returns the task that delivers p, with taskID as asynq's
// TaskID: a second enqueue under the same id fails with
// asynq.ErrTaskIDConflict while the first task is kept.
func NewWebhookTask(p WebhookPayload, taskID string, cfg WebhookTaskConfig) (*asynq.Task, error) {
	if p.WebhookID == "" || p.URL == "" || p.Event == "" {
		return nil, fmt.Errorf("tasks: webhook payload without id, URL or event")
	}
	if taskID == "" {
		taskID = p.WebhookID
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("tasks: encode webhook payload: %w", err)
	}
	return asynq.NewTask(TypeWebhookDeliver, b,
		asynq.TaskID(taskID),
		asynq.Queue(WebhookQueue),
		asynq.MaxRetry(cfg.MaxRetry()),
		asynq.Timeout(cfg.Timeout),
		asynq.Retention(cfg.Retention),
	), nil
}

// DecodeWebhookPayload parses a webhook:deliver task's payload. A payload
// that does not parse is a permanent error.
func DecodeWebhookPayload(b []byte) (WebhookPayload, error) {
	var p WebhookPayload
	if err := json.Unmarshal(b, &p); err != nil {
		return p, WrapError(CodeInvalidRequest, err, "webhook payload is not valid JSON")
	}
	if p.WebhookID == "" || p.URL == "" {
		return p, Errorf(CodeInvalidRequest, "webhook payload has no webhook_id or url")
	}
	return p, nil
}

// Schedule is a retry schedule: entry n is the delay before attempt n
// (from 0), counted from the previous attempt. Standard Webhooks' schedule
// starts at 0: the first attempt is immediate.
type Schedule []time.Duration

// DefaultWebhookSchedule is the Standard Webhooks schedule: at once, then
// after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h — eight attempts over
// about 27.5 hours.
var DefaultWebhookSchedule = Schedule{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// ParseSchedule parses comma-separated Go durations: "0s,5s,5m,30m".
func ParseSchedule(s string) (Schedule, error) {
	var sched Schedule
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil {
			return nil, fmt.Errorf("tasks: schedule %q: %w", s, err)
		}
		if d < 0 {
			return nil, fmt.Errorf("tasks: schedule %q: negative delay %v", s, d)
		}
		sched = append(sched, d)
	}
	if len(sched) == 0 {
		return nil, fmt.Errorf("tasks: schedule %q has no entries", s)
	}
	return sched, nil
}

// String formats s the way ParseSchedule reads it.
func (s Schedule) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

// scheduleJitter is the spread of a scheduled delay: ±10 %.
const scheduleJitter = 0.1

// Delay returns the jittered delay before attempt n (from 0); past the end
// of s the last entry repeats. rnd returns a float in [0, 1); nil means
// math/rand/v2.Float64.
func (s Schedule) Delay(n int, rnd func() float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	d := s[min(max(n, 0), len(s)-1)]
	return time.Duration(float64(d) * (1 - scheduleJitter + 2*scheduleJitter*rnd()))
}

// RetryAfterError is a transient error whose sender asked not to be tried
// again before Wait passes (an HTTP Retry-After). A retry policy should wait
// at least that long.
type RetryAfterError struct {
	Wait time.Duration
	Err  error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %v)", e.Err, e.Wait)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns the wait asked by a *RetryAfterError in err's chain,
// or 0.
func RetryAfter(err error) time.Duration {
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return ra.Wait
	}
	return 0
}

// DeliveryOutcome is what became of one webhook delivery attempt.
type DeliveryOutcome string

// Delivery outcomes.
const (
	// DeliveryDelivered: the receiver answered 2xx.
	DeliveryDelivered DeliveryOutcome = "delivered"
	// DeliveryRetrying: the attempt failed and another is scheduled.
	DeliveryRetrying DeliveryOutcome = "retrying"
	// DeliveryFailed: the attempt failed and it was the last one.
	DeliveryFailed DeliveryOutcome = "failed"
	// DeliveryDisabled: the receiver answered 410 Gone, which asks for no
	// more attempts of this message.
	DeliveryDisabled DeliveryOutcome = "disabled"
)

// DeliveryAttempt is the log entry of one webhook delivery attempt.
type DeliveryAttempt struct {
	WebhookID string `json:"webhook_id"`
	Event     string `json:"event"`
	JobID     string `json:"job_id,omitempty"`
	BatchID   string `json:"batch_id,omitempty"`
	URL       string `json:"url"`
	// Attempt counts from 1 for each delivery task; a redelivery starts
	// again at 1.
	Attempt int       `json:"attempt"`
	Time    time.Time `json:"time"`
	// StatusCode is the receiver's HTTP status; 0 when none came.
	StatusCode int   `json:"status_code,omitempty"`
	LatencyMS  int64 `json:"latency_ms"`
	// Error says why the attempt failed: a network error, a timeout, or
	// the status.
	Error string `json:"error,omitempty"`
	// Response is the start of the receiver's answer, for debugging.
	Response string          `json:"response,omitempty"`
	Outcome  DeliveryOutcome `json:"outcome"`
}
