package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/internal/testwait"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

var (
	_ worker.Store = (*store.Redis)(nil)
	_ worker.Blobs = (*fsblob.Blobs)(nil)
)

// fakeAnalyzer counts calls per page and runs an optional behaviour.
type fakeAnalyzer struct {
	mu       sync.Mutex
	calls    map[string]int // "job/page" -> calls
	finished map[string]int // calls that returned success
	fn       func(ctx context.Context, u tasks.Unit, call int) error
}

func newFake(fn func(ctx context.Context, u tasks.Unit, call int) error) *fakeAnalyzer {
	return &fakeAnalyzer{calls: map[string]int{}, finished: map[string]int{}, fn: fn}
}

func (f *fakeAnalyzer) Analyze(ctx context.Context, u tasks.Unit) (tasks.Analysis, error) {
	key := fmt.Sprintf("%s/%d", u.JobID, u.Index)
	f.mu.Lock()
	f.calls[key]++
	call := f.calls[key]
	f.mu.Unlock()
	if len(u.Data) == 0 || u.MIME != "application/pdf" {
		return tasks.Analysis{}, fmt.Errorf("unit %s has no single-page PDF", key)
	}
	if f.fn != nil {
		if err := f.fn(ctx, u, call); err != nil {
			return tasks.Analysis{}, err
		}
	}
	f.mu.Lock()
	f.finished[key]++
	f.mu.Unlock()
	return tasks.Analysis{Output: json.RawMessage(fmt.Sprintf(`{"page":%d,"bytes":%d}`, u.Index, len(u.Data)))}, nil
}

func (f *fakeAnalyzer) snapshot() (calls, finished map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls, finished = map[string]int{}, map[string]int{}
	for k, v := range f.calls {
		calls[k] = v
	}
	for k, v := range f.finished {
		finished[k] = v
	}
	return calls, finished
}

type testBundle struct {
	rdb   *redis.Client
	store *store.Redis
	blobs *fsblob.Blobs
}

func setup(t testing.TB) *testBundle {
	t.Helper()
	rdb := redistest.New(t, redistest.DBWorker)
	st, err := store.New(rdb, store.Config{Prefix: "mmqtest"})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &testBundle{rdb: rdb, store: st, blobs: blobs}
}

func openPDF(ctx context.Context, data []byte, password string) (worker.Document, error) {
	return media.OpenPDF(ctx, data, media.PDFOptions{Password: password})
}

func (b *testBundle) config() worker.Config {
	return worker.Config{
		PageConcurrency:        4,
		ProcessPageConcurrency: 8,
		PageBackoff:            tasks.Backoff{Base: time.Millisecond, Cap: 5 * time.Millisecond},
		TaskBackoff:            tasks.Backoff{Base: 10 * time.Millisecond, Cap: 50 * time.Millisecond},
		ShutdownTimeout:        2 * time.Second,
	}
}

