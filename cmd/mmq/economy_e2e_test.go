package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/internal/pdftest"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/internal/testwait"
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

// 1,000 one-page economy jobs make at most two provider batches; while
// they wait, each waiting page holds a few hundred bytes of Redis; the
// accounted cost is half the realtime price of the same pages.
func TestSlowEconomyThousandJobs(t *testing.T) {
	srv := fakeAnthropic(t)
	c, _ := startModelApp(t, srv, append(economyEnv, "MMQ_ECONOMY_MAX_WAIT", "20s")...)
	ctx := context.Background()
	dir := t.TempDir()
	const n = 1000
	paths := make([]string, n)
	for i := range paths {
		// Distinct files: no two jobs share a blob.
		paths[i] = filepath.Join(dir, fmt.Sprintf("p%04d.pdf", i))
		if err := os.WriteFile(paths[i], pdftest.Text(fmt.Sprintf("Invoice %d - Total 10.00 EUR", i)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	b, err := c.SubmitBatchFiles(ctx, paths, client.SubmitOptions{Mode: "economy"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("batch of %d economy jobs accepted in %v", len(b.JobIDs), time.Since(start).Round(time.Millisecond))

	// Redis while they wait: the economy keys against the pages waiting.
	rdb := redis.NewClient(redistest.Options(t, redistest.DBCmd))
	defer rdb.Close()
	var waiting int64
	testwait.For(t, 60*time.Second, "1,000 pages waiting", func() bool {
		keys, _ := rdb.Keys(ctx, "*economy:q:*").Result()
		waiting = 0
		for _, k := range keys {
			waiting += rdb.ZCard(ctx, k).Val()
		}
		return waiting == n
	})
	var bytes int64
	keys, err := rdb.Keys(ctx, "*economy:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		bytes += rdb.MemoryUsage(ctx, k).Val()
	}
	t.Logf("waiting: %d pages, %d economy keys, %d bytes of Redis: %.0f bytes per waiting page", waiting, len(keys), bytes, float64(bytes)/float64(waiting))
	if per := bytes / waiting; per > 1024 {
		t.Errorf("%d bytes of Redis per waiting page, want under 1 KiB (no page bytes wait in Redis)", per)
	}

	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		bb, err := c.Batch(wctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if bb.Status == tasks.BatchCompleted {
			if bb.Counts[tasks.StatusSucceeded] != n {
				t.Fatalf("batch completed with %v, want %d succeeded", bb.Counts, n)
			}
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	created := srv.Batches.Created()
	t.Logf("%d one-page economy jobs: %d provider batches, %d requests, done %v after submitting", n, created,
		len(srv.Batches.ReceivedIDs()), time.Since(start).Round(time.Millisecond))
	if created > 2 {
		t.Errorf("%d provider batches for %d one-page jobs, want at most 2", created, n)
	}
	if got := len(srv.Batches.ReceivedIDs()); got != n {
		t.Errorf("%d distinct requests sent, want %d", got, n)
	}
}
