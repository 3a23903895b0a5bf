package worker_test

import (
	"context"
	"encoding/json"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

// pricedAnalyzer charges cost per page and estimates est.
type pricedAnalyzer struct {
	cost, est float64
	calls     atomic.Int64
}

func (p *pricedAnalyzer) Analyze(ctx context.Context, u tasks.Unit) (tasks.Analysis, error) {
	p.calls.Add(1)
	time.Sleep(2 * time.Millisecond)
	return tasks.Analysis{Output: json.RawMessage(`{}`), Analyzer: "priced", Model: "m", InputTokens: 100, OutputTokens: 10,
		CostUSD: p.cost, Metrics: tasks.Metrics{InferenceMS: 2, ImageCount: 1, Cache: tasks.CacheMiss}}, nil
}

type estimatingAnalyzer struct{ *pricedAnalyzer }

func (e estimatingAnalyzer) EstimateCost(context.Context, tasks.Unit) (float64, error) {
	return e.est, nil
}

var _ worker.CostEstimator = estimatingAnalyzer{}

// newJobWith is newJob with options, named after the test.
func (b *testBundle) newJobWith(t testing.TB, file string, opts tasks.Options) *tasks.Job {
	t.Helper()
	j, _ := b.storeJob(t, file, &tasks.Job{ID: t.Name(), Kind: tasks.KindDocument, Options: opts}, "")
	return j
}

// A job with max_cost_usd stops within one page of it: pages in flight are
// reserved at their estimate, so no page starts that the cap cannot take.
// Without estimates the pages in flight may each cross it.
func TestBudgetStopsWithinOnePage(t *testing.T) {
	tests := []struct {
		name     string
		analyzer func(p *pricedAnalyzer) worker.Analyzer
		// maxOver is how far past the cap the job may end, in pages.
		maxOver int
	}{
		{"with estimates", func(p *pricedAnalyzer) worker.Analyzer { return estimatingAnalyzer{p} }, 1},
		{"without estimates", func(p *pricedAnalyzer) worker.Analyzer { return p }, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			const cost, budget = 0.01, 0.10
			p := &pricedAnalyzer{cost: cost, est: cost}
			j := b.newJobWith(t, booklet, tasks.Options{MaxCostUSD: budget})
			task, err := tasks.NewAnalyzeTask(tasks.KindDocument, tasks.AnalyzePayload{JobID: j.ID, BlobKey: j.BlobKey, Options: j.Options}, tasks.EnqueueConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.handler(t, tt.analyzer(p)).ProcessTask(context.Background(), task); err != nil {
				t.Fatal(err)
			}
			got := b.job(t, j.ID)
			if got.Status != tasks.StatusPartiallySucceeded || got.ErrorCode != tasks.CodeBudgetExceeded {
				t.Fatalf("job %s/%s: %s; want partially_succeeded/budget_exceeded", got.Status, got.ErrorCode, got.ErrorMessage)
			}
			spent := got.Usage.CostUSD
			t.Logf("%d of 64 pages, $%.2f of $%.2f: %s", got.PagesDone, spent, budget, got.ErrorMessage)
			if spent < budget-1e-9 || spent > budget+float64(tt.maxOver)*cost+1e-9 {
				t.Errorf("spent $%.4f, want within %d page(s) over $%.2f", spent, tt.maxOver, budget)
			}
			if int(p.calls.Load()) != got.PagesDone || got.PagesFailed != 0 || math.Abs(spent-float64(got.PagesDone)*cost) > 1e-9 {
				t.Errorf("%d calls, %d done, %d failed, $%.4f", p.calls.Load(), got.PagesDone, got.PagesFailed, spent)
			}
		})
	}
}

// Every page result carries its metrics, and the job sums them.
func TestPageMetricsStored(t *testing.T) {
	b := setup(t)
	p := &pricedAnalyzer{cost: 0.001}
	j := b.newJobWith(t, booklet, tasks.Options{})
	task, _ := tasks.NewAnalyzeTask(tasks.KindDocument, tasks.AnalyzePayload{JobID: j.ID, BlobKey: j.BlobKey}, tasks.EnqueueConfig{})
	if err := b.handler(t, p).ProcessTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	rs, _, err := b.store.Results(context.Background(), j.ID, -1, 1000)
	if err != nil || len(rs) != 64 {
		t.Fatalf("%d results, %v", len(rs), err)
	}
	for _, r := range rs {
		m := r.Metrics
		if m == nil || m.Provider != "priced" || m.Model != "m" || m.InputTokens != 100 || m.CostUSD != 0.001 || m.Cache != tasks.CacheMiss {
			t.Fatalf("page %d metrics %+v", r.Index, m)
		}
	}
	u := b.job(t, j.ID).Usage
	if u == nil || u.InputTokens != 6400 || u.OutputTokens != 640 || u.CacheMisses != 64 || math.Abs(u.CostUSD-0.064) > 1e-9 {
		t.Errorf("job usage %+v", u)
	}
}
