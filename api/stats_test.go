package api_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
)

// endedJob stores a job created age ago whose pages took the given
// durations (a page with a negative one is flagged by the guardrail), then
// ends it in status.
func endedJob(t *testing.T, st *store.Redis, id string, age time.Duration, status tasks.Status, pageMS ...int64) {
	t.Helper()
	ctx := context.Background()
	j := &tasks.Job{ID: id, Kind: tasks.KindDocument, CreatedAt: time.Now().Add(-age), PagesTotal: len(pageMS)}
	if err := st.CreateJob(ctx, j, ""); err != nil {
		t.Fatal(err)
	}
	if status == tasks.StatusQueued {
		return
	}
	if _, err := st.StartJob(ctx, id); err != nil {
		t.Fatal(err)
	}
	for i, ms := range pageMS {
		m := &tasks.Metrics{Provider: "anthropic", Model: "claude-haiku-4-5", CostUSD: 0.01}
		if ms < 0 {
			ms, m.GuardrailFlags = -ms, 1
		}
		r := tasks.PageResult{Index: i + 1, Status: tasks.PageDone, Attempts: 1, DurationMS: ms, FinishedAt: time.Now(), Metrics: m}
		if err := st.SavePage(ctx, id, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.FinishJob(ctx, id, status, "", ""); err != nil {
		t.Fatal(err)
	}
}

func TestStats(t *testing.T) {
	b := setup(t)
	endedJob(t, b.store, "old", 2*time.Hour, tasks.StatusSucceeded, 50)
	endedJob(t, b.store, "ok", 10*time.Minute, tasks.StatusSucceeded, 100, -300, 200)
	endedJob(t, b.store, "bad", 5*time.Minute, tasks.StatusFailed)
	endedJob(t, b.store, "gone", 4*time.Minute, tasks.StatusCanceled)
	endedJob(t, b.store, "waiting", time.Minute, tasks.StatusQueued)
	ctx := context.Background()

	s, err := b.client.Stats(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"succeeded", s.Jobs[tasks.StatusSucceeded], 1},
		{"failed", s.Jobs[tasks.StatusFailed], 1},
		{"canceled", s.Jobs[tasks.StatusCanceled], 1},
		{"queued", s.Jobs[tasks.StatusQueued], 1},
		{"finished", s.Finished, 3},
		// Canceled jobs are left out of the success rate.
		{"success rate", s.SuccessRate, 0.5},
		{"pages read", s.PagesRead, 3},
		// Within the 4.5 % of the histograms' buckets.
		{"page latency", s.PageLatency, tasks.Latency{N: 3, P50MS: 205, P99MS: 291}},
		{"guardrail pages", s.GuardrailPages, 1},
		{"cost", fmt.Sprintf("%.2f", s.CostUSD), "0.03"},
		{"cost per page", fmt.Sprintf("%.3f", s.CostPerPageUSD), "0.010"},
		{"job latency n", s.JobLatency.N, 2},
		{"since", s.Since, "1h0m0s"},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// The failed job took about 5 minutes from submission, the other 10.
	if p := time.Duration(s.JobLatency.P99MS) * time.Millisecond; p < 9*time.Minute+30*time.Second || p > 11*time.Minute {
		t.Errorf("job latency P99 %v, want about 10m", p)
	}
	verdicts := map[string]string{}
	for _, c := range s.Checks {
		verdicts[c.Name] = fmt.Sprintf("ok=%v no_data=%v", c.OK, c.NoData)
	}
	want := map[string]string{
		"success_rate":     "ok=false no_data=false", // 50 % < 99.5 %
		"page_latency_p50": "ok=true no_data=false",  // 200 ms < 2 s
		"page_latency_p99": "ok=true no_data=false",  // 300 ms < 10 s
		"guardrail_rate":   "ok=false no_data=false", // 1 page in 3 > 1 %
	}
	if fmt.Sprint(verdicts) != fmt.Sprint(want) {
		t.Errorf("checks %v, want %v", verdicts, want)
	}

	// A longer window takes in the old job.
	s, err = b.client.Stats(ctx, 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if s.Jobs[tasks.StatusSucceeded] != 2 || s.PagesRead != 4 {
		t.Errorf("3h window: %v jobs, %d pages", s.Jobs, s.PagesRead)
	}
}

func TestStatsEmptyAndBadWindow(t *testing.T) {
	b := setup(t)
	s, err := b.client.Stats(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Since != "1h0m0s" || s.Finished != 0 || len(s.Checks) != 4 {
		t.Errorf("empty store: %+v", s)
	}
	for _, c := range s.Checks {
		if !c.NoData || c.OK {
			t.Errorf("check %s on no jobs: %+v, want no data", c.Name, c)
		}
	}
	for _, since := range []string{"yesterday", "-1h", "0s", "800h"} {
		resp, body := b.do(t, "GET", "/v1/stats?since="+since, "", nil)
		if resp.StatusCode != 400 {
			t.Errorf("since=%s: %d %s, want 400", since, resp.StatusCode, body)
		}
	}
	var apiErr *client.APIError
	if _, err := b.client.Stats(context.Background(), 1000*time.Hour); !errors.As(err, &apiErr) || apiErr.Code != tasks.CodeInvalidRequest {
		t.Errorf("since 1000h: %v", err)
	}
}
