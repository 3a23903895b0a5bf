package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/mmq/mmq/tasks"
)

func TestBackoffCeiling(t *testing.T) {
	t.Parallel()
	seed := tasks.Backoff{Base: 60 * time.Second, Cap: time.Hour}
	cases := []struct {
		b    tasks.Backoff
		n    int
		want time.Duration
	}{
		{seed, 0, 60 * time.Second},
		{seed, 1, 120 * time.Second},
		{seed, 2, 240 * time.Second},
		{seed, 5, 32 * time.Minute},
		{seed, 6, time.Hour}, // 64 min capped
		{seed, 1000, time.Hour},
		{seed, -3, 60 * time.Second},
		{tasks.Backoff{}, 0, 60 * time.Second}, // zero value = seed default
		{tasks.Backoff{Base: time.Millisecond, Cap: 5 * time.Millisecond}, 3, 5 * time.Millisecond},
	}
	for _, c := range cases {
		if got := c.b.Ceiling(c.n); got != c.want {
			t.Errorf("%+v.Ceiling(%d) = %v, want %v", c.b, c.n, got, c.want)
		}
	}
}

// Full jitter: delays are spread over [0, ceiling], not bunched at it.
func TestBackoffFullJitter(t *testing.T) {
	t.Parallel()
	b := tasks.Backoff{Base: time.Second, Cap: time.Minute}
	for _, r := range []float64{0, 0.5, 0.999999} {
		fixed := b
		fixed.Rand = func() float64 { return r }
		got := fixed.Delay(2)
		want := time.Duration(r * float64(4*time.Second+1))
		if got != want {
			t.Errorf("Delay(2) with rand %v = %v, want %v", r, got, want)
		}
	}
	var below, above int
	for range 2000 {
		d := b.Delay(3) // ceiling 8 s
		if d < 0 || d > 8*time.Second {
			t.Fatalf("Delay(3) = %v outside [0, 8s]", d)
		}
		if d < 4*time.Second {
			below++
		} else {
			above++
		}
	}
	if below < 800 || above < 800 {
		t.Errorf("delays not uniform: %d below half, %d above", below, above)
	}
	fn := b.RetryDelayFunc()
	if d := fn(0, errors.New("x"), nil); d > time.Second {
		t.Errorf("RetryDelayFunc(0) = %v > base", d)
	}
}

