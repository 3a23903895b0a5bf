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
		{"longer Retry-After wins", 0, &tasks.RetryAfterError{Wait: 3 * time.Minute, Err: plain}, hook, 3 * time.Minute, 3*time.Minute + time.Second},
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

// asynq keeps a retry's time in whole seconds, rounded down: the delay is
// rounded up to a whole second so a retry never comes before Retry-After.
func TestCeilToSecond(t *testing.T) {
	t.Parallel()
	base := time.Unix(1000, 0)
	cases := []struct {
		now  time.Time
		d    time.Duration
		want time.Duration
	}{
		{base, 3 * time.Second, 3 * time.Second},
		{base.Add(100 * time.Millisecond), 3 * time.Second, 3900 * time.Millisecond},
		{base.Add(999 * time.Millisecond), 3 * time.Second, 3001 * time.Millisecond},
		{base.Add(500 * time.Millisecond), 500 * time.Millisecond, 500 * time.Millisecond},
	}
	for _, c := range cases {
		got := ceilToSecond(c.now, c.d)
		if got != c.want {
			t.Errorf("ceilToSecond(%v, %v) = %v, want %v", c.now, c.d, got, c.want)
		}
		if at := c.now.Add(got); at.Unix() < c.now.Add(c.d).Unix() || at.Truncate(time.Second) != at {
			t.Errorf("ceilToSecond(%v, %v): retry at %v, before the asked time or not on a second", c.now, c.d, at)
		}
	}
}
