package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mmq/mmq/tasks"
)

// finish creates and ends the job id.
func (b testBundle) finish(tb testing.TB, id string) {
	tb.Helper()
	b.createJob(tb, id)
	if _, err := b.store.FinishJob(context.Background(), id, tasks.StatusSucceeded, "", ""); err != nil {
		tb.Fatalf("FinishJob(%s): %v", id, err)
	}
}

func TestNotificationsAfter(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		b.finish(t, id)
	}
	all, err := b.store.Notifications(ctx, "", "0", 0, 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("Notifications(0) = %v, %v; want 3", all, err)
	}
	for i, id := range []string{"a", "b", "c"} {
		if all[i].JobID != id || all[i].Event != "job.succeeded" {
			t.Errorf("notification %d = %+v; want job %s succeeded", i, all[i], id)
		}
	}
	rest, err := b.store.Notifications(ctx, "", all[0].StreamID, 1, 0)
	if err != nil || len(rest) != 1 || rest[0].JobID != "b" {
		t.Errorf("Notifications(after a, 1) = %+v, %v; want b", rest, err)
	}
	none, err := b.store.Notifications(ctx, "", all[2].StreamID, 10, 0)
	if err != nil || len(none) != 0 {
		t.Errorf("Notifications(after c) = %+v, %v; want none", none, err)
	}
}

func TestNotificationsBlock(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.finish(t, "first")
	ns, err := b.store.Notifications(ctx, "", "", 10, 0)
	if err != nil || len(ns) != 1 {
		t.Fatalf("Notifications = %v, %v; want 1", ns, err)
	}

	type result struct {
		ns  []tasks.Notification
		err error
	}
	got := make(chan result, 1)
	go func() {
		ns, err := b.store.Notifications(ctx, "", ns[0].StreamID, 10, 10*time.Second)
		got <- result{ns, err}
	}()
	b.finish(t, "second")
	select {
	case r := <-got:
		if r.err != nil || len(r.ns) != 1 || r.ns[0].JobID != "second" {
			t.Errorf("blocking Notifications = %+v, %v; want job second", r.ns, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocking Notifications did not return on a new notification")
	}

	start := time.Now()
	timedOut, err := b.store.Notifications(ctx, "", "$", 10, 50*time.Millisecond)
	if err != nil || len(timedOut) != 0 {
		t.Errorf("Notifications with nothing new = %v, %v; want none", timedOut, err)
	}
	if waited := time.Since(start); waited < 40*time.Millisecond {
		t.Errorf("Notifications returned after %v; want it to wait the block duration", waited)
	}
}
