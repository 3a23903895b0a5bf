package worker_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

// keysOf returns the keys of the worker's test DB that name job id.
func (b *testBundle) keysOf(t *testing.T, id string) []string {
	t.Helper()
	var keys []string
	iter := b.rdb.Scan(context.Background(), 0, "*", 1000).Iterator()
	for iter.Next(context.Background()) {
		if strings.Contains(iter.Val(), id) {
			keys = append(keys, iter.Val())
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// Two jobs with the same input run; one is deleted while its pages are
// being analyzed. The other succeeds with its input intact, the deleted
// one's run ends without resurrecting a key, and the blob stays until the
// other job goes too.
func TestDeleteWhileProcessingSharedInput(t *testing.T) {
	rdb := redistest.New(t, redistest.DBWorker)
	blobs, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(rdb, store.Config{Prefix: "mmqtest", Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	b := &testBundle{rdb: rdb, store: st, blobs: blobs}
	ctx := context.Background()
	data, err := os.ReadFile("testdata/pdfcpu-bookletTest.pdf")
	if err != nil {
		t.Fatal(err)
	}
	key := tasks.BlobKey(data)
	newJob := func(id string) *tasks.Job {
		if err := st.RefBlob(ctx, key, id); err != nil {
			t.Fatal(err)
		}
		if _, err := blobs.Put(ctx, data); err != nil {
			t.Fatal(err)
		}
		j := &tasks.Job{ID: id, Kind: tasks.KindDocument, BlobKey: key, Size: int64(len(data))}
		if err := st.CreateJob(ctx, j, ""); err != nil {
			t.Fatal(err)
		}
		return j
	}
	doomed, survivor := newJob("doomed"), newJob("survivor")

	inDoomed := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	a := newFake(func(ctx context.Context, u tasks.Unit, call int) error {
		if u.JobID == doomed.ID {
			once.Do(func() { close(inDoomed) })
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	h, err := worker.NewHandler(b.config(), worker.Deps{Store: st, Blobs: blobs, Analyzer: a, OpenPDF: openPDF, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(map[string]error)
	var mu sync.Mutex
	for _, j := range []*tasks.Job{doomed, survivor} {
		wg.Go(func() {
			task, err := tasks.NewAnalyzeTask(j.Kind, tasks.AnalyzePayload{JobID: j.ID, BlobKey: key}, tasks.EnqueueConfig{MaxRetry: 2})
			if err == nil {
				err = h.ProcessTask(ctx, task)
			}
			mu.Lock()
			errs[j.ID] = err
			mu.Unlock()
		})
	}
	<-inDoomed
	// What DELETE does: cancel, then delete.
	if _, err := st.FinishJob(ctx, doomed.ID, tasks.StatusCanceled, tasks.CodeCanceled, "deleted"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteJob(ctx, doomed.ID); err != nil {
		t.Fatal(err)
	}
	close(release)
	wg.Wait()

	if err := errs[survivor.ID]; err != nil {
		t.Errorf("the other job's run: %v", err)
	}
	got, err := st.GetJob(ctx, survivor.ID)
	if err != nil || got.Status != tasks.StatusSucceeded {
		t.Fatalf("the other job: %+v, %v; want succeeded", got, err)
	}
	if err := errs[doomed.ID]; err != nil && !errors.Is(err, context.Canceled) && tasks.ErrorCode(err) != tasks.CodeNotFound {
		t.Errorf("the deleted job's run: %v, want nil or not found", err)
	}
	if keys := b.keysOf(t, doomed.ID); len(keys) != 0 {
		t.Errorf("keys of the deleted job: %v", keys)
	}
	if _, err := blobs.Get(ctx, key); err != nil {
		t.Fatalf("the shared input after the delete: %v", err)
	}
	if n, err := st.SweepBlobs(ctx); err != nil || n != 0 {
		t.Errorf("SweepBlobs = %d, %v; want nothing deleted", n, err)
	}
	if err := st.DeleteJob(ctx, survivor.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := blobs.Get(ctx, key); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the input after both jobs went: %v, want gone", err)
	}
	if keys := b.keysOf(t, key); len(keys) != 0 {
		t.Errorf("keys of the blob: %v", keys)
	}
}

// A job deleted while its webhook is being retried: the retries stop and
// no delivery log comes back.
func TestDeleteWhileWebhookRetried(t *testing.T) {
	var hits atomic.Int32
	b := setupHooks(t, tasks.Schedule{0, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond,
		100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}, 5*time.Second, allowLoopback, nil)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	})
	j := b.endedJob(t, rc.URL)
	b.announce(t, j)
	rc.next(t)
	rc.next(t)
	if err := b.store.DeleteJob(context.Background(), j.ID); err != nil {
		t.Fatal(err)
	}
	atDelete := hits.Load()
	qi := b.settled(t)
	if n := hits.Load(); n > atDelete+1 {
		t.Errorf("%d attempts after the delete, want at most the one in flight", n-atDelete)
	}
	if qi.Archived != 0 {
		t.Errorf("%d webhook tasks archived, want the dropped one completed", qi.Archived)
	}
	if keys := b.keysOf(t, j.ID); len(keys) != 0 {
		t.Errorf("keys of the deleted job: %v", keys)
	}
}
