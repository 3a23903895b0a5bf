package tasks_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mmq/mmq/tasks"
)

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		want    tasks.Schedule
		wantErr bool
	}{
		{in: "0s,5s,5m,30m,2h,5h,10h,10h", want: tasks.DefaultWebhookSchedule},
		{in: " 0s , 1s ,", want: tasks.Schedule{0, time.Second}},
		{in: "100ms", want: tasks.Schedule{100 * time.Millisecond}},
		{in: "", wantErr: true},
		{in: "5", wantErr: true},
		{in: "0s,-1s", wantErr: true},
	}
	for _, c := range cases {
		got, err := tasks.ParseSchedule(c.in)
		if (err != nil) != c.wantErr || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("ParseSchedule(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.wantErr)
		}
	}
	if s := tasks.DefaultWebhookSchedule.String(); s != "0s,5s,5m0s,30m0s,2h0m0s,5h0m0s,10h0m0s,10h0m0s" {
		t.Errorf("String() = %q", s)
	}
}

func TestScheduleDelay(t *testing.T) {
	t.Parallel()
	s := tasks.Schedule{0, 10 * time.Second, time.Minute}
	cases := []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{0, 0.5, 0},
		{1, 0, 9 * time.Second},    // -10 %
		{1, 0.5, 10 * time.Second}, // middle
		{1, 1, 11 * time.Second},   // +10 %
		{2, 0.5, time.Minute},
		{7, 0.5, time.Minute}, // past the end: the last entry
		{-1, 0.5, 0},
	}
	for _, c := range cases {
		if got := s.Delay(c.n, func() float64 { return c.r }); got != c.want {
			t.Errorf("Delay(%d, %v) = %v, want %v", c.n, c.r, got, c.want)
		}
	}
	for range 100 {
		if d := s.Delay(1, nil); d < 9*time.Second || d > 11*time.Second {
			t.Fatalf("Delay(1) = %v, outside ±10 %% of 10 s", d)
		}
	}
}

func TestNewWebhookTask(t *testing.T) {
	t.Parallel()
	p := tasks.WebhookPayload{WebhookID: "msg_1", Event: tasks.EventJobSucceeded, JobID: "j1", URL: "https://example.com/h", Body: []byte(`{"type":"job.succeeded"}`)}
	task, err := tasks.NewWebhookTask(p, "", tasks.WebhookTaskConfig{Schedule: tasks.Schedule{0, time.Second, time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if task.Type() != tasks.TypeWebhookDeliver {
		t.Errorf("type %s", task.Type())
	}
	got, err := tasks.DecodeWebhookPayload(task.Payload())
	if err != nil || fmt.Sprint(got) != fmt.Sprint(p) {
		t.Errorf("payload round trip: %+v, %v", got, err)
	}
	if n := (tasks.WebhookTaskConfig{}).MaxRetry(); n != 7 {
		t.Errorf("default MaxRetry = %d, want 7", n)
	}
	if _, err := tasks.NewWebhookTask(tasks.WebhookPayload{WebhookID: "msg_1"}, "", tasks.WebhookTaskConfig{}); err == nil {
		t.Error("a payload without URL made a task")
	}
	if _, err := tasks.DecodeWebhookPayload([]byte(`{`)); !tasks.IsPermanent(err) {
		t.Errorf("bad payload: %v, want a permanent error", err)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	base := errors.New("HTTP 429")
	err := fmt.Errorf("deliver: %w", &tasks.RetryAfterError{Wait: time.Minute, Err: base})
	if tasks.RetryAfter(err) != time.Minute || !errors.Is(err, base) {
		t.Errorf("RetryAfter(%v) = %v", err, tasks.RetryAfter(err))
	}
	if tasks.RetryAfter(base) != 0 || tasks.IsPermanent(err) {
		t.Error("a plain error asks for a wait, or a retry-after error is permanent")
	}
}
