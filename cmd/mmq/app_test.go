package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/config"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/internal/testwait"
	"github.com/mmq/mmq/tasks"
)

// startApp runs the whole program (API, worker, asynqmon) on port 0 against
// the test Redis, as `mmq run` would. env holds more variables to set, as
// name, value pairs.
func startApp(t *testing.T, env ...string) (*App, string) {
	t.Helper()
	redistest.New(t, redistest.DBCmd) // flush the db
	return startAppEnv(t, append([]string{"MMQ_REDIS_ADDR", redistest.Addr(t), "MMQ_REDIS_DB", strconv.Itoa(redistest.DBCmd)}, env...)...)
}

// startAppEnv runs the whole program on port 0 with a temporary blob
// directory, API keys off (the tests of API keys turn them on,
// operations_test.go) and env, name and value pairs, set on top.
func startAppEnv(t *testing.T, env ...string) (*App, string) {
	t.Helper()
	t.Setenv("MMQ_API_ADDR", "127.0.0.1:0")
	t.Setenv("MMQ_BLOBS_DIR", t.TempDir())
	t.Setenv("MMQ_WORKER_SHUTDOWN_TIMEOUT", "2s")
	t.Setenv("MMQ_AUTH_ENABLED", "false")
	for i := 0; i+1 < len(env); i += 2 {
		t.Setenv(env[i], env[i+1])
	}
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	app := &App{Config: cfg, Log: testLog(), RunAPI: true, RunWorker: true}
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Close() })
	return app, "http://" + app.Addr()
}

// testLog is the program's logger in tests: none, or with MMQ_TEST_LOG=1
// everything on stderr.
func testLog() zerolog.Logger {
	if os.Getenv("MMQ_TEST_LOG") == "1" {
		return zerolog.New(os.Stderr).With().Timestamp().Logger()
	}
	return zerolog.Nop()
}

// runCLI runs the mmq command line in-process and returns its stdout and
// exit code.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		t.Logf("mmq %s: %v (stderr: %s)", strings.Join(args, " "), err, errOut.String())
		return out.String(), exitCode(err)
	}
	return out.String(), 0
}

