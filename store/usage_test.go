package store_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/tasks"
)

// Every saved result adds its usage to the job, a failed one too; a
// throttled page counts once per wait and shows as a "throttled" event.
func TestUsageTotals(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.createJob(t, "j")
	if j := b.getJob(t, "j"); j.Usage != nil {
		t.Fatalf("new job has usage %+v", j.Usage)
	}
	saves := []struct {
		status tasks.PageStatus
		m      tasks.Metrics
	}{
		{tasks.PageDone, tasks.Metrics{InputTokens: 1000, OutputTokens: 200, CostUSD: 0.006, Cache: tasks.CacheMiss}},
		{tasks.PageDone, tasks.Metrics{Cache: tasks.CacheHit}},
		{tasks.PageFailed, tasks.Metrics{InputTokens: 10, OutputTokens: 1, CostUSD: 0.0001}},
	}
	for i, s := range saves {
		r := page(i+1, s.status)
		r.Metrics = &s.m
		if err := b.store.SavePage(ctx, "j", r); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := b.store.ThrottlePage(ctx, "j", 4, 120*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	u := b.getJob(t, "j").Usage
	want := tasks.Usage{InputTokens: 1010, OutputTokens: 201, CostUSD: 0.0061, CacheHits: 1, CacheMisses: 1, PagesThrottled: 2}
	if u == nil || math.Abs(u.CostUSD-want.CostUSD) > 1e-12 {
		t.Fatalf("usage %+v, want %+v", u, want)
	}
	u.CostUSD = want.CostUSD
	if *u != want {
		t.Errorf("usage %+v, want %+v", *u, want)
	}
	evs, err := b.store.JobEvents(ctx, "j", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-1]; last.Type != "page" || !strings.Contains(string(last.Data), `"status":"throttled"`) {
		t.Errorf("last event %s %s", last.Type, last.Data)
	}
	if err := b.store.ThrottlePage(ctx, "nope", 1, time.Second); err != nil {
		t.Errorf("ThrottlePage of an unknown job: %v", err)
	}
}
