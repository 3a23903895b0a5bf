package store_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
)

func units(job string, pages ...int) []tasks.EconomyUnit {
	us := make([]tasks.EconomyUnit, len(pages))
	for i, p := range pages {
		us[i] = tasks.EconomyUnit{JobID: job, Page: p, Ticket: []byte(fmt.Sprintf(`{"p":%d}`, p))}
	}
	return us
}

func refs(us []tasks.EconomyUnit) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Ref()
	}
	sort.Strings(out)
	return out
}

func intentRefs(t *testing.T, s *store.Redis, intent string) []string {
	t.Helper()
	var all []tasks.EconomyUnit
	if err := s.IntentUnits(context.Background(), intent, func(us []tasks.EconomyUnit) error {
		all = append(all, us...)
		return nil
	}); err != nil {
		t.Fatalf("IntentUnits: %v", err)
	}
	return refs(all)
}

// TestEconomyUnitLifecycle walks units through every place they can be:
// waiting, taken into an intent, claimed by a provider batch, put back,
// done; a unit is never in two places and never lost.
func TestEconomyUnitLifecycle(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	s := b.store
	const q = "anthropic/claude-x"

	if n, err := s.QueueUnits(ctx, q, units("a", 1, 2, 3)); err != nil || n != 3 {
		t.Fatalf("QueueUnits = %d, %v; want 3", n, err)
	}
	// Queuing again (a retried job) adds nothing and keeps the order.
	if n, err := s.QueueUnits(ctx, q, units("a", 1)); err != nil || n != 0 {
		t.Fatalf("QueueUnits again = %d, %v; want 0", n, err)
	}
	if _, err := s.QueueUnits(ctx, q, units("b", 1)); err != nil {
		t.Fatal(err)
	}
	qs, err := s.EconomyQueues(ctx)
	if err != nil || len(qs) != 1 || qs[0].Name != q || qs[0].Waiting != 4 || qs[0].Oldest.IsZero() {
		t.Fatalf("EconomyQueues = %+v, %v", qs, err)
	}

	// Take the 3 oldest into intent i1, in two takes.
	got, err := s.TakeUnits(ctx, q, "i1", 2)
	if err != nil || len(got) != 2 {
		t.Fatalf("TakeUnits = %v, %v", got, err)
	}
	if string(got[0].Ticket) != `{"p":1}` || got[0].JobID != "a" {
		t.Fatalf("first unit %+v: want job a with its ticket", got[0])
	}
	if more, err := s.TakeUnits(ctx, q, "i1", 1); err != nil || len(more) != 1 || more[0].JobID != "a" {
		t.Fatalf("second take = %v, %v", more, err)
	}
	if want, have := []string{"a_1", "a_2", "a_3"}, intentRefs(t, s, "i1"); fmt.Sprint(want) != fmt.Sprint(have) {
		t.Fatalf("intent units = %v, want %v", have, want)
	}
	in, err := s.GetIntent(ctx, "i1")
	if err != nil || in.State != tasks.IntentCreating || in.Units != 3 || in.Queue != q {
		t.Fatalf("GetIntent = %+v, %v", in, err)
	}

	// Claim: once recorded, again a no-op, another batch refused.
	if created, err := s.ClaimBatch(ctx, "i1", "msgbatch_1"); err != nil || !created {
		t.Fatalf("ClaimBatch = %v, %v", created, err)
	}
	if created, err := s.ClaimBatch(ctx, "i1", "msgbatch_1"); err != nil || created {
		t.Fatalf("ClaimBatch again = %v, %v; want false, nil", created, err)
	}
	if _, err := s.ClaimBatch(ctx, "i1", "msgbatch_2"); !errors.Is(err, store.ErrIntentClaimed) {
		t.Fatalf("ClaimBatch other batch: %v, want ErrIntentClaimed", err)
	}
	if _, err := s.TakeUnits(ctx, q, "i1", 1); err == nil {
		t.Fatal("TakeUnits into a submitted intent: want an error")
	}
	if id, err := s.BatchIntent(ctx, "msgbatch_1"); err != nil || id != "i1" {
		t.Fatalf("BatchIntent = %q, %v", id, err)
	}

	// One result saved, one errored (back to the queue), then the last done.
	if left, err := s.DoneUnits(ctx, "i1", units("a", 1)); err != nil || left != 2 {
		t.Fatalf("DoneUnits = %d, %v; want 2 left", left, err)
	}
	if n, err := s.Requeue(ctx, "i1", units("a", 2)); err != nil || n != 1 {
		t.Fatalf("Requeue = %d, %v", n, err)
	}
	if left, err := s.DoneUnits(ctx, "i1", units("a", 3)); err != nil || left != 0 {
		t.Fatalf("DoneUnits = %d, %v; want 0 left", left, err)
	}
	if _, err := s.GetIntent(ctx, "i1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetIntent of a finished intent: %v, want ErrNotFound", err)
	}
	if id, _ := s.BatchIntent(ctx, "msgbatch_1"); id != "" {
		t.Fatalf("BatchIntent of a finished intent = %q, want none", id)
	}

	// Waiting now: b/1 and the requeued a/2. A crash before create: the
	// intent is put back whole.
	if got, err := s.TakeUnits(ctx, q, "i2", 10); err != nil || fmt.Sprint(refs(got)) != "[a_2 b_1]" {
		t.Fatalf("TakeUnits = %v, %v; want a/2, b/1", refs(got), err)
	}
	if qs, _ := s.EconomyQueues(ctx); len(qs) != 0 {
		t.Fatalf("EconomyQueues after taking all = %+v, want none", qs)
	}
	ins, err := s.Intents(ctx, time.Now().Add(time.Second), 10)
	if err != nil || len(ins) != 1 || ins[0].ID != "i2" || ins[0].State != tasks.IntentCreating {
		t.Fatalf("Intents = %+v, %v", ins, err)
	}
	if n, err := s.Unsend(ctx, "i2"); err != nil || n != 2 {
		t.Fatalf("Unsend = %d, %v", n, err)
	}
	if ins, _ := s.Intents(ctx, time.Now().Add(time.Second), 10); len(ins) != 0 {
		t.Fatalf("Intents after Unsend = %+v", ins)
	}
	qs, _ = s.EconomyQueues(ctx)
	if len(qs) != 1 || qs[0].Waiting != 2 {
		t.Fatalf("EconomyQueues after Unsend = %+v, want 2 waiting", qs)
	}
	// A canceled job's waiting unit is dropped.
	if n, err := s.DropWaiting(ctx, q, units("b", 1)); err != nil || n != 1 {
		t.Fatalf("DropWaiting = %d, %v", n, err)
	}
	if got, _ := s.TakeUnits(ctx, q, "i3", 10); fmt.Sprint(refs(got)) != "[a_2]" {
		t.Fatalf("left after drop = %v, want a/2", refs(got))
	}
}

// TestEconomyLargeIntent takes 12,000 units (more than a Lua unpack may
// hold at once) and reads them back in pages.
func TestEconomyLargeIntent(t *testing.T) {
	ctx := context.Background()
	s := setup(t).store
	const q, n = "openai/gpt-x", 12000
	pages := make([]int, n)
	for i := range pages {
		pages[i] = i + 1
	}
	if added, err := s.QueueUnits(ctx, q, units("big", pages...)); err != nil || added != n {
		t.Fatalf("QueueUnits = %d, %v", added, err)
	}
	got, err := s.TakeUnits(ctx, q, "big-intent", n)
	if err != nil || len(got) != n {
		t.Fatalf("TakeUnits = %d, %v", len(got), err)
	}
	if have := intentRefs(t, s, "big-intent"); len(have) != n {
		t.Fatalf("IntentUnits = %d units, want %d", len(have), n)
	}
	if left, err := s.DoneUnits(ctx, "big-intent", got); err != nil || left != 0 {
		t.Fatalf("DoneUnits = %d, %v", left, err)
	}
}
