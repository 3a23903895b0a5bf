package store_test

import (
	"context"
	"math"
	"testing"

	"github.com/mmq/mmq/tasks"
)

// A batch's usage is the sum of its jobs' usage so far, also over more
// jobs than one pipeline reads.
func TestBatchUsage(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	jobs := newBatch(t, b, "bu", 1205)
	got, err := b.store.GetBatch(ctx, "bu")
	if err != nil || got.Usage != nil {
		t.Fatalf("GetBatch before any page = %+v, %v; want no usage", got, err)
	}
	var want tasks.Usage
	for n, j := range []*tasks.Job{jobs[0], jobs[7], jobs[1204]} {
		if _, err := b.store.StartJob(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 2; i++ {
			m := &tasks.Metrics{InputTokens: 1000 * (n + 1), OutputTokens: 10 * i, CostUSD: 0.001 * float64(n+i), Cache: tasks.CacheMiss}
			p := page(i, tasks.PageDone)
			p.Metrics = m
			if err := b.store.SavePage(ctx, j.ID, p); err != nil {
				t.Fatal(err)
			}
			want.InputTokens += int64(m.InputTokens)
			want.OutputTokens += int64(m.OutputTokens)
			want.CostUSD += m.CostUSD
			want.CacheMisses++
		}
	}
	got, err = b.store.GetBatch(ctx, "bu")
	if err != nil || got.Usage == nil {
		t.Fatalf("GetBatch = %+v, %v", got, err)
	}
	u := *got.Usage
	if u.InputTokens != want.InputTokens || u.OutputTokens != want.OutputTokens || u.CacheMisses != want.CacheMisses ||
		math.Abs(u.CostUSD-want.CostUSD) > 1e-9 {
		t.Errorf("batch usage = %+v, want %+v", u, want)
	}
}
