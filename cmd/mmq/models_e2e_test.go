package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/provider/providertest"
	"github.com/mmq/mmq/tasks"

	"github.com/mmq/mmq/internal/corpus"
)

// corpusPDF returns the path of a PDF of the corpus (internal/corpus: $MMQ_CORPUS,
// default ../shared/corpus beside the repository), skipping the test when it is not there.
func corpusPDF(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(corpus.Dir(), "pdf", name)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("corpus file missing: %v", err)
		}
		t.Skipf("corpus file missing: %v", err)
	}
	return p
}

// fakeAnthropic answers like a model would: a transcription is the page's
// text, a classification a short JSON, anything else a 300-token summary.
func fakeAnthropic(t *testing.T) *providertest.Server {
	srv := providertest.NewAnthropic(t, "sk-ant-e2e")
	srv.Answer = func(r providertest.Received) string {
		switch {
		case strings.HasPrefix(r.Prompt, "Transcribe") && len(r.Parts) == 1:
			return providertest.PDFText(r.Parts[0].Data)
		case strings.HasPrefix(r.Prompt, "Classify"):
			return `{"category":"report","confidence":0.8}`
		}
		return providertest.DefaultAnswer(r)
	}
	return srv
}

func startModelApp(t *testing.T, srv *providertest.Server, env ...string) (*client.Client, string) {
	t.Helper()
	env = append([]string{
		"MMQ_ANALYZER_PROVIDER", "anthropic",
		"MMQ_PROVIDERS_ANTHROPIC_BASE_URL", srv.URL,
		"ANTHROPIC_API_KEY", "sk-ant-e2e",
		"MMQ_PROVIDERS_ANTHROPIC_REQUESTS_PER_MINUTE", "0",
		"MMQ_WORKER_PAGE_CONCURRENCY", "8",
	}, env...)
	_, base := startApp(t, env...)
	return client.New(base, nil), base
}

