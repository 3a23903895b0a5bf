package main

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/tasks"
)

// economyEnv runs economy mode quickly: a one-second gathering window,
// polls every 100–200 ms, the fake's batch API taken as the vendor's.
var economyEnv = []string{
	"MMQ_PROVIDERS_ANTHROPIC_BATCH", "enabled",
	"MMQ_ECONOMY_MAX_WAIT", "1s",
	"MMQ_ECONOMY_POLL_BASE", "100ms",
	"MMQ_ECONOMY_POLL_CAP", "200ms",
	"MMQ_WORKER_DELAYED_TASK_CHECK_INTERVAL", "100ms",
	"MMQ_CACHE_ENABLED", "false",
}

func waitAll(t *testing.T, c *client.Client, ids ...string) []*tasks.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	jobs := make([]*tasks.Job, len(ids))
	for i, id := range ids {
		j, err := c.Wait(ctx, id, 50*time.Millisecond, nil)
		if err != nil {
			t.Fatalf("job %s: %v", id, err)
		}
		jobs[i] = j
	}
	return jobs
}

// Two economy jobs submitted together go to the provider as one batch,
// every page sent once and none through the realtime API; their pages are
// done and each costs exactly half the same job in realtime.
func TestEconomyEndToEnd(t *testing.T) {
	srv := fakeAnthropic(t)
	c, _ := startModelApp(t, srv, economyEnv...)
	ctx := context.Background()
	const file = "testdata/pdfcpu-read.go.pdf"

	est, err := c.Estimate(ctx, file, client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if est.EconomyCostUSD == nil || math.Abs(*est.EconomyCostUSD/est.CostUSD-0.5) > 1e-9 {
		t.Fatalf("estimate: realtime $%.6f, economy %v; want economy at half", est.CostUSD, est.EconomyCostUSD)
	}
	var ids []string
	for range 2 {
		j, err := c.SubmitFile(ctx, file, client.SubmitOptions{Mode: "economy"})
		if err != nil {
			t.Fatal(err)
		}
		if j.Options.Mode != tasks.ModeEconomy {
			t.Fatalf("submitted job options %+v: want mode economy", j.Options)
		}
		ids = append(ids, j.ID)
	}
	jobs := waitAll(t, c, ids...)
	for _, j := range jobs {
		if j.Status != tasks.StatusSucceeded || j.PagesDone != 45 || j.Usage == nil || j.Usage.CostUSD <= 0 {
			t.Fatalf("economy job %s: %s, %d of %d pages, usage %+v", j.ID, j.Status, j.PagesDone, j.PagesTotal, j.Usage)
		}
	}
	if n := srv.Batches.Created(); n != 1 {
		t.Errorf("%d provider batches created for 2 jobs submitted together, want 1", n)
	}
	if n := srv.Count(); n != 0 {
		t.Errorf("%d realtime calls for economy jobs, want 0", n)
	}
	got := srv.Batches.ReceivedIDs()
	if len(got) != 90 {
		t.Errorf("%d distinct requests sent, want 90", len(got))
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("request %s sent %d times", id, n)
		}
	}
	rs, _, err := c.Results(ctx, ids[0], "", 100)
	if err != nil || len(rs) != 45 || rs[0].Index != 1 || rs[0].Status != tasks.PageDone || len(rs[0].Output) == 0 {
		t.Fatalf("results: %d, %v; first %+v", len(rs), err, rs[0])
	}

	// The same job in realtime costs twice as much.
	rt := submitAndWait(t, c, file, client.SubmitOptions{})
	if rt.Status != tasks.StatusSucceeded || rt.Usage == nil {
		t.Fatalf("realtime job: %s, usage %+v", rt.Status, rt.Usage)
	}
	ratio := jobs[0].Usage.CostUSD / rt.Usage.CostUSD
	t.Logf("cost: economy $%.6f, realtime $%.6f, ratio %.4f", jobs[0].Usage.CostUSD, rt.Usage.CostUSD, ratio)
	if math.Abs(ratio-0.5) > 1e-9 {
		t.Errorf("economy ÷ realtime cost = %.6f, want 0.5", ratio)
	}
	if jobs[0].Usage.InputTokens != rt.Usage.InputTokens || jobs[0].Usage.OutputTokens != rt.Usage.OutputTokens {
		t.Errorf("tokens economy %d/%d, realtime %d/%d: want the same", jobs[0].Usage.InputTokens, jobs[0].Usage.OutputTokens,
			rt.Usage.InputTokens, rt.Usage.OutputTokens)
	}
}