func (b *testBundle) handler(t testing.TB, a worker.Analyzer) *worker.Handler {
	t.Helper()
	h, err := worker.NewHandler(b.config(), worker.Deps{Store: b.store, Blobs: b.blobs, Analyzer: a, OpenPDF: openPDF, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// newJob stores file as a queued job's input and returns its task.
func (b *testBundle) newJob(t testing.TB, file, password string) (*tasks.Job, *asynq.Task) {
	t.Helper()
	j := &tasks.Job{ID: fmt.Sprintf("job-%d", jobSeq.Add(1)), Kind: tasks.KindDocument, HasPassword: password != ""}
	return b.storeJob(t, file, j, password)
}

// storeJob stores file as the input of j, creates j queued, and returns its
// analysis task (2 retries).
func (b *testBundle) storeJob(t testing.TB, file string, j *tasks.Job, password string) (*tasks.Job, *asynq.Task) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key, err := b.blobs.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	j.Status, j.BlobKey, j.Size, j.CreatedAt = tasks.StatusQueued, key, int64(len(data)), time.Now().UTC()
	if err := b.store.CreateJob(ctx, j, password); err != nil {
		t.Fatal(err)
	}
	task, err := tasks.NewAnalyzeTask(j.Kind, tasks.AnalyzePayload{JobID: j.ID, BlobKey: key, Options: j.Options}, tasks.EnqueueConfig{MaxRetry: 2})
	if err != nil {
		t.Fatal(err)
	}
	return j, task
}

var jobSeq atomic.Int64

func (b *testBundle) job(t testing.TB, id string) *tasks.Job {
	t.Helper()
	j, err := b.store.GetJob(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

const booklet = "testdata/pdfcpu-bookletTest.pdf" // 64 pages

func TestDocumentJobSucceeds(t *testing.T) {
	b := setup(t)
	fake := newFake(nil)
	j, task := b.newJob(t, booklet, "")
	if err := b.handler(t, fake).ProcessTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	got := b.job(t, j.ID)
	if got.Status != tasks.StatusSucceeded || got.PagesTotal != 64 || got.PagesDone != 64 || got.PagesFailed != 0 || got.Attempts != 1 {
		t.Fatalf("job = %+v, want succeeded with 64/64 pages in 1 attempt", got)
	}
	rs, more, err := b.store.Results(context.Background(), j.ID, -1, 1000)
	if err != nil || more || len(rs) != 64 {
		t.Fatalf("results: %d (more %v) err %v", len(rs), more, err)
	}
	for i, r := range rs {
		if r.Index != i+1 || r.Status != tasks.PageDone || r.Attempts != 1 {
			t.Errorf("result %d = index %d status %s attempts %d", i, r.Index, r.Status, r.Attempts)
		}
	}
	ns, err := b.store.Notifications(context.Background(), "", "", 10, 0)
	if err != nil || len(ns) != 1 || ns[0].JobID != j.ID || ns[0].Status != tasks.StatusSucceeded || ns[0].PagesDone != 64 {
		t.Fatalf("notifications = %+v, err %v; want one job.succeeded", ns, err)
	}
}

func TestPageRetriesAndPartialSuccess(t *testing.T) {
	b := setup(t)
	fake := newFake(func(_ context.Context, u tasks.Unit, call int) error {
		switch {
		case u.Index == 2 && call < 3:
			return errors.New("transient hiccup")
		case u.Index == 3:
			return errors.New("always down")
		case u.Index == 4:
			return tasks.Errorf(tasks.CodeProviderRefused, "provider said 400")
		}
		return nil
	})
	j, task := b.newJob(t, booklet, "")
	if err := b.handler(t, fake).ProcessTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	got := b.job(t, j.ID)
	if got.Status != tasks.StatusPartiallySucceeded || got.PagesDone != 62 || got.PagesFailed != 2 || got.ErrorCode != tasks.CodePagesFailed {
		t.Fatalf("job = %+v, want partially_succeeded 62 done 2 failed", got)
	}
	calls, _ := fake.snapshot()
	want := map[int]int{2: 3, 3: 3, 4: 1, 5: 1}
	for page, n := range want {
		if c := calls[fmt.Sprintf("%s/%d", j.ID, page)]; c != n {
			t.Errorf("page %d analyzed %d times, want %d", page, c, n)
		}
	}
	rs, _, _ := b.store.Results(context.Background(), j.ID, 1, 3)
	if rs[0].Status != tasks.PageDone || rs[0].Attempts != 3 || rs[1].Status != tasks.PageFailed || rs[2].ErrorCode != tasks.CodeProviderRefused {
		t.Errorf("results 2..4 = %+v", rs)
	}
}

// The checkpoint: a handler killed mid-job leaves its finished pages in the
// store, and the next run analyzes only the others.
func TestCheckpointAfterKilledHandler(t *testing.T) {
	b := setup(t)
	ctx, kill := context.WithCancel(context.Background())
	var finishedBeforeKill atomic.Int64
	fake := newFake(func(ctx context.Context, u tasks.Unit, call int) error {
		if u.Index <= 20 {
			finishedBeforeKill.Add(1)
			return nil
		}
		<-ctx.Done() // pages after 20 hang until the kill
		return ctx.Err()
	})
	j, task := b.newJob(t, booklet, "")
	errc := make(chan error, 1)
	go func() { errc <- b.handler(t, fake).ProcessTask(ctx, task) }()
	testwait.For(t, 10*time.Second, "20 pages stored", func() bool { return b.job(t, j.ID).PagesDone == 20 })
	kill()
	if err := <-errc; err == nil {
		t.Fatal("killed handler returned nil")
	}
	if got := b.job(t, j.ID); got.Status.Final() || got.PagesDone != 20 {
		t.Fatalf("after kill: job %+v; want not final with 20 pages done", got)
	}
	_, finishedRun1 := fake.snapshot()

	second := newFake(nil)
	if err := b.handler(t, second).ProcessTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	calls2, _ := second.snapshot()
	for key := range finishedRun1 {
		if calls2[key] > 0 {
			t.Errorf("page %s finished before the kill and was analyzed again", key)
		}
	}
	if len(calls2) != 44 {
		t.Errorf("second run analyzed %d pages, want the 44 unfinished ones", len(calls2))
	}
	if got := b.job(t, j.ID); got.Status != tasks.StatusSucceeded || got.PagesDone != 64 || got.Attempts != 2 {
		t.Fatalf("job = %+v, want succeeded, 64 done, 2 attempts", got)
	}
}

func TestBadInputFailsWithoutRetry(t *testing.T) {
	cases := []struct {
		file     string
		password string
		code     tasks.Code
	}{
		{"testdata/qpdf-issue-146-no-startxref.pdf", "", tasks.CodeInvalidPDF},
		{"testdata/qpdf-xref-compressed-in-compressed.pdf", "", tasks.CodeInvalidPDF}, // panics pdfcpu
		{"testdata/qpdf-enc-R3-rc4-128-userpw-view.pdf", "", tasks.CodeEncryptedPDF},
		{"testdata/qpdf-enc-R3-rc4-128-userpw-view.pdf", "wrong", tasks.CodeWrongPassword},
	}
	b := setup(t)
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%s", c.file, c.code), func(t *testing.T) {
			fake := newFake(nil)
			j, task := b.newJob(t, c.file, c.password)
			err := b.handler(t, fake).ProcessTask(context.Background(), task)
			if !errors.Is(err, asynq.SkipRetry) {
				t.Errorf("handler returned %v; want it to wrap asynq.SkipRetry", err)
			}
			got := b.job(t, j.ID)
			if got.Status != tasks.StatusFailed || got.ErrorCode != c.code || got.ErrorMessage == "" {
				t.Errorf("job = %s %s %q; want failed %s with a message", got.Status, got.ErrorCode, got.ErrorMessage, c.code)
			}
			if c.password != "" && strings.Contains(got.ErrorMessage, c.password) {
				t.Errorf("error message leaks the password: %q", got.ErrorMessage)
			}
		})
	}
}

func TestEncryptedWithPassword(t *testing.T) {
	b := setup(t)
	j, task := b.newJob(t, "testdata/qpdf-enc-R3-rc4-128-userpw-view.pdf", "view")
	if err := b.handler(t, newFake(nil)).ProcessTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	got := b.job(t, j.ID)
	if got.Status != tasks.StatusSucceeded || got.PagesDone != 30 {
		t.Fatalf("job = %+v, want 30 pages done", got)
	}
	if pw, _ := b.store.Password(context.Background(), j.ID); pw != "" {
		t.Errorf("password still stored after the job ended")
	}
}

// Two worker servers on one queue: every page of every job is analyzed
// exactly once.
func TestTwoWorkersAnalyzeEachPageOnce(t *testing.T) {
	b := setup(t)
	fake := newFake(func(context.Context, tasks.Unit, int) error { time.Sleep(time.Millisecond); return nil })
	cfg := b.config()
	cfg.TaskCheckInterval = 5 * time.Millisecond
	var workers []*worker.Worker
	for range 2 {
		w, err := worker.New(cfg, worker.Deps{Store: b.store, Blobs: b.blobs, Analyzer: fake, OpenPDF: openPDF, Logger: zerolog.Nop()},
			redis.NewClient(redistest.Options(t, redistest.DBWorker)))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		workers = append(workers, w)
	}
	defer func() {
		for _, w := range workers {
			w.Shutdown()
		}
	}()
	client := asynq.NewClientFromRedisClient(b.rdb)
	var ids []string
	for range 6 {
		j, task := b.newJob(t, booklet, "")
		if _, err := client.Enqueue(task); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	for _, id := range ids {
		testwait.For(t, 30*time.Second, "job "+id+" to end", func() bool { return b.job(t, id).Status.Final() })
		if got := b.job(t, id); got.Status != tasks.StatusSucceeded || got.PagesDone != 64 {
			t.Errorf("job %s: %+v", id, got)
		}
	}
	calls, _ := fake.snapshot()
	if len(calls) != 6*64 {
		t.Errorf("%d distinct pages analyzed, want %d", len(calls), 6*64)
	}
	for k, n := range calls {
		if n != 1 {
			t.Errorf("page %s analyzed %d times", k, n)
		}
	}
}

// A partially succeeded job, reopened, runs only its failed pages again.
func TestRetryRunsOnlyFailedPages(t *testing.T) {
	b := setup(t)
	broken := newFake(func(_ context.Context, u tasks.Unit, _ int) error {
		if u.Index == 3 || u.Index == 40 {
			return errors.New("provider down")
		}
		return nil
	})
	j, task := b.newJob(t, booklet, "")
	if err := b.handler(t, broken).ProcessTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	if got := b.job(t, j.ID); got.Status != tasks.StatusPartiallySucceeded || got.PagesFailed != 2 {
		t.Fatalf("first run: %+v", got)
	}
	reopened, err := b.store.ReopenJob(context.Background(), j.ID)
	if err != nil || reopened.Status != tasks.StatusQueued || reopened.PagesFailed != 0 || reopened.PagesDone != 62 || reopened.ErrorCode != "" {
		t.Fatalf("ReopenJob = %+v, %v", reopened, err)
	}
	fixed := newFake(nil)
	if err := b.handler(t, fixed).ProcessTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	calls, _ := fixed.snapshot()
	if len(calls) != 2 || calls[j.ID+"/3"] != 1 || calls[j.ID+"/40"] != 1 {
		t.Errorf("retry analyzed %v, want pages 3 and 40 once", calls)
	}
	if got := b.job(t, j.ID); got.Status != tasks.StatusSucceeded || got.PagesDone != 64 || got.PagesFailed != 0 {
		t.Errorf("after retry: %+v", got)
	}
	if _, err := b.store.ReopenJob(context.Background(), j.ID); tasks.ErrorCode(err) != tasks.CodeConflict {
		t.Errorf("reopening a succeeded job: %v, want conflict", err)
	}
}

// endCounting counts how the worker ends jobs.
type endCounting struct {
	*store.Redis
	endJob, lastEnded atomic.Int64
}

func (e *endCounting) EndJob(ctx context.Context, id string) (*tasks.Job, error) {
	e.endJob.Add(1)
	return e.Redis.EndJob(ctx, id)
}

func (e *endCounting) SaveLastPage(ctx context.Context, id string, r tasks.PageResult) (*tasks.Job, error) {
	j, err := e.Redis.SaveLastPage(ctx, id, r)
	if j != nil {
		e.lastEnded.Add(1)
	}
	return j, err
}

// The last page a run saves ends the job in the same step, but only once
// every other page of the run is saved: pages counted failed by an earlier
// run and analyzed again do not end the job while one is in flight.
func TestLastPageEndsJob(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	j, task := b.newJob(t, booklet, "")
	// An earlier run saved pages 3..64 done and 1 and 2 failed, and did not
	// end the job.
	if _, err := b.store.StartJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.store.SetPagesTotal(ctx, j.ID, 64); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 64; i++ {
		r := tasks.PageResult{Index: i, Status: tasks.PageDone, Attempts: 1, Output: json.RawMessage(`{}`)}
		if i <= 2 {
			r = tasks.PageResult{Index: i, Status: tasks.PageFailed, Attempts: 3, ErrorCode: tasks.CodeInternal}
		}
		if err := b.store.SavePage(ctx, j.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	// This run analyzes pages 1 and 2 again; page 2 ends after page 1 is
	// stored, so that its save is the last.
	a := newFake(func(ctx context.Context, u tasks.Unit, call int) error {
		if u.Index == 2 && !testwait.Until(ctx, 10*time.Second, func() bool {
			got, err := b.store.GetJob(ctx, j.ID)
			return err == nil && got.PagesDone == 63
		}) {
			return errors.New("page 1 was never stored")
		}
		return nil
	})
	st := &endCounting{Redis: b.store}
	h, err := worker.NewHandler(b.config(), worker.Deps{Store: st, Blobs: b.blobs, Analyzer: a, OpenPDF: openPDF, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.ProcessTask(ctx, task); err != nil {
		t.Fatalf("ProcessTask: %v", err)
	}
	got := b.job(t, j.ID)
	if got.Status != tasks.StatusSucceeded || got.PagesDone != 64 || got.PagesFailed != 0 {
		t.Fatalf("job = %s, %d done, %d failed; want succeeded, 64, 0", got.Status, got.PagesDone, got.PagesFailed)
	}
	if calls, _ := a.snapshot(); len(calls) != 2 {
		t.Errorf("analyzed %v; want pages 1 and 2 only", calls)
	}
	if st.lastEnded.Load() != 1 || st.endJob.Load() != 0 {
		t.Errorf("ended by the last save %d times, by EndJob %d times; want 1 and 0", st.lastEnded.Load(), st.endJob.Load())
	}
	ns, err := b.store.Notifications(ctx, "", "", 10, 0)
	if err != nil || len(ns) != 1 || ns[0].Status != tasks.StatusSucceeded || ns[0].PagesDone != 64 {
		t.Errorf("notifications = %+v, %v; want one, succeeded with 64 pages done", ns, err)
	}
}
