package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mmq/mmq/tasks"
)

// Jobs stored before the status indexes existed are in none of them: the
// backfill puts each into the index of its state, once.
func TestBackfillStatusIndexes(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	epoch, farFuture := time.Unix(0, 0), time.Now().Add(time.Hour)
	const n = 1203 // more than two script chunks
	for i := range n {
		id := fmt.Sprintf("old-%04d", i)
		if i%3 == 0 {
			b.finish(t, id)
		} else {
			b.createJob(t, id)
		}
	}
	// What a store of an older release holds: the jobs, no status indexes.
	for _, st := range []tasks.Status{tasks.StatusQueued, tasks.StatusSucceeded} {
		if err := b.client.Del(ctx, "mmq:jobs:"+string(st)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if counts, _ := b.store.CountJobs(ctx, "", epoch, farFuture); len(counts) != 0 {
		t.Fatalf("CountJobs before the backfill = %v, want none", counts)
	}

	added, err := b.store.BackfillStatusIndexes(ctx)
	if err != nil || added != n {
		t.Fatalf("BackfillStatusIndexes = %d, %v; want %d", added, err, n)
	}
	counts, err := b.store.CountJobs(ctx, "", epoch, farFuture)
	if err != nil {
		t.Fatal(err)
	}
	if want := (n + 2) / 3; counts[tasks.StatusSucceeded] != want || counts[tasks.StatusQueued] != n-want {
		t.Errorf("CountJobs after the backfill = %v, want %d succeeded and %d queued", counts, want, n-want)
	}
	list, _, err := b.store.ListJobs(ctx, "", tasks.StatusSucceeded, 1000, "")
	if err != nil || len(list) != (n+2)/3 {
		t.Fatalf("ListJobs(succeeded) = %d jobs, %v", len(list), err)
	}
	for _, j := range list {
		if j.Status != tasks.StatusSucceeded {
			t.Errorf("ListJobs(succeeded) holds %s in %s", j.ID, j.Status)
		}
	}

	// Done once per deployment: a job that lost its entry later is not
	// put back by a second call, which costs one EXISTS.
	if err := b.client.ZRem(ctx, "mmq:jobs:queued", "old-0001").Err(); err != nil {
		t.Fatal(err)
	}
	if added, err := b.store.BackfillStatusIndexes(ctx); err != nil || added != 0 {
		t.Errorf("second BackfillStatusIndexes = %d, %v; want 0", added, err)
	}
}
