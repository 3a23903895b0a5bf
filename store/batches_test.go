package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/mmq/mmq/tasks"
)

func newBatch(t *testing.T, b testBundle, id string, n int) []*tasks.Job {
	t.Helper()
	jobs := make([]*tasks.Job, n)
	for i := range jobs {
		jobs[i] = &tasks.Job{ID: fmt.Sprintf("%s-j%d", id, i), Kind: tasks.KindDocument}
	}
	if err := b.store.CreateBatch(context.Background(), &tasks.Batch{ID: id}, jobs); err != nil {
		t.Fatal(err)
	}
	return jobs
}

func TestCreateBatchAndJobs(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	jobs := newBatch(t, b, "b1", 2500) // three pipelines
	got, err := b.store.GetBatch(ctx, "b1")
	if err != nil || got.Total != 2500 || got.Status != tasks.BatchProcessing {
		t.Fatalf("GetBatch = %+v, %v", got, err)
	}
	j, err := b.store.GetJob(ctx, jobs[2499].ID)
	if err != nil || j.BatchID != "b1" || j.Status != tasks.StatusQueued {
		t.Fatalf("job of batch = %+v, %v", j, err)
	}
	page, more, err := b.store.BatchJobs(ctx, "b1", 1000, 3)
	if err != nil || !more || len(page) != 3 || page[0].ID != "b1-j1000" || page[2].ID != "b1-j1002" {
		t.Fatalf("BatchJobs(1000, 3) = %d jobs, more %v, err %v", len(page), more, err)
	}
	if err := b.store.CreateBatch(ctx, &tasks.Batch{ID: "b1"}, nil); tasks.ErrorCode(err) != tasks.CodeConflict {
		t.Errorf("second CreateBatch: %v, want conflict", err)
	}
	if _, err := b.store.GetBatch(ctx, "nope"); tasks.ErrorCode(err) != tasks.CodeNotFound {
		t.Errorf("GetBatch(nope): %v", err)
	}
}

// The last two jobs of a batch end at the same moment on two workers: the
// batch completes once, with one notification, announced to one of them.
func TestBatchCompletesExactlyOnce(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	const batches = 40
	for i := range batches {
		id := fmt.Sprintf("race%d", i)
		jobs := newBatch(t, b, id, 3)
		if _, err := b.store.FinishJob(ctx, jobs[0].ID, tasks.StatusFailed, tasks.CodeInvalidPDF, "bad"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		completed := make(chan string, 4)
		start := make(chan struct{})
		for _, j := range jobs[1:] {
			for range 2 { // each job also finished twice, as a retried task would
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					got, err := b.store.FinishJob(ctx, j.ID, tasks.StatusSucceeded, "", "")
					if err != nil {
						t.Error(err)
						return
					}
					if got.CompletedBatch {
						completed <- j.ID
					}
				}()
			}
		}
		close(start)
		wg.Wait()
		close(completed)
		if n := len(completed); n != 1 {
			t.Fatalf("batch %s: %d finishers were told they completed it, want 1", id, n)
		}
		got, err := b.store.GetBatch(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != tasks.BatchCompleted || got.Ended != 3 || got.Counts[tasks.StatusSucceeded] != 2 || got.Counts[tasks.StatusFailed] != 1 || got.FinishedAt == nil {
			t.Fatalf("batch = %+v", got)
		}
		evs, err := b.store.BatchEvents(ctx, id, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		var jobEvs, finals int
		for _, e := range evs {
			if e.Type == "job" {
				jobEvs++
			}
			if e.Final() {
				finals++
			}
		}
		if jobEvs != 3 || finals != 1 || !evs[len(evs)-1].Final() {
			t.Fatalf("batch events: %d job events, %d final, want 3 and 1 at the end", jobEvs, finals)
		}
	}
	ns, err := b.store.Notifications(ctx, "", "", 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	batchEvents := map[string]int{}
	jobEvents := 0
	for _, n := range ns {
		if n.Event == tasks.EventBatchCompleted {
			batchEvents[n.BatchID]++
			if n.Counts[tasks.StatusSucceeded] != 2 || n.Counts[tasks.StatusFailed] != 1 {
				t.Errorf("batch notification counts = %v", n.Counts)
			}
		} else {
			jobEvents++
		}
	}
	if len(batchEvents) != batches || jobEvents != 3*batches {
		t.Errorf("%d batch events over %d batches, %d job events; want %d and %d", len(batchEvents), batches, jobEvents, batches, 3*batches)
	}
	for id, n := range batchEvents {
		if n != 1 {
			t.Errorf("batch %s notified %d times", id, n)
		}
	}
}