func TestRetry(t *testing.T) {
	t.Parallel()
	fast := tasks.Backoff{Base: time.Millisecond, Cap: 2 * time.Millisecond}
	transient := errors.New("503")
	cases := []struct {
		name      string
		failFirst int   // calls that fail before success
		err       error // the failure
		attempts  int
		wantCalls int
		wantErr   bool
	}{
		{"succeeds at once", 0, transient, 3, 1, false},
		{"succeeds on the third", 2, transient, 3, 3, false},
		{"exhausts its budget", 10, transient, 3, 3, true},
		{"permanent is not retried", 10, tasks.Errorf(tasks.CodeProviderRefused, "400"), 3, 1, true},
		{"SkipRetry is not retried", 10, fmt.Errorf("bad: %w", asynq.SkipRetry), 5, 1, true},
		{"zero attempts means one", 10, transient, 0, 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls, retries := 0, 0
			n, err := fast.Retry(context.Background(), c.attempts, func(context.Context) error {
				calls++
				if calls <= c.failFirst {
					return c.err
				}
				return nil
			}, func(int, error, time.Duration) { retries++ })
			if calls != c.wantCalls || n != calls || (err != nil) != c.wantErr || retries != max(calls-1, 0) {
				t.Errorf("calls %d (reported %d), retries %d, err %v; want %d calls, err %v", calls, n, retries, err, c.wantCalls, c.wantErr)
			}
		})
	}
	t.Run("stops when the context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		slow := tasks.Backoff{Base: time.Hour, Cap: time.Hour, Rand: func() float64 { return 1 }}
		start := time.Now()
		// The context ends as the first wait, of an hour, begins.
		n, err := slow.Retry(ctx, 5, func(context.Context) error { return transient }, func(int, error, time.Duration) { cancel() })
		if n != 1 || !errors.Is(err, transient) || time.Since(start) > 5*time.Second {
			t.Errorf("n %d err %v after %v", n, err, time.Since(start))
		}
	})
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err       error
		permanent bool
		code      tasks.Code
	}{
		{tasks.Errorf(tasks.CodeInvalidPDF, "x"), true, tasks.CodeInvalidPDF},
		{tasks.Errorf(tasks.CodeEncryptedPDF, "x"), true, tasks.CodeEncryptedPDF},
		{tasks.Errorf(tasks.CodeEmptyFile, "x"), true, tasks.CodeEmptyFile},
		{tasks.Errorf(tasks.CodeTooManyPages, "x"), true, tasks.CodeTooManyPages},
		{tasks.Errorf(tasks.CodeProviderRefused, "400"), true, tasks.CodeProviderRefused},
		{tasks.Errorf(tasks.CodeFetchFailed, "404"), true, tasks.CodeFetchFailed},
		{tasks.Errorf(tasks.CodeUnavailable, "redis down"), false, tasks.CodeUnavailable},
		{tasks.Errorf(tasks.CodeProviderFailed, "529"), false, tasks.CodeProviderFailed},
		{fmt.Errorf("wrapped: %w", tasks.Errorf(tasks.CodeInvalidPDF, "x")), true, tasks.CodeInvalidPDF},
		{errors.New("dial tcp: refused"), false, tasks.CodeInternal},
		{context.DeadlineExceeded, false, tasks.CodeTimeout},
		{fmt.Errorf("x: %w", context.Canceled), false, tasks.CodeCanceled},
		{fmt.Errorf("x: %w", asynq.SkipRetry), true, tasks.CodeInternal},
		{nil, false, ""},
	}
	for _, c := range cases {
		if got := tasks.IsPermanent(c.err); got != c.permanent {
			t.Errorf("IsPermanent(%v) = %v", c.err, got)
		}
		if got := tasks.ErrorCode(c.err); got != c.code {
			t.Errorf("ErrorCode(%v) = %q, want %q", c.err, got, c.code)
		}
		forAsynq := tasks.ForAsynq(c.err)
		if skip := errors.Is(forAsynq, asynq.SkipRetry); skip != c.permanent {
			t.Errorf("ForAsynq(%v) skips retry: %v, want %v", c.err, skip, c.permanent)
		}
		if c.err != nil && tasks.ErrorCode(forAsynq) != c.code {
			t.Errorf("ForAsynq changed the code of %v", c.err)
		}
	}
	e := tasks.WrapError(tasks.CodeInvalidPDF, errors.New("xref broken at 1234"), "the PDF is damaged")
	if tasks.ErrorMessage(e) != "the PDF is damaged" {
		t.Errorf("ErrorMessage = %q: the client sees the message, not the cause", tasks.ErrorMessage(e))
	}
}

func TestNewAnalyzeTask(t *testing.T) {
	t.Parallel()
	p := tasks.AnalyzePayload{JobID: "j1", BlobKey: "abc", Options: tasks.Options{Priority: tasks.PriorityCritical}}
	task, err := tasks.NewAnalyzeTask(tasks.KindDocument, p, tasks.EnqueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if task.Type() != tasks.TypeDocumentAnalyze {
		t.Errorf("type %q", task.Type())
	}
	got, err := tasks.DecodeAnalyzePayload(task.Payload())
	if err != nil || got.JobID != "j1" || got.BlobKey != "abc" {
		t.Errorf("round trip: %+v %v", got, err)
	}
	if _, err := tasks.NewAnalyzeTask(tasks.KindVideo, tasks.AnalyzePayload{JobID: "j", Options: tasks.Options{Priority: "urgent"}}, tasks.EnqueueConfig{}); tasks.ErrorCode(err) != tasks.CodeInvalidRequest {
		t.Errorf("unknown priority: %v", err)
	}
	if _, err := tasks.DecodeAnalyzePayload([]byte("{")); !tasks.IsPermanent(err) {
		t.Errorf("garbage payload must be permanent: %v", err)
	}
}
