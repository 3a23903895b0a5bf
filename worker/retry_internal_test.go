package worker

import (
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/mmq/mmq/tasks"
)

// The servers' RetryDelayFunc dispatches on the task type: webhooks follow
// their schedule or a longer Retry-After, analysis tasks the backoff.
func TestRetryDelay(t *testing.T) {
	t.Parallel()
	h := &Handler{cfg: Config{
		TaskBackoff: tasks.Backoff{Base: time.Second, Cap: time.Minute},
		Webhooks:    tasks.WebhookTaskConfig{Schedule: tasks.Schedule{0, 10 * time.Second, time.Hour}},
	}}
	hook := asynq.NewTask(tasks.TypeWebhookDeliver, nil)
	doc := asynq.NewTask(tasks.TypeDocumentAnalyze, nil)
	plain := errors.New("HTTP 503")
	cases := []struct {
		name     string
		n        int
		err      error
		task     *asynq.Task
		min, max time.Duration
	}{
		{"first webhook retry", 0, plain, hook, 9 * time.Second, 11 * time.Second},
		{"second webhook retry", 1, plain, hook, 54 * time.Minute, 66 * time.Minute},
		{"past the schedule", 5, plain, hook, 54 * time.Minute, 66 * time.Minute},
		{"longer Retry-After wins", 0, &tasks.RetryAfterError{Wait: 3 * time.Minute, Err: plain}, hook, 3 * time.Minute, 3 * time.Minute},
		{"shorter Retry-After loses", 1, &tasks.RetryAfterError{Wait: time.Second, Err: plain}, hook, 54 * time.Minute, 66 * time.Minute},
		{"analysis task backs off", 2, plain, doc, 0, 4 * time.Second},
		{"analysis task ignores Retry-After", 0, &tasks.RetryAfterError{Wait: time.Hour, Err: plain}, doc, 0, time.Second},
	}
	for _, c := range cases {
		if d := h.retryDelay(c.n, c.err, c.task); d < c.min || d > c.max {
			t.Errorf("%s: %v, want %v..%v", c.name, d, c.min, c.max)
		}
	}
}
