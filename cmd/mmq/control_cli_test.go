package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/internal/pdftest"
	"github.com/mmq/mmq/tasks"
)

// mmq watch, cancel and retry through the whole program: a job that
// succeeds is watched to exit 0; a job whose input hangs is canceled and
// its watch exits 4; a job whose input failed once is retried, and its
// watch follows the second run to exit 0.
func TestWatchCancelRetryCLI(t *testing.T) {
	pdf := pdftest.Text("one", "two", "three")
	path := filepath.Join(t.TempDir(), "three.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var flaky atomic.Int32
	inputs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hang.pdf":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/flaky.pdf":
			if flaky.Add(1) == 1 {
				http.Error(w, "not yet", http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", "application/pdf")
			w.Write(pdf)
		}
	}))
	t.Cleanup(inputs.Close)
	t.Cleanup(func() { close(release) })
	_, url := startApp(t, "MMQ_SSRF_ALLOWED_NETWORKS", "127.0.0.1/32")
	c := client.New(url, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	ok, err := c.SubmitFile(ctx, path, client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, code := runCLI(t, "watch", ok.ID, "--server", url)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if code != 0 || strings.Count(out, "page ") != 3 || !strings.HasPrefix(last, "state") || !strings.Contains(last, `"final":true`) {
		t.Errorf("watch of a succeeding job: exit %d, %d lines, last %q; want 0, every page, the final state", code, len(lines), last)
	}

	hang, err := c.SubmitURL(ctx, inputs.URL+"/hang.pdf", client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out, code := runCLI(t, "cancel", hang.ID, "--server", url); code != 0 || !strings.Contains(out, "canceled job "+hang.ID) {
		t.Errorf("mmq cancel: exit %d, %s", code, out)
	}
	if out, code := runCLI(t, "watch", hang.ID, "--server", url); code != exitJobFailed || !strings.Contains(out, `"canceled"`) {
		t.Errorf("watch of a canceled job: exit %d, %s; want %d", code, out, exitJobFailed)
	}
	if out, code := runCLI(t, "cancel", hang.ID, "--server", url); code != exitRejected {
		t.Errorf("second cancel: exit %d, %s; want %d (409 conflict)", code, out, exitRejected)
	}
	if _, code := runCLI(t, "retry", hang.ID, "--server", url); code != exitRejected {
		t.Errorf("retry of a canceled job: exit %d, want %d (409 conflict)", code, exitRejected)
	}
	if _, code := runCLI(t, "cancel", "no-such-id", "--server", url); code != exitFailure {
		t.Errorf("cancel of an unknown id: exit %d, want %d", code, exitFailure)
	}

	flakyJob, err := c.SubmitURL(ctx, inputs.URL+"/flaky.pdf", client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j, err := c.Wait(ctx, flakyJob.ID, 20*time.Millisecond, nil); err != nil || j.Status != tasks.StatusFailed {
		t.Fatalf("the flaky input's first run: %+v, %v; want failed", j, err)
	}
	out, code = runCLI(t, "retry", flakyJob.ID, "--watch", "--server", url)
	if code != 0 || !strings.Contains(out, "retrying job "+flakyJob.ID) || !strings.Contains(out, `"succeeded"`) {
		t.Errorf("mmq retry --watch: exit %d, %s; want 0 and the job succeeded", code, out)
	}
	if j, err := c.Job(ctx, flakyJob.ID); err != nil || j.Status != tasks.StatusSucceeded || j.PagesDone != 3 {
		t.Errorf("after the retry: %+v, %v", j, err)
	}
	// The retried job's stream is the second run's: it starts queued and
	// ends with the success, not with the first run's failure.
	var states []string
	if err := c.JobEvents(ctx, flakyJob.ID, func(ev tasks.Event) error {
		if ev.Type == "state" {
			var d struct{ Status string }
			_ = json.Unmarshal(ev.Data, &d)
			states = append(states, d.Status)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(states) < 2 || states[0] != "queued" || states[len(states)-1] != "succeeded" || slices.Contains(states, "failed") {
		t.Errorf("states of the retried job's stream: %v; want queued first, succeeded last, no failed", states)
	}
}

// mmq cancel of a batch cancels the jobs that have not ended; mmq watch of
// the batch then exits non-zero.
func TestCancelAndWatchBatchCLI(t *testing.T) {
	release := make(chan struct{})
	inputs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(inputs.Close)
	t.Cleanup(func() { close(release) })
	_, url := startApp(t, "MMQ_SSRF_ALLOWED_NETWORKS", "127.0.0.1/32")
	c := client.New(url, nil)
	b, err := c.SubmitBatchURLs(t.Context(), []string{inputs.URL + "/a.pdf", inputs.URL + "/b.pdf"}, client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out, code := runCLI(t, "cancel", b.ID, "--server", url); code != 0 || !strings.Contains(out, "canceled batch "+b.ID+": 2 jobs canceled") {
		t.Errorf("mmq cancel BATCH: exit %d, %s", code, out)
	}
	out, code := runCLI(t, "watch", b.ID, "--server", url)
	if code != exitJobPartial || !strings.Contains(out, `"completed"`) {
		t.Errorf("watch of the canceled batch: exit %d, %s; want %d", code, out, exitJobPartial)
	}
}
