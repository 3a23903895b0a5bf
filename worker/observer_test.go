package worker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mmq/mmq/internal/testwait"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

// recorder is an Observer that remembers what it heard.
type recorder struct {
	mu      sync.Mutex
	ended   []*tasks.Job
	pages   map[tasks.PageStatus]int
	retries []tasks.Code
}

func (r *recorder) JobEnded(j *tasks.Job, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = append(r.ended, j)
}

func (r *recorder) PageDone(_ *tasks.Job, p tasks.PageResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pages == nil {
		r.pages = map[tasks.PageStatus]int{}
	}
	r.pages[p.Status]++
}

func (r *recorder) TaskRetry(_ *tasks.Job, code tasks.Code) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retries = append(r.retries, code)
}

func (r *recorder) WebhookAttempt(tasks.DeliveryAttempt) {}

func (b *testBundle) observedHandler(t *testing.T, a worker.Analyzer, obs worker.Observer) *worker.Handler {
	t.Helper()
	h, err := worker.NewHandler(b.config(), worker.Deps{Store: b.store, Blobs: b.blobs, Analyzer: a, OpenPDF: openPDF,
		Logger: zerolog.Nop(), Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestObserverHearsPagesAndTheEnd(t *testing.T) {
	b := setup(t)
	rec := &recorder{}
	var (
		h       *worker.Handler
		mu      sync.Mutex
		maxSeen int64
	)
	perJob := b.config().PageConcurrency
	fake := newFake(func(ctx context.Context, u tasks.Unit, call int) error {
		// The first pages hold their slots until the job's share is in
		// flight.
		if u.Index <= perJob {
			testwait.Until(ctx, 10*time.Second, func() bool { return h.PagesInFlight() >= int64(perJob) })
		}
		mu.Lock()
		maxSeen = max(maxSeen, h.PagesInFlight())
		mu.Unlock()
		if u.Index == 5 {
			return tasks.Errorf(tasks.CodeInvalidPDF, "page 5 is broken")
		}
		return nil
	})
	h = b.observedHandler(t, fake, rec)
	j, task := b.newJob(t, booklet, "")
	if err := h.ProcessTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.ended) != 1 || rec.ended[0].ID != j.ID || rec.ended[0].Status != tasks.StatusPartiallySucceeded {
		t.Errorf("JobEnded heard %+v, want the job once, partially succeeded", rec.ended)
	}
	if rec.pages[tasks.PageDone] != 63 || rec.pages[tasks.PageFailed] != 1 {
		t.Errorf("PageDone heard %v, want 63 done and 1 failed", rec.pages)
	}
	if len(rec.retries) != 0 {
		t.Errorf("TaskRetry heard %v", rec.retries)
	}
	// The semaphore gauge: the job's share of pages was in flight at once,
	// never more, and none are left.
	if maxSeen != int64(perJob) || h.PagesInFlight() != 0 || h.PageSlots() != 8 {
		t.Errorf("pages in flight: max %d of %d slots, %d left", maxSeen, h.PageSlots(), h.PagesInFlight())
	}
}

func TestObserverHearsTaskRetries(t *testing.T) {
	b := setup(t)
	rec := &recorder{}
	h := b.observedHandler(t, newFake(nil), rec)
	j, task := b.newJob(t, booklet, "")
	// The input is gone: a failure no retry of a page can fix, but one
	// that is not the input's fault either, so the task is retried.
	if err := b.blobs.Delete(context.Background(), b.job(t, j.ID).BlobKey); err != nil {
		t.Fatal(err)
	}
	if err := h.ProcessTask(context.Background(), task); err == nil {
		t.Fatal("task with a missing input succeeded")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.retries) != 1 || rec.retries[0] != tasks.CodeInternal || len(rec.ended) != 0 {
		t.Errorf("retries %v, ended %v; want one internal retry and no end", rec.retries, rec.ended)
	}
}