func submitAndWait(t *testing.T, c *client.Client, file string, opts client.SubmitOptions) *tasks.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	j, err := c.SubmitFile(ctx, file, opts)
	if err != nil {
		t.Fatal(err)
	}
	j, err = c.Wait(ctx, j.ID, 50*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// An estimate made before submitting is within 15% of the cost the job
// accounts from the provider's usage, on documents of the corpus; the
// second run of a document is answered from the cache.
func TestSlowEstimateMatchesAccountedCost(t *testing.T) {
	if testing.Short() {
		t.Skip("analyzes about 300 pages")
	}
	srv := fakeAnthropic(t)
	c, _ := startModelApp(t, srv)
	tests := []struct{ file, task string }{
		{"pdfcpu-read.go.pdf", "general_qa"},
		{"pdfcpu-5116.DCT_Filter.pdf", "general_qa"},
		{"pdfcpu-pike-stanford.pdf", "general_qa"},
		{"pdfcpu-TheGoProgrammingLanguageCh1.pdf", "general_qa"},
		{"pdfcpu-CenterOfWhy.pdf", "general_qa"},
		{"pdfcpu-HL1396.pdf", "general_qa"},
		{"pdfcpu-Acroforms2.pdf", "general_qa"},
		{"qpdf-linearized-30p.pdf", "general_qa"},
		{"pdfcpu-mountain.pdf", "general_qa"},
		{"pdfcpu-read.go.pdf", "text_extraction"},
		{"pdfcpu-pike-stanford.pdf", "text_extraction"},
		{"pdfcpu-CenterOfWhy.pdf", "classification"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		file := corpusPDF(t, tt.file)
		opts := client.SubmitOptions{Task: tt.task}
		est, err := c.Estimate(ctx, file, opts)
		if err != nil {
			t.Fatalf("%s: estimate: %v", tt.file, err)
		}
		j := submitAndWait(t, c, file, opts)
		if j.Status != tasks.StatusSucceeded || j.Usage == nil || j.PagesDone != est.Pages {
			t.Fatalf("%s: job %s, %d of %d pages, usage %+v", tt.file, j.Status, j.PagesDone, est.Pages, j.Usage)
		}
		got := j.Usage.CostUSD
		dev := (est.CostUSD - got) / got
		t.Logf("%-40s %-16s %3d pages: estimated $%.4f (%d in, %d out), accounted $%.4f (%d in, %d out): %+.1f%%",
			tt.file, tt.task, est.Pages, est.CostUSD, est.InputTokens, est.OutputTokens, got, j.Usage.InputTokens, j.Usage.OutputTokens, dev*100)
		if math.Abs(dev) > 0.15 {
			t.Errorf("%s (%s): estimate $%.4f is %+.1f%% off the accounted $%.4f", tt.file, tt.task, est.CostUSD, dev*100, got)
		}
	}

	// The same document again: every page from the cache, at no cost.
	calls := srv.Count()
	j := submitAndWait(t, c, corpusPDF(t, "pdfcpu-read.go.pdf"), client.SubmitOptions{Task: "general_qa"})
	if u := j.Usage; j.Status != tasks.StatusSucceeded || u == nil || u.CacheHits != int64(j.PagesTotal) || u.CacheMisses != 0 || u.CostUSD != 0 {
		t.Errorf("second run: %s, usage %+v", j.Status, j.Usage)
	}
	if srv.Count() != calls {
		t.Errorf("second run called the provider %d times", srv.Count()-calls)
	}
}

// A job with max_cost_usd ends partially_succeeded with budget_exceeded,
// having spent at most one page past its cap; pages carry their metrics.
func TestBudgetEndToEnd(t *testing.T) {
	srv := fakeAnthropic(t)
	c, _ := startModelApp(t, srv, "MMQ_CACHE_ENABLED", "false")
	file := corpusPDF(t, "pdfcpu-pike-stanford.pdf")
	est, err := c.Estimate(context.Background(), file, client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	budget := est.CostUSD / 4
	j := submitAndWait(t, c, file, client.SubmitOptions{MaxCostUSD: budget})
	if j.Status != tasks.StatusPartiallySucceeded || j.ErrorCode != tasks.CodeBudgetExceeded {
		t.Fatalf("job %s/%s: %s", j.Status, j.ErrorCode, j.ErrorMessage)
	}
	rs, err := c.AllResults(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	var maxPage, sum float64
	for _, r := range rs {
		m := r.Metrics
		if m == nil || m.Provider != "anthropic" || m.Model != "claude-sonnet-4-5" || m.InputTokens == 0 || m.TTFBMS < 0 || m.ImageCount != 1 {
			t.Fatalf("page %d metrics %+v", r.Index, m)
		}
		maxPage = max(maxPage, m.CostUSD)
		sum += m.CostUSD
	}
	spent := j.Usage.CostUSD
	t.Logf("budget $%.4f: %d of %d pages, spent $%.4f (largest page $%.4f): %s", budget, j.PagesDone, j.PagesTotal, spent, maxPage, j.ErrorMessage)
	if spent < budget || spent > budget+maxPage+1e-9 || math.Abs(sum-spent) > 1e-9 || srv.Count() != j.PagesDone {
		t.Errorf("spent $%.4f (pages sum $%.4f, %d calls) for a $%.4f budget", spent, sum, srv.Count(), budget)
	}
}

// `mmq estimate FILE` prints the estimate; a job may not pick a provider
// the server does not allow.
func TestCLIEstimateAndProviderChoice(t *testing.T) {
	srv := fakeAnthropic(t)
	c, server := startModelApp(t, srv, "MMQ_ANALYZER_ALLOWED_PROVIDERS", "local")
	file := corpusPDF(t, "pdfcpu-Acroforms2.pdf")
	out, code := runCLI(t, "estimate", file, "--server", server, "--json")
	var est tasks.Estimate
	if code != 0 || json.Unmarshal([]byte(out), &est) != nil || est.Pages != 3 || est.CostUSD <= 0 || est.Provider != "anthropic" {
		t.Fatalf("mmq estimate: %d %s", code, out)
	}
	out, code = runCLI(t, "estimate", file, "--server", server, "--provider", "local")
	if code != 0 || !strings.Contains(out, "$0.0000") {
		t.Errorf("estimate with local: %d %s", code, out)
	}
	if _, code = runCLI(t, "submit", file, "--server", server, "--provider", "openai"); code != exitRejected {
		t.Errorf("submit with a provider not allowed: exit %d, want %d", code, exitRejected)
	}
	j := submitAndWait(t, c, file, client.SubmitOptions{Provider: "local"})
	if j.Status != tasks.StatusSucceeded || srv.Count() != 0 || j.Options.Provider != "local" {
		t.Errorf("job on local: %s, %d provider calls", j.Status, srv.Count())
	}
}
