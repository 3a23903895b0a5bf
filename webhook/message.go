package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/mmq/mmq/tasks"
)

// Message is the body of every webhook: Standard Webhooks' envelope.
type Message struct {
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

// JobData is the data of job events.
type JobData struct {
	JobID        string          `json:"job_id"`
	BatchID      string          `json:"batch_id,omitempty"`
	Kind         tasks.Kind      `json:"kind,omitempty"`
	Status       tasks.Status    `json:"status"`
	PagesTotal   int             `json:"pages_total"`
	PagesDone    int             `json:"pages_done"`
	PagesFailed  int             `json:"pages_failed"`
	ErrorCode    tasks.Code      `json:"error_code,omitempty"`
	ErrorMessage string          `json:"error_message,omitempty"`
	Metadata     json.RawMessage `json:"metadata,omitempty"`
	// Usage is what the job spent: tokens and cost in USD.
	Usage      *tasks.Usage `json:"usage,omitempty"`
	CreatedAt  time.Time    `json:"created_at"`
	FinishedAt *time.Time   `json:"finished_at,omitempty"`
	Links      JobLinks     `json:"links"`
}

// BatchLinks locate a batch and its jobs in the API.
type BatchLinks struct {
	Batch string `json:"batch"`
	Jobs  string `json:"jobs"`
}

// BatchData is the data of batch.completed.
type BatchData struct {
	BatchID  string               `json:"batch_id"`
	Status   tasks.BatchStatus    `json:"status"`
	Total    int                  `json:"total"`
	Counts   map[tasks.Status]int `json:"counts"`
	Metadata json.RawMessage      `json:"metadata,omitempty"`
	// Usage sums what the batch's jobs spent: tokens and cost in USD.
	Usage      *tasks.Usage `json:"usage,omitempty"`
	CreatedAt  time.Time    `json:"created_at"`
	FinishedAt *time.Time   `json:"finished_at,omitempty"`
	Links      BatchLinks   `json:"links"`
}

// NewPayload returns the webhook:deliver payload of a message about event,
// which happened at ts, with data, to url. subject is what the event is
// about (a job or a batch id); the message id derives from event, subject
// and ts, so that the same event makes the same id however often its
// payload is built.
func NewPayload(event, subject string, ts time.Time, data any, url string) (tasks.WebhookPayload, error) {
	ts = ts.UTC()
	body, err := json.Marshal(Message{Type: event, Timestamp: ts, Data: data})
	if err != nil {
		return tasks.WebhookPayload{}, fmt.Errorf("webhook: encode %s of %s: %w", event, subject, err)
	}
	return tasks.WebhookPayload{WebhookID: MessageID(event, subject, ts), Event: event, URL: url, Body: body}, nil
}

// MessageID returns the id of the message about event on subject at ts:
// "msg_" and 32 hex digits of a SHA-256. A job retried after it ended ends
// again at another time, so each of its ends has its own id.
func MessageID(event, subject string, ts time.Time) string {
	sum := sha256.Sum256([]byte(event + "\x00" + subject + "\x00" + ts.UTC().Format(time.RFC3339Nano)))
	return "msg_" + hex.EncodeToString(sum[:16])
}

// JobPayload returns the payload of the webhook that tells j's callback URL
// that j ended. j must have ended and have a callback URL.
func JobPayload(j *tasks.Job) (tasks.WebhookPayload, error) {
	if j.CallbackURL == "" || !j.Status.Final() {
		return tasks.WebhookPayload{}, fmt.Errorf("webhook: job %s (%s) has no end to announce to a callback URL", j.ID, j.Status)
	}
	ts := j.CreatedAt
	if j.FinishedAt != nil {
		ts = *j.FinishedAt
	}
	path := "/v1/jobs/" + url.PathEscape(j.ID)
	data := JobData{
		JobID: j.ID, BatchID: j.BatchID, Kind: j.Kind, Status: j.Status,
		PagesTotal: j.PagesTotal, PagesDone: j.PagesDone, PagesFailed: j.PagesFailed,
		ErrorCode: j.ErrorCode, ErrorMessage: j.ErrorMessage, Metadata: j.Metadata, Usage: j.Usage,
		CreatedAt: j.CreatedAt.UTC(), FinishedAt: utc(j.FinishedAt),
		Links: JobLinks{Job: path, Results: path + "/results"},
	}
	p, err := NewPayload(tasks.JobEvent(j.Status), j.ID, ts, data, j.CallbackURL)
	p.JobID, p.Tenant = j.ID, j.Tenant
	return p, err
}

// BatchPayload returns the payload of the batch.completed webhook of b,
// which must have completed and have a callback URL.
func BatchPayload(b *tasks.Batch) (tasks.WebhookPayload, error) {
	if b.CallbackURL == "" || b.Status != tasks.BatchCompleted {
		return tasks.WebhookPayload{}, fmt.Errorf("webhook: batch %s (%s) has no end to announce to a callback URL", b.ID, b.Status)
	}
	ts := b.CreatedAt
	if b.FinishedAt != nil {
		ts = *b.FinishedAt
	}
	path := "/v1/batches/" + url.PathEscape(b.ID)
	data := BatchData{
		BatchID: b.ID, Status: b.Status, Total: b.Total, Counts: b.Counts, Metadata: b.Metadata, Usage: b.Usage,
		CreatedAt: b.CreatedAt.UTC(), FinishedAt: utc(b.FinishedAt),
		Links: BatchLinks{Batch: path, Jobs: path + "/jobs"},
	}
	p, err := NewPayload(tasks.EventBatchCompleted, b.ID, ts, data, b.CallbackURL)
	p.BatchID, p.Tenant = b.ID, b.Tenant
	return p, err
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
