//go:build e2e

package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/tasks"
)

// The browser test: `make e2e`. It runs the whole program with API keys
// on, runs a job on each priority, and has a headless Chromium (the Debian
// package, driven over CDP by chromedp) open asynqmon at /monitoring.
// Without Chromium it skips, or fails when CI is set.

// chromium finds the browser: MMQ_CHROMIUM, else the usual names on PATH.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MMQ_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium on PATH and CI is set: .ci/run installs the chromium package")
	}
	t.Skip("no Chromium on PATH (apt-get install chromium, or set MMQ_CHROMIUM)")
	return ""
}

// screenshotDir is where the screenshots go: MMQ_E2E_OUT, else a new
// directory under the system's temp dir that outlives the test.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MMQ_E2E_OUT")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "mmq-e2e-"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newBrowser starts a headless Chromium, which lives until the test ends;
// every request of its pages carries header.
func newBrowser(t *testing.T, header map[string]any) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first call starts the browser, for as long as its context lives:
	// no timeout on it.
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: header}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// run runs an action within a minute.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// pageText waits until the page's text contains every one of want, and
// returns it.
func pageText(t *testing.T, ctx context.Context, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		text := run(t, ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		missing := ""
		for _, w := range want {
			if !strings.Contains(text, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return text
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed %q; it shows:\n%s", missing, text)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png := run(t, ctx, chromedp.FullScreenshot(100))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
	fmt.Printf("e2e screenshot: %s\n", path)
}

func TestBrowserMonitoring(t *testing.T) {
	key, err := api.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	_, url := startApp(t, "MMQ_AUTH_ENABLED", "true", "MMQ_AUTH_KEYS", api.HashKey(key)+":ops:admin")
	c := client.New(url, nil, client.WithAPIKey(key))
	ctx := context.Background()

	// One job on each priority, so that each queue has had a task.
	var jobs []*tasks.Job
	for _, p := range []string{"critical", "default", "low"} {
		j, err := c.SubmitFile(ctx, "testdata/pdfcpu-read.go.pdf", client.SubmitOptions{Priority: p})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for i, j := range jobs {
		if jobs[i], err = c.Wait(wctx, j.ID, 100*time.Millisecond, nil); err != nil || jobs[i].Status != tasks.StatusSucceeded {
			t.Fatalf("job %s: %+v, %v", j.ID, jobs[i], err)
		}
	}
	dir := screenshotDir(t)

	// Without the key the browser is asked for credentials (a headless
	// one cannot answer, so the load fails), and the UI's API answers 401.
	anon := newBrowser(t, map[string]any{})
	nctx, cancelNav := context.WithTimeout(anon, time.Minute)
	_, err = chromedp.Run(nctx, chromedp.Navigate(url+"/monitoring/queues"))
	cancelNav()
	if err == nil || !strings.Contains(err.Error(), "ERR_INVALID_AUTH_CREDENTIALS") {
		t.Errorf("/monitoring/queues without a key: %v, want a credentials challenge", err)
	}
	run(t, anon, chromedp.Navigate(url+"/healthz"))
	status := run(t, anon, chromedp.Evaluate[int](`fetch("/monitoring/api/queues", {credentials: "omit"}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if status != http.StatusUnauthorized {
		t.Errorf("fetch /monitoring/api/queues without a key: HTTP %d, want 401", status)
	}

	// With the key: the queues page (asynqmon's home, its "Queues" item)
	// lists our queues.
	b := newBrowser(t, map[string]any{"Authorization": "Bearer " + key})
	run(t, b, chromedp.Navigate(url+"/monitoring/"))
	text := pageText(t, b, "Queues", "critical", "default", "low")
	t.Logf("queues page:\n%s", text)
	screenshot(t, b, filepath.Join(dir, "monitoring-queues.png"))

	// The default queue's completed tasks show the finished job's task,
	// whose id is the job's.
	done := jobs[1]
	run(t, b, chromedp.Navigate(url+"/monitoring/queues/default?status=completed"))
	pageText(t, b, "Completed", "document:analyze", done.ID)
	screenshot(t, b, filepath.Join(dir, "monitoring-default-completed.png"))
}