// Errored and expired requests are sent again in another provider batch;
// after economy.tries a request that keeps erroring fails its page, and
// the job ends partially succeeded with every other page done.
func TestEconomyRetriesErroredAndExpired(t *testing.T) {
	srv := fakeAnthropic(t)
	var calls = map[string]int{}
	srv.Batches.Outcome = func(id string) string {
		calls[id]++ // called under the fake's lock, once per request
		switch {
		case id[len(id)-2:] == "_7":
			return "errored" // always
		case id[len(id)-2:] == "_3" && calls[id] == 1:
			return "expired" // once
		}
		return ""
	}
	c, _ := startModelApp(t, srv, append(economyEnv, "MMQ_ECONOMY_TRIES", "2")...)
	j, err := c.SubmitFile(context.Background(), "testdata/pdfcpu-read.go.pdf", client.SubmitOptions{Mode: "economy"})
	if err != nil {
		t.Fatal(err)
	}
	j = waitAll(t, c, j.ID)[0]
	if j.Status != tasks.StatusPartiallySucceeded || j.PagesDone != 44 || j.PagesFailed != 1 {
		t.Fatalf("job %s: %d done, %d failed; want partially_succeeded, 44 and 1", j.Status, j.PagesDone, j.PagesFailed)
	}
	if n := srv.Batches.Created(); n != 2 {
		t.Errorf("%d provider batches, want 2 (the first, then pages 3 and 7 again)", n)
	}
	if n := srv.Batches.Received(j.ID + "_7"); n != 2 {
		t.Errorf("page 7 sent %d times, want 2 (economy.tries)", n)
	}
	if n := srv.Batches.Received(j.ID + "_1"); n != 1 {
		t.Errorf("page 1 sent %d times, want once", n)
	}
}

// Economy mode is refused where no provider has a batch API.
func TestEconomyRefusedWithoutBatchAPI(t *testing.T) {
	srv := fakeAnthropic(t)
	c, _ := startModelApp(t, srv, "MMQ_PROVIDERS_ANTHROPIC_BATCH", "disabled")
	est, err := c.Estimate(context.Background(), "testdata/pdfcpu-read.go.pdf", client.SubmitOptions{})
	if err != nil || est.EconomyCostUSD != nil {
		t.Fatalf("estimate without a batch API: %+v, %v; want no economy cost", est, err)
	}
	_, err = c.SubmitFile(context.Background(), "testdata/pdfcpu-read.go.pdf", client.SubmitOptions{Mode: "economy"})
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != tasks.CodeModeUnsupported {
		t.Fatalf("economy without a batch API: %v, want 400 mode_unsupported", err)
	}
}

// max_cost_usd holds in economy mode on the pages' estimates: the pages
// that would pass it are not sent and fail with budget_exceeded.
func TestEconomyMaxCost(t *testing.T) {
	srv := fakeAnthropic(t)
	c, _ := startModelApp(t, srv, economyEnv...)
	ctx := context.Background()
	const file = "testdata/pdfcpu-read.go.pdf"
	est, err := c.Estimate(ctx, file, client.SubmitOptions{})
	if err != nil || est.EconomyCostUSD == nil {
		t.Fatalf("estimate: %+v, %v", est, err)
	}
	limit := *est.EconomyCostUSD / 3
	j, err := c.SubmitFile(ctx, file, client.SubmitOptions{Mode: "economy", MaxCostUSD: limit})
	if err != nil {
		t.Fatal(err)
	}
	j = waitAll(t, c, j.ID)[0]
	if j.Status != tasks.StatusPartiallySucceeded || j.PagesDone == 0 || j.PagesFailed == 0 || j.PagesDone+j.PagesFailed != 45 {
		t.Fatalf("job %s: %d done, %d failed of 45", j.Status, j.PagesDone, j.PagesFailed)
	}
	onePage := *est.EconomyCostUSD / 45
	if j.Usage == nil || j.Usage.CostUSD > limit+2*onePage {
		t.Errorf("accounted $%v against a cap of $%.6f (a page ≈ $%.6f)", j.Usage, limit, onePage)
	}
	if sent := len(srv.Batches.ReceivedIDs()); sent != j.PagesDone {
		t.Errorf("%d requests sent, %d pages done: the pages over the cap must not be sent", sent, j.PagesDone)
	}
	rs, _, err := c.Results(ctx, j.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	over := 0
	for _, r := range rs {
		if r.Status == tasks.PageFailed && r.ErrorCode == tasks.CodeBudgetExceeded {
			over++
		}
	}
	if over != j.PagesFailed {
		t.Errorf("%d pages failed with budget_exceeded, want all %d failed", over, j.PagesFailed)
	}
	t.Logf("cap $%.6f: %d pages sent, accounted $%.6f", limit, j.PagesDone, j.Usage.CostUSD)
}
