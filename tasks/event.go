package tasks

import "encoding/json"

// Event is one entry of a job's or batch's live event stream.
type Event struct {
	// ID orders events; a client resumes after it (SSE Last-Event-ID).
	ID string `json:"id"`
	// Type is "state" (the job or batch changed state; Data.final marks its
	// end), "page" (a page or frame finished) or "job" (a job of a batch
	// ended).
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// Final reports whether e is the last event of its stream.
func (e Event) Final() bool {
	var d struct {
		Final bool `json:"final"`
	}
	return e.Type == "state" && json.Unmarshal(e.Data, &d) == nil && d.Final
}

// Stream kinds of a StreamRef.
const (
	StreamJob           = "job"
	StreamBatch         = "batch"
	StreamNotifications = "notifications"
)

// StreamRef names one event stream: a job's or a batch's (Kind StreamJob
// or StreamBatch, with its ID), or the notifications (StreamNotifications,
// with the tenant whose notifications as ID; "" for every tenant's).
type StreamRef struct {
	Kind string
	ID   string
}

// StreamCursor is a position in a stream: the events after After.
type StreamCursor struct {
	Stream StreamRef
	After  string
}
