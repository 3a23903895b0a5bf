package tasks

import (
	"encoding/json"
	"time"
)

// BatchStatus is the state of a batch.
type BatchStatus string

// Batch states: a batch is processing until every one of its jobs has ended.
const (
	BatchProcessing BatchStatus = "processing"
	BatchCompleted  BatchStatus = "completed"
)

// EventBatchCompleted is the notification and webhook event of a batch end.
const EventBatchCompleted = "batch.completed"

// Batch is a group of jobs submitted together.
type Batch struct {
	ID     string      `json:"id"`
	Status BatchStatus `json:"status"`
	// Tenant owns the batch and its jobs.
	Tenant      string          `json:"tenant,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	CallbackURL string          `json:"callback_url,omitempty"`
	// Total is the number of jobs; Ended how many have reached a final
	// state, with Counts splitting them by that state.
	Total      int            `json:"total"`
	Ended      int            `json:"ended"`
	Counts     map[Status]int `json:"counts"`
	CreatedAt  time.Time      `json:"created_at"`
	FinishedAt *time.Time     `json:"finished_at,omitempty"`
	// Usage sums the usage of the batch's jobs so far: tokens, cost in
	// USD, cache hits and misses. Absent while nothing was spent.
	Usage *Usage `json:"usage,omitempty"`
}

// NewBatchNotification describes the end of batch b.
func NewBatchNotification(b *Batch) Notification {
	return Notification{
		Event:      EventBatchCompleted,
		BatchID:    b.ID,
		Tenant:     b.Tenant,
		Status:     Status(b.Status),
		Counts:     b.Counts,
		Metadata:   b.Metadata,
		CreatedAt:  b.CreatedAt,
		FinishedAt: b.FinishedAt,
	}
}
