package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/config"
	"github.com/mmq/mmq/internal/pdftest"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/provider/providertest"
	"github.com/mmq/mmq/tasks"
)

// BenchmarkRateLimitedPages runs 200 pages through two worker processes
// (two Apps, each with its own Redis connections and asynq server) against
// a fake Anthropic that answers in 50 ms, under a 600 RPM limit shared in
// Redis: the ideal is 10 pages/s. It reports pages/s, its ratio to the
// ideal, and the request rate the provider saw, which must never exceed the
// limit.
//
// A job's pages are fanned out by the worker that took its task, so "1x200"
// (one 200-page job) keeps one worker busy while the other idles, and
// "2x100" (two jobs) has both share the limit.
//
//	go test -run '^$' -bench RateLimitedPages -benchtime 1x ./cmd/mmq/
func BenchmarkRateLimitedPages(b *testing.B) {
	for _, split := range []int{1, 2} {
		b.Run(fmt.Sprintf("%dx%d", split, 200/split), func(b *testing.B) {
			for range b.N {
				benchRateLimited(b, split)
			}
		})
	}
}

func benchRateLimited(b *testing.B, jobs int) {
	const pages, rpm = 200, 600
	srv := providertest.NewAnthropic(b, "sk-ant-bench")
	srv.Latency = 50 * time.Millisecond
	srv.Usage = func(providertest.Received, string) (int, int) { return 1500, 300 }
	redistest.New(b, redistest.DBCmd)
	env := map[string]string{
		"MMQ_REDIS_ADDR":                              redistest.Addr(b),
		"MMQ_REDIS_DB":                                "4",
		"MMQ_API_ADDR":                                "127.0.0.1:0",
		"MMQ_BLOBS_DIR":                               b.TempDir(),
		"MMQ_AUTH_ENABLED":                            "false",
		"MMQ_ANALYZER_PROVIDER":                       "anthropic",
		"MMQ_CACHE_ENABLED":                           "false",
		"ANTHROPIC_API_KEY":                           "sk-ant-bench",
		"MMQ_PROVIDERS_ANTHROPIC_BASE_URL":            srv.URL,
		"MMQ_PROVIDERS_ANTHROPIC_REQUESTS_PER_MINUTE": fmt.Sprint(rpm),
	}
	for k, v := range env {
		b.Setenv(k, v)
	}
	var base string
	for i := range 2 {
		cfg, err := config.Load("", nil)
		if err != nil {
			b.Fatal(err)
		}
		app := &App{Config: cfg, Log: zerolog.Nop(), RunAPI: i == 0, RunWorker: true}
		if err := app.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = app.Close() })
		if i == 0 {
			base = "http://" + app.Addr()
		}
	}
	c := client.New(base, nil)
	files := make([]string, jobs)
	for i := range files {
		files[i] = filepath.Join(b.TempDir(), fmt.Sprintf("doc%d.pdf", i))
		if err := os.WriteFile(files[i], textPDF(pages/jobs, i), 0o600); err != nil {
			b.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	done := make([]*tasks.Job, jobs)
	for i, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := c.SubmitFile(ctx, f, client.SubmitOptions{})
			if err == nil {
				j, err = c.Wait(ctx, j.ID, 20*time.Millisecond, nil)
			}
			if err != nil {
				b.Error(err)
				return
			}
			done[i] = j
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	for _, j := range done {
		if j == nil || j.Status != tasks.StatusSucceeded || j.PagesDone != pages/jobs {
			b.Fatalf("job %+v", j)
		}
	}

	var at []time.Time
	for _, r := range srv.Requests() {
		at = append(at, r.At)
	}
	slices.SortFunc(at, func(x, y time.Time) int { return x.Compare(y) })
	if len(at) != pages {
		b.Fatalf("%d requests for %d pages", len(at), pages)
	}
	ideal := float64(rpm) / 60
	perSec := pages / elapsed.Seconds()
	reqRate := float64(len(at)-1) / at[len(at)-1].Sub(at[0]).Seconds()
	// The most requests in any 6-second window, against the 60 it allows.
	most := 0
	for i := range at {
		j := i
		for j < len(at) && at[j].Sub(at[i]) < 6*time.Second {
			j++
		}
		most = max(most, j-i)
	}
	b.ReportMetric(perSec, "pages/s")
	b.ReportMetric(perSec/ideal, "x_ideal")
	b.ReportMetric(reqRate, "req/s")
	b.ReportMetric(float64(most), "max_req/6s")
	b.Logf("%d pages in %v: %.2f pages/s (%.3f of the ideal %.0f/s); requests at %.3f/s; at most %d in 6 s (limit %d)",
		pages, elapsed.Round(time.Millisecond), perSec, perSec/ideal, ideal, reqRate, most, int(6*ideal))
	if reqRate > ideal*1.001 || most > int(6*ideal)+1 {
		b.Errorf("the limit was exceeded: %.3f req/s, %d in 6 s", reqRate, most)
	}
}

// textPDF is a PDF of n pages, each with a line of text naming document
// doc and the page, so that no two pages are alike.
func textPDF(n, doc int) []byte {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("Document %d, page %d", doc, i+1)
	}
	return pdftest.Text(lines...)
}
