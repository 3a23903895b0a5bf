package tasks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/hibiken/asynq"
)

// WebhookMessage is the body of every webhook: Standard Webhooks' envelope
// (https://www.standardwebhooks.com). It carries counts, metadata and links
// to the results, never the results themselves; the webhook package signs
// and sends it.
type WebhookMessage struct {
	// Type is the event, such as "job.succeeded".
	Type string `json:"type"`
	// Timestamp is when the event happened, not when it was sent.
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// JobLinks locate a job and its results in the API.
type JobLinks struct {
	Job     string `json:"job"`
	Results string `json:"results"`
}

// JobEventData is the data of job events.
type JobEventData struct {
	JobID        string          `json:"job_id"`
	BatchID      string          `json:"batch_id,omitempty"`
	Kind         Kind            `json:"kind,omitempty"`
	Status       Status          `json:"status"`
	PagesTotal   int             `json:"pages_total"`
	PagesDone    int             `json:"pages_done"`
	PagesFailed  int             `json:"pages_failed"`
	ErrorCode    Code            `json:"error_code,omitempty"`
	ErrorMessage string          `json:"error_message,omitempty"`
	Metadata     json.RawMessage `json:"metadata,omitempty"`
	// Usage is what the job spent: tokens and cost in USD.
	Usage      *Usage     `json:"usage,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Links      JobLinks   `json:"links"`
}

// BatchLinks locate a batch and its jobs in the API.
type BatchLinks struct {
	Batch string `json:"batch"`
	Jobs  string `json:"jobs"`
}

// BatchEventData is the data of batch.completed.
type BatchEventData struct {
	BatchID  string          `json:"batch_id"`
	Status   BatchStatus     `json:"status"`
	Total    int             `json:"total"`
	Counts   map[Status]int  `json:"counts"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Usage sums what the batch's jobs spent: tokens and cost in USD.
	Usage      *Usage     `json:"usage,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Links      BatchLinks `json:"links"`
}

// NewWebhookPayload returns the webhook:deliver payload of a message about
// event, which happened at ts, with data, to url. subject is what the event is
// about (a job or a batch id); the message id derives from event, subject
// and ts, so that the same event makes the same id however often its
// payload is built.
func NewWebhookPayload(event, subject string, ts time.Time, data any, url string) (WebhookPayload, error) {
	ts = ts.UTC()
	body, err := json.Marshal(WebhookMessage{Type: event, Timestamp: ts, Data: data})
	if err != nil {
		return WebhookPayload{}, fmt.Errorf("tasks: encode %s of %s: %w", event, subject, err)
	}
	return WebhookPayload{WebhookID: WebhookMessageID(event, subject, ts), Event: event, URL: url, Body: body}, nil
}

// WebhookMessageID returns the id of the message about event on subject at
// ts: "msg_" and 32 hex digits of a SHA-256. A job retried after it ended ends
// again at another time, so each of its ends has its own id.
func WebhookMessageID(event, subject string, ts time.Time) string {
	sum := sha256.Sum256([]byte(event + "\x00" + subject + "\x00" + ts.UTC().Format(time.RFC3339Nano)))
	return "msg_" + hex.EncodeToString(sum[:16])
}

// JobWebhookPayload returns the payload of the webhook that tells j's
// callback URL that j ended. j must have ended and have a callback URL.
func JobWebhookPayload(j *Job) (WebhookPayload, error) {
	if j.CallbackURL == "" || !j.Status.Final() {
		return WebhookPayload{}, fmt.Errorf("tasks: job %s (%s) has no end to announce to a callback URL", j.ID, j.Status)
	}
	path := "/v1/jobs/" + url.PathEscape(j.ID)
	data := JobEventData{
		JobID: j.ID, BatchID: j.BatchID, Kind: j.Kind, Status: j.Status,
		PagesTotal: j.PagesTotal, PagesDone: j.PagesDone, PagesFailed: j.PagesFailed,
		ErrorCode: j.ErrorCode, ErrorMessage: j.ErrorMessage, Metadata: j.Metadata, Usage: j.Usage,
		CreatedAt: j.CreatedAt.UTC(), FinishedAt: utc(j.FinishedAt),
		Links: JobLinks{Job: path, Results: path + "/results"},
	}
	p, err := NewWebhookPayload(JobEvent(j.Status), j.ID, endedAt(j.CreatedAt, j.FinishedAt), data, j.CallbackURL)
	p.JobID, p.Tenant = j.ID, j.Tenant
	return p, err
}

// BatchWebhookPayload returns the payload of the batch.completed webhook of
// b, which must have completed and have a callback URL.
func BatchWebhookPayload(b *Batch) (WebhookPayload, error) {
	if b.CallbackURL == "" || b.Status != BatchCompleted {
		return WebhookPayload{}, fmt.Errorf("tasks: batch %s (%s) has no end to announce to a callback URL", b.ID, b.Status)
	}
	path := "/v1/batches/" + url.PathEscape(b.ID)
	data := BatchEventData{
		BatchID: b.ID, Status: b.Status, Total: b.Total, Counts: b.Counts, Metadata: b.Metadata, Usage: b.Usage,
		CreatedAt: b.CreatedAt.UTC(), FinishedAt: utc(b.FinishedAt),
		Links: BatchLinks{Batch: path, Jobs: path + "/jobs"},
	}
	p, err := NewWebhookPayload(EventBatchCompleted, b.ID, endedAt(b.CreatedAt, b.FinishedAt), data, b.CallbackURL)
	p.BatchID, p.Tenant = b.ID, b.Tenant
	return p, err
}

// endedAt is when a job or batch ended: finished, or created when it ended
// without ever starting.
func endedAt(created time.Time, finished *time.Time) time.Time {
	if finished != nil {
		return *finished
	}
	return created
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// NewEndWebhookTasks returns the webhook:deliver tasks that announce the end
// of job j to its callback URL and, when b is not nil and completed, the end of
// batch b to its own: none for what has no callback URL. Each task's id is
// its message id, so enqueueing the tasks of one end twice — a task run
// again, the API and a worker both — sends it once while asynq retains the
// first (cfg.Retention); asynq.ErrTaskIDConflict then means "already
// announced".
func NewEndWebhookTasks(j *Job, b *Batch, cfg WebhookTaskConfig) ([]*asynq.Task, error) {
	var ps []WebhookPayload
	if j != nil && j.CallbackURL != "" {
		p, err := JobWebhookPayload(j)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	if b != nil && b.CallbackURL != "" && b.Status == BatchCompleted {
		p, err := BatchWebhookPayload(b)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	ts := make([]*asynq.Task, 0, len(ps))
	for _, p := range ps {
		t, err := NewWebhookTask(p, p.WebhookID, cfg)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}
