package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mmq/mmq/tasks"
)

// The counters sum what ended in a window of creation times, read from
// minute buckets at its edges and hour buckets between.
func TestTally(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	now := time.Now()
	ages := []time.Duration{5 * time.Minute, 95 * time.Minute, 3*time.Hour + 10*time.Minute, 30 * time.Hour}
	for i, age := range ages {
		id := fmt.Sprintf("j%d", i)
		if err := b.store.CreateJob(ctx, &tasks.Job{ID: id, Kind: tasks.KindDocument, CreatedAt: now.Add(-age), PagesTotal: 2}, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.StartJob(ctx, id); err != nil {
			t.Fatal(err)
		}
		page := func(index int, status tasks.PageStatus, ms int64, flagged bool) {
			m := &tasks.Metrics{CostUSD: 0.25}
			if flagged {
				m.GuardrailFlags = 1
			}
			if err := b.store.SavePage(ctx, id, tasks.PageResult{Index: index, Status: status, DurationMS: ms, Metrics: m}); err != nil {
				t.Fatal(err)
			}
		}
		page(1, tasks.PageFailed, 1000, false)
		page(1, tasks.PageDone, 100, true) // a new outcome: counts again
		page(1, tasks.PageDone, 100, true) // the same outcome: does not (its cost does)
		page(2, tasks.PageDone, 100, false)
		if _, err := b.store.EndJob(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		window time.Duration
		jobs   int64
	}{{time.Hour, 1}, {2 * time.Hour, 2}, {4 * time.Hour, 3}, {48 * time.Hour, 4}, {time.Minute, 0}} {
		tl, err := b.store.Tally(ctx, "", now.Add(-c.window), now)
		if err != nil {
			t.Fatal(err)
		}
		n := c.jobs
		want := fmt.Sprintf("jobs %d pages %d read %d flagged %d cost %.2f job-n %d page-n %d page-p50 %d spent %.2f doc-pages %d frames 0",
			n, 2*n, 3*n, n, float64(n), n, 3*n, map[bool]int64{true: 102, false: 0}[n > 0], float64(n), 3*n)
		got := fmt.Sprintf("jobs %d pages %d read %d flagged %d cost %.2f job-n %d page-n %d page-p50 %d spent %.2f doc-pages %d frames %d",
			tl.Jobs, tl.Pages, tl.PagesRead, tl.GuardrailPages, tl.CostUSD, tl.JobLatency.N(), tl.PageLatency.N(), tl.PageLatency.Quantile(0.5),
			tl.SpentUSD, tl.DocPages, tl.Frames)
		if got != want {
			t.Errorf("Tally over %v:\n got %s\nwant %s", c.window, got, want)
		}
	}
}