func TestSubmitToResultsEndToEnd(t *testing.T) {
	_, url := startApp(t)
	ctx := context.Background()
	c := client.New(url, nil)

	job, err := c.SubmitFile(ctx, "testdata/pdfcpu-read.go.pdf", client.SubmitOptions{Metadata: json.RawMessage(`{"tag":"e2e"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != tasks.StatusQueued || job.PagesTotal != 45 {
		t.Fatalf("submitted job = %+v, want queued with 45 pages", job)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	job, err = c.Wait(wctx, job.ID, 50*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != tasks.StatusSucceeded || job.PagesDone != 45 || string(job.Metadata) != `{"tag":"e2e"}` {
		t.Fatalf("job = %+v", job)
	}
	rs, err := c.AllResults(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 45 {
		t.Fatalf("%d results, want 45", len(rs))
	}
	var words int
	for i, r := range rs {
		var facts struct {
			Page      int    `json:"page"`
			WordCount int    `json:"word_count"`
			Text      string `json:"text"`
			SHA256    string `json:"sha256"`
		}
		if err := json.Unmarshal(r.Output, &facts); err != nil {
			t.Fatal(err)
		}
		if r.Index != i+1 || facts.Page != i+1 || len(facts.SHA256) != 64 {
			t.Errorf("result %d: index %d page %d sha %q", i, r.Index, facts.Page, facts.SHA256)
		}
		words += facts.WordCount
	}
	// read.go.pdf is Go source printed to PDF: its text must come through.
	if words < 1000 || !strings.Contains(string(rs[0].Output), "package") {
		t.Errorf("only %d words over 45 pages; page 1 output %.200s", words, rs[0].Output)
	}

	// The CLI reads the same job.
	out, code := runCLI(t, "status", job.ID, "--server", url)
	if code != 0 || !strings.Contains(out, "succeeded") || !strings.Contains(out, "45 done") {
		t.Errorf("mmq status: exit %d, output:\n%s", code, out)
	}
	out, code = runCLI(t, "results", job.ID, "--json", "--server", url)
	var cliResults []tasks.PageResult
	if code != 0 || json.Unmarshal([]byte(out), &cliResults) != nil || len(cliResults) != 45 {
		t.Errorf("mmq results --json: exit %d, %d results", code, len(cliResults))
	}

	// asynqmon is served beside the API and shows the queues.
	resp, err := http.Get(url + "/monitoring/api/queues")
	if err != nil {
		t.Fatal(err)
	}
	body := new(bytes.Buffer)
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(body.String(), `"default"`) {
		t.Errorf("asynqmon queues: %d %s", resp.StatusCode, body)
	}
}

func TestCLISubmitWaitAndExitCodes(t *testing.T) {
	_, url := startApp(t)
	out, code := runCLI(t, "submit", "testdata/qpdf-enc-R3-rc4-128-userpw-view.pdf", "--password", "view", "--wait", "--server", url)
	if code != 0 || !strings.Contains(out, "succeeded") || !strings.Contains(out, "30 total, 30 done") {
		t.Errorf("submit --wait: exit %d, output:\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "notes.pdf")
	if err := os.WriteFile(bad, []byte("<html>not a pdf</html>"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, code := runCLI(t, "submit", bad, "--server", url); code != exitRejected {
		t.Errorf("submit of HTML named .pdf: exit %d, want %d", code, exitRejected)
	}
	if _, code := runCLI(t, "submit", "testdata/qpdf-enc-R3-rc4-128-userpw-view.pdf", "--server", url); code != exitRejected {
		t.Errorf("submit of an encrypted PDF without password: exit %d, want %d", code, exitRejected)
	}
	if _, code := runCLI(t, "status", "no-such-job", "--server", url); code != exitRejected {
		t.Errorf("status of an unknown job: exit %d, want %d", code, exitRejected)
	}
	if _, code := runCLI(t, "status", "x", "--server", "http://127.0.0.1:1"); code != exitUnavailable {
		t.Errorf("status against no server: exit %d, want %d", code, exitUnavailable)
	}
	if _, code := runCLI(t, "submit"); code != exitUsage {
		t.Errorf("submit without a file: exit %d, want %d", code, exitUsage)
	}
}

// `mmq run` with no Redis configured starts an embedded one and says so.
func TestRunWithEmbeddedRedis(t *testing.T) {
	t.Setenv("MMQ_REDIS_ADDR", "")
	t.Setenv("MMQ_API_ADDR", "127.0.0.1:0")
	t.Setenv("MMQ_BLOBS_DIR", t.TempDir())
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	app := &App{Config: cfg, Log: zerolog.Nop(), RunAPI: true, RunWorker: true, AllowEmbedded: true, AllowOpen: true}
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	var b bytes.Buffer
	banner(&b, app)
	if !app.Embedded() || !strings.Contains(b.String(), "EMBEDDED") || !strings.Contains(b.String(), "MMQ_REDIS_ADDR") {
		t.Errorf("banner does not announce the embedded Redis:\n%s", b.String())
	}
	c := client.New("http://"+app.Addr(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	job, err := c.SubmitFile(ctx, "testdata/pdfcpu-read.go.pdf", client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	job, err = c.Wait(ctx, job.ID, 50*time.Millisecond, nil)
	if err != nil || job.Status != tasks.StatusSucceeded {
		t.Fatalf("job on embedded Redis: %+v, %v", job, err)
	}

	// Without AllowEmbedded (mmq api, mmq worker) an empty address is refused.
	other := &App{Config: cfg, Log: zerolog.Nop(), RunWorker: true}
	if err := other.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "redis.addr") {
		t.Errorf("worker without redis.addr: err %v", err)
	}
}

func TestCancelRunningJobAndRetry(t *testing.T) {
	_, url := startApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := client.New(url, nil)
	job, err := c.SubmitFile(ctx, "testdata/pdfcpu-read.go.pdf", client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 30*time.Second, "the first page done", func() bool {
		j, err := c.Job(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		return j.PagesDone > 0
	})
	resp, err := http.Post(url+"/v1/jobs/"+job.ID+"/cancel", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("cancel: HTTP %d", resp.StatusCode)
	}
	// The running handler stops: the count of done pages settles below 45.
	var last *tasks.Job
	for stable := 0; stable < 10; time.Sleep(20 * time.Millisecond) {
		j, err := c.Job(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if last != nil && j.PagesDone == last.PagesDone {
			stable++
		} else {
			stable = 0
		}
		last = j
	}
	if last.Status != tasks.StatusCanceled || last.ErrorCode != tasks.CodeCanceled || last.PagesDone >= 45 {
		t.Fatalf("after cancel: %s %s, %d pages done; want canceled before the end", last.Status, last.ErrorCode, last.PagesDone)
	}
	rs, err := c.AllResults(ctx, job.ID)
	if err != nil || len(rs) != last.PagesDone+last.PagesFailed {
		t.Errorf("results after cancel: %d (err %v), want the %d finished pages kept", len(rs), err, last.PagesDone)
	}
	resp, _ = http.Post(url+"/v1/jobs/"+job.ID+"/cancel", "application/json", nil)
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("second cancel: HTTP %d, want 409", resp.StatusCode)
	}
	// Retry applies to failed jobs, not canceled ones.
	resp, _ = http.Post(url+"/v1/jobs/"+job.ID+"/retry", "application/json", nil)
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("retry of a canceled job: HTTP %d, want 409", resp.StatusCode)
	}
}

// readSSE reads Server-Sent Events from url until the stream ends and
// returns their ids and types; stopAfter > 0 drops the connection after
// that many events.
func readSSE(t *testing.T, url, lastID string, stopAfter int) (ids, types []string, datas []string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	errEnough := errors.New("enough events")
	err = client.ReadEvents(resp.Body, func(ev tasks.Event) error {
		ids, types, datas = append(ids, ev.ID), append(types, ev.Type), append(datas, string(ev.Data))
		if stopAfter > 0 && len(ids) == stopAfter {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		t.Fatalf("events: %v", err)
	}
	return
}

func TestJobEventsWithReconnect(t *testing.T) {
	_, url := startApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	job, err := client.New(url, nil).SubmitFile(ctx, "testdata/pdfcpu-read.go.pdf", client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	events := url + "/v1/jobs/" + job.ID + "/events"
	// A first client drops after 10 events, then resumes from the last id.
	ids1, types1, _ := readSSE(t, events, "", 10)
	ids2, types2, datas2 := readSSE(t, events, ids1[len(ids1)-1], 0)
	ids, types := append(ids1, ids2...), append(types1, types2...)
	pages := map[string]bool{}
	seen := map[string]bool{}
	for i, id := range ids {
		if seen[id] {
			t.Errorf("event %s delivered twice", id)
		}
		seen[id] = true
		if types[i] == "page" {
			pages[id] = true
		}
	}
	if types[0] != "state" || len(pages) != 45 || types[len(types)-1] != "state" {
		t.Fatalf("events: first %s, %d page events, last %s; want state, 45, state", types[0], len(pages), types[len(types)-1])
	}
	if last := datas2[len(datas2)-1]; !strings.Contains(last, `"final":true`) || !strings.Contains(last, `"pages_done":45`) {
		t.Errorf("final event %s", last)
	}
	// A client connecting after the end replays everything and stops.
	all, _, _ := readSSE(t, events, "", 0)
	if len(all) != len(ids) {
		t.Errorf("replay after the end: %d events, want %d", len(all), len(ids))
	}
}

func TestCLISubmitBatchDirectory(t *testing.T) {
	_, url := startApp(t)
	dir := t.TempDir()
	for _, name := range []string{"a.pdf", "b.pdf"} {
		data, err := os.ReadFile("testdata/pdfcpu-read.go.pdf")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, code := runCLI(t, "submit", dir, "--wait", "--server", url)
	if code != 0 || !strings.Contains(out, "jobs      2, 2 succeeded") || !strings.Contains(out, "completed") {
		t.Errorf("submit DIR --wait: exit %d, output:\n%s", code, out)
	}
	// Each job is listed with its input, state and pages.
	for _, name := range []string{"a.pdf", "b.pdf"} {
		if !regexp.MustCompile(`(?m)^\S+\s+` + regexp.QuoteMeta(name) + `\s+succeeded\s+(\d+)/(\d+)\s*$`).MatchString(out) {
			t.Errorf("submit DIR --wait does not list %s as succeeded:\n%s", name, out)
		}
	}
	out, code = runCLI(t, "submit", filepath.Join(dir, "*.pdf"), "--batch", "--json", "--server", url)
	var b struct {
		ID     string   `json:"id"`
		Total  int      `json:"total"`
		JobIDs []string `json:"job_ids"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &b) != nil || b.Total != 2 || len(b.JobIDs) != 2 {
		t.Errorf("submit GLOB --batch --json: exit %d, output:\n%s", code, out)
	}
}
