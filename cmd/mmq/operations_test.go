package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/internal/testwait"
	"github.com/mmq/mmq/tasks"
)

// runJob submits the 45-page test document and waits for its end.
func runJob(t *testing.T, c *client.Client) *tasks.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	job, err := c.SubmitFile(ctx, "testdata/pdfcpu-read.go.pdf", client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	job, err = c.Wait(ctx, job.ID, 50*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != tasks.StatusSucceeded {
		t.Fatalf("job ended %s", job.Status)
	}
	return job
}

// scrape reads url's Prometheus metrics.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return mfs
}

// metricValue returns the value (a histogram's count) of the series of
// family name whose labels include labels.
func metricValue(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	mf, ok := mfs[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// scrapeAfterJobs scrapes url once the worker has counted n ended jobs: a
// client sees a job end in the store a moment before the worker counts it.
func scrapeAfterJobs(t *testing.T, url string, n float64) map[string]*dto.MetricFamily {
	t.Helper()
	var mfs map[string]*dto.MetricFamily
	testwait.Until(t.Context(), 10*time.Second, func() bool {
		mfs = scrape(t, url)
		v, _ := metricValue(mfs, "mmq_jobs_total", nil)
		return v >= n
	})
	return mfs
}

func TestMetricsAfterAJob(t *testing.T) {
	app, url := startApp(t, "MMQ_METRICS_ADDR", "127.0.0.1:0")
	job := runJob(t, client.New(url, nil))

	mfs := scrapeAfterJobs(t, url+"/metrics", 1)
	tests := []struct {
		name   string
		labels map[string]string
		check  func(float64) bool
		want   string
	}{
		{"mmq_jobs_total", map[string]string{"kind": "document", "status": "succeeded"}, eq(1), "1"},
		{"mmq_job_duration_seconds", map[string]string{"kind": "document", "status": "succeeded"}, eq(1), "1 sample"},
		{"mmq_pages_total", map[string]string{"kind": "document", "status": "done"}, eq(45), "45"},
		{"mmq_page_duration_seconds", map[string]string{"kind": "document", "status": "done"}, eq(45), "45 samples"},
		{"mmq_worker_page_slots", nil, eq(16), "16"},
		{"mmq_worker_pages_in_flight", nil, eq(0), "0 once the job is done"},
		{"mmq_http_requests_total", map[string]string{"method": "POST", "route": "POST /v1/jobs", "status": "202"}, eq(1), "1"},
		{"mmq_http_requests_total", map[string]string{"method": "GET", "route": "GET /v1/jobs/{id}", "status": "200"}, atLeast(1), ">= 1"},
		// Queue metrics, under the names asynqmon's charts query.
		{"asynq_tasks_processed_total", map[string]string{"queue": "default"}, atLeast(1), ">= 1"},
		{"asynq_tasks_enqueued_total", map[string]string{"queue": "default", "state": "completed"}, atLeast(1), ">= 1 (retained)"},
		{"asynq_queue_size", map[string]string{"queue": "critical"}, eq(0), "0: a queue without tasks is still reported"},
		{"asynq_queue_latency_seconds", map[string]string{"queue": "low"}, eq(0), "0"},
		{"go_goroutines", nil, atLeast(1), ">= 1"},
	}
	for _, tt := range tests {
		got, ok := metricValue(mfs, tt.name, tt.labels)
		if !ok || !tt.check(got) {
			t.Errorf("%s%v = %v (found %v), want %s", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	// The local analyzer measures no model stages and spends nothing.
	if v, _ := metricValue(mfs, "mmq_cost_usd_total", nil); v != 0 {
		t.Errorf("mmq_cost_usd_total = %v for the local analyzer", v)
	}

	// metrics.addr serves the same registry on a port of its own.
	if app.MetricsAddr() == "" {
		t.Fatal("metrics.addr set but no metrics listener")
	}
	other := scrape(t, "http://"+app.MetricsAddr()+"/metrics")
	if v, _ := metricValue(other, "mmq_pages_total", map[string]string{"kind": "document", "status": "done"}); v != 45 {
		t.Errorf("metrics.addr: mmq_pages_total = %v, want 45", v)
	}

	// mmq stats reads the same job from the store.
	out, code := runCLI(t, "stats", "--since", "10m", "--server", url)
	if code != 0 || !strings.Contains(out, "1 succeeded") || !regexpMatch(`success rate\s+100\.00 %\s+> 99\.50 %\s+GREEN`, out) ||
		!regexpMatch(`page latency P50\s+\S+\s+< 2s\s+GREEN`, out) || !regexpMatch(`guardrail rate\s+0\.00 %\s+< 1\.00 %\s+GREEN`, out) {
		t.Errorf("mmq stats: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "stats", "--json", "--server", url)
	var st tasks.Stats
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Jobs[tasks.StatusSucceeded] != 1 || st.PagesRead != job.PagesTotal {
		t.Errorf("mmq stats --json: exit %d, %+v", code, st)
	}
}

func TestAPIKeys(t *testing.T) {
	key, err := api.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := api.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	_, url := startApp(t, "MMQ_AUTH_ENABLED", "true", "MMQ_AUTH_KEYS", api.HashKey("mmq_other")+","+api.HashKey(key)+","+api.HashKey(admin)+":ops:admin")

	get := func(path string, header ...string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest("GET", url+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	tests := []struct {
		name   string
		path   string
		header []string
		status int
		body   string
	}{
		{"v1 without a key", "/v1/jobs", nil, 401, `"code":"unauthorized"`},
		{"v1 with the key", "/v1/jobs", []string{"Authorization", "Bearer " + key}, 200, `"jobs"`},
		{"monitoring without a key", "/monitoring/", nil, 401, `"code":"unauthorized"`},
		{"monitoring api without a key", "/monitoring/api/queues", nil, 401, `"code":"unauthorized"`},
		{"monitoring with a tenant's key", "/monitoring/api/queues", []string{"X-API-Key", key}, 403, `"code":"forbidden"`},
		{"monitoring with an admin key", "/monitoring/api/queues", []string{"X-API-Key", admin}, 200, `"queues"`},
		{"healthz is open", "/healthz", nil, 200, ""},
		{"metrics are open", "/metrics", nil, 200, "mmq_http_requests_total"},
	}
	for _, tt := range tests {
		status, body, h := get(tt.path, tt.header...)
		if status != tt.status || !strings.Contains(body, tt.body) {
			t.Errorf("%s: %d %.200s, want %d with %s", tt.name, status, body, tt.status, tt.body)
		}
		if tt.path == "/monitoring/" && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: WWW-Authenticate %q, want a browser login prompt", tt.name, h.Get("WWW-Authenticate"))
		}
	}

	// The CLI sends MMQ_API_KEY; without it, it is refused.
	t.Setenv("MMQ_API_KEY", "")
	if _, code := runCLI(t, "submit", "testdata/pdfcpu-read.go.pdf", "--server", url); code != exitRejected {
		t.Errorf("submit without a key: exit %d, want %d", code, exitRejected)
	}
	t.Setenv("MMQ_API_KEY", key)
	out, code := runCLI(t, "submit", "testdata/pdfcpu-read.go.pdf", "--wait", "--server", url)
	if code != 0 || !strings.Contains(out, "succeeded") {
		t.Errorf("submit --wait with MMQ_API_KEY: exit %d\n%s", code, out)
	}
	var apiErr *client.APIError
	if _, _, err := client.New(url, nil, client.WithAPIKey("mmq_wrong")).Jobs(context.Background(), "", "", 1); !errors.As(err, &apiErr) || apiErr.Status != 401 {
		t.Errorf("client with a wrong key: %v", err)
	}
}

// `mmq api` refuses auth.enabled without keys; `mmq run` runs open and
// says so.
func TestAuthWithoutKeys(t *testing.T) {
	app, _ := startApp(t)
	var b bytes.Buffer
	banner(&b, app)
	if !strings.Contains(b.String(), "auth:       OFF (auth.enabled is false)") {
		t.Errorf("banner:\n%s", b.String())
	}
	app.Close()

	t.Setenv("MMQ_AUTH_ENABLED", "true")
	t.Setenv("MMQ_AUTH_KEYS", "")
	cfg := app.Config
	cfg.Auth.Enabled, cfg.Auth.Keys = true, nil
	strict := &App{Config: cfg, Log: app.Log, RunAPI: true}
	if err := strict.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "mmq keys create") {
		t.Errorf("mmq api with auth on and no keys: %v", err)
	}
	open := &App{Config: cfg, Log: app.Log, RunAPI: true, AllowOpen: true}
	if err := open.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	b.Reset()
	banner(&b, open)
	if !strings.Contains(b.String(), "auth:       OFF (auth.keys is empty; a try-out on a loopback address only)") || !strings.Contains(b.String(), "mmq keys create") {
		t.Errorf("mmq run banner without keys:\n%s", b.String())
	}

	// Fail closed: `mmq run` reachable from other machines with auth on
	// and no key refuses to start (the container image's old default,
	// 0.0.0.0:8080, ran wide open).
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		wide := *cfg
		wide.API.Addr = addr
		reach := &App{Config: &wide, Log: app.Log, RunAPI: true, AllowOpen: true}
		err := reach.Start(context.Background())
		if err == nil {
			reach.Close()
			t.Errorf("mmq run on %s with auth on and no keys started open", addr)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "mmq keys create") || !strings.Contains(msg, "auth.enabled=false") {
			t.Errorf("mmq run on %s: %v", addr, err)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.9.9.9:1": true, "[::1]:8080": true, "localhost:8080": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "10.0.0.1:8080": false,
		"example.com:80": false, "garbage": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestKeysCreate(t *testing.T) {
	out, code := runCLI(t, "keys", "create")
	fields := strings.Fields(out)
	var key, hash string
	for i, f := range fields {
		if strings.HasPrefix(f, "mmq_") {
			key = f
		}
		if f == "-" && i+1 < len(fields) {
			hash = fields[i+1]
		}
	}
	if code != 0 || key == "" || hash != api.HashKey(key) {
		t.Fatalf("keys create: exit %d, key %q, hash %q:\n%s", code, key, hash, out)
	}
	cmd := newRootCmd()
	var stdout bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetIn(strings.NewReader(key + "\n"))
	cmd.SetArgs([]string{"keys", "hash"})
	if err := cmd.Execute(); err != nil || strings.TrimSpace(stdout.String()) != hash {
		t.Errorf("keys hash: %v %q, want %s", err, stdout.String(), hash)
	}
}

func eq(want float64) func(float64) bool      { return func(v float64) bool { return v == want } }
func atLeast(want float64) func(float64) bool { return func(v float64) bool { return v >= want } }

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

// With blobs.backend s3 the API puts inputs in the bucket and the worker
// reads them from there; they leave it with their jobs, deleted or expired.
func TestS3BlobBackend(t *testing.T) {
	endpoint := os.Getenv("MMQ_TEST_S3_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("MMQ_TEST_S3_ENDPOINT is not set and CI is: .ci/run starts scripts/s3-test-server.sh")
		}
		t.Skip("MMQ_TEST_S3_ENDPOINT is not set (scripts/s3-test-server.sh starts a server)")
	}
	access, secret := os.Getenv("MMQ_TEST_S3_ACCESS_KEY"), os.Getenv("MMQ_TEST_S3_SECRET_KEY")
	ctx := context.Background()
	s3c, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(access, secret, "")})
	if err != nil {
		t.Fatal(err)
	}
	const bucket = "mmq-test-app"
	if ok, err := s3c.BucketExists(ctx, bucket); err != nil {
		t.Fatal(err)
	} else if !ok {
		if err := s3c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	prefix := fmt.Sprintf("run-%d/", time.Now().UnixNano())
	// A short retention and sweep, so that the inputs of ended jobs go
	// while the test watches.
	_, url := startApp(t, "MMQ_BLOBS_BACKEND", "s3", "MMQ_BLOBS_DIR", "", "MMQ_BLOBS_S3_ENDPOINT", endpoint,
		"MMQ_BLOBS_S3_BUCKET", bucket, "MMQ_BLOBS_S3_ACCESS_KEY", access, "MMQ_BLOBS_S3_SECRET_KEY", secret,
		"MMQ_BLOBS_S3_USE_SSL", "false", "MMQ_BLOBS_S3_PREFIX", prefix,
		"MMQ_STORE_RETENTION", "3s", "MMQ_WORKER_BLOB_SWEEP_INTERVAL", "200ms")
	c := client.New(url, nil)
	objects := func() []minio.ObjectInfo {
		var objects []minio.ObjectInfo
		for o := range s3c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			objects = append(objects, o)
		}
		return objects
	}
	// Two jobs of the same file share one object, deleting the first keeps
	// it, deleting the second too removes it at once. (Submitted together
	// and deleted as soon as they end, well within the retention.)
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var pair [2]*tasks.Job
	for i := range pair {
		j, err := c.SubmitFile(wctx, "testdata/pdfcpu-read.go.pdf", client.SubmitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pair[i] = j
	}
	for i, j := range pair {
		if pair[i], err = c.Wait(wctx, j.ID, 20*time.Millisecond, nil); err != nil {
			t.Fatal(err)
		}
		if pair[i].Status != tasks.StatusSucceeded || pair[i].PagesDone != 45 {
			t.Fatalf("job %+v", pair[i])
		}
	}
	job, twin := pair[0], pair[1]
	// The blob key is internal: the input is the one object of the run.
	if objs := objects(); len(objs) != 1 || objs[0].Size != job.Size {
		t.Errorf("inputs in the bucket: %+v; want one of the jobs' size %d", objs, job.Size)
	}
	if err := c.DeleteJob(ctx, job.ID); err != nil {
		t.Fatal(err)
	}
	if objs := objects(); len(objs) != 1 {
		t.Fatalf("after deleting one of two jobs of the file: %d objects; want the shared one kept", len(objs))
	}
	if err := c.DeleteJob(ctx, twin.ID); err != nil {
		t.Fatal(err)
	}
	if objs := objects(); len(objs) != 0 {
		t.Fatalf("after deleting both jobs of the file: %+v; want no object", objs)
	}
	// Without deletion the input goes once the job's retention has passed.
	expiring := runJob(t, c)
	testwait.For(t, 30*time.Second, "the sweeper to remove the input of job "+expiring.ID+" (retention 3 s) from the bucket",
		func() bool { return len(objects()) == 0 })
	if _, err := c.Job(ctx, expiring.ID); err == nil {
		t.Errorf("job %s can still be read after its retention", expiring.ID)
	}
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"blobs":"ok"`) {
		t.Errorf("/readyz: %d %s", resp.StatusCode, body)
	}
}

// asynqmon is read-only unless monitoring.read_only is false: mmq refuses
// its pause and delete before asynqmon sees them, and its page hides the
// buttons. Every answer forbids framing.
func TestMonitoringReadOnly(t *testing.T) {
	_, url := startApp(t, "MMQ_MONITORING_PROMETHEUS_ADDR", "http://prometheus.invalid:9090")
	runJob(t, client.New(url, nil)) // so that asynqmon knows the default queue
	for _, tt := range []struct{ method, path string }{
		{"POST", "/monitoring/api/queues/default:pause"},
		{"DELETE", "/monitoring/api/queues/default"},
		{"DELETE", "/monitoring/api/queues/default/completed_tasks:delete_all"},
	} {
		status, body, h := monitorRequest(t, tt.method, url+tt.path, "Origin", url)
		if status != http.StatusForbidden || !strings.Contains(body, `"code":"forbidden"`) || !strings.Contains(body, "read-only") {
			t.Errorf("%s %s in read-only mode: %d %s, want 403 forbidden", tt.method, tt.path, status, body)
		}
		if h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s %s: X-Frame-Options %q", tt.method, tt.path, h.Get("X-Frame-Options"))
		}
	}
	status, body, _ := monitorRequest(t, "GET", url+"/monitoring/api/queues")
	var qs struct {
		Queues []struct {
			Queue     string `json:"queue"`
			Paused    bool   `json:"paused"`
			Completed int    `json:"completed"`
		} `json:"queues"`
	}
	if err := json.Unmarshal([]byte(body), &qs); status != 200 || err != nil {
		t.Fatalf("asynqmon queues: %d %s", status, body)
	}
	found := false
	for _, q := range qs.Queues {
		if q.Queue == "default" {
			found = true
			if q.Paused || q.Completed < 1 {
				t.Errorf("default queue after refused changes: %+v, want not paused, its completed task kept", q)
			}
		}
	}
	if !found {
		t.Errorf("asynqmon lists no default queue: %s", body)
	}

	// The UI learns the Prometheus address and the read-only flag from its
	// page, which no other page may frame.
	status, body, h := monitorRequest(t, "GET", url+"/monitoring/")
	if status != 200 || !strings.Contains(body, "prometheus.invalid:9090") || !strings.Contains(body, `FLAG_READ_ONLY="true"`) {
		t.Errorf("asynqmon page does not carry the Prometheus address and read-only flag: %d\n%.600s", status, body)
	}
	if csp := h.Get("Content-Security-Policy"); csp != "frame-ancestors 'none'" {
		t.Errorf("asynqmon page: Content-Security-Policy %q", csp)
	}
}

// With monitoring.read_only false, asynqmon's own page may pause a queue;
// another site's may not, nor a request that names no origin.
func TestMonitoringReadWrite(t *testing.T) {
	_, url := startApp(t, "MMQ_MONITORING_READ_ONLY", "false")
	pause := url + "/monitoring/api/queues/default:pause"
	for _, header := range [][]string{
		nil,
		{"Origin", "https://evil.example"},
		{"Origin", url, "Sec-Fetch-Site", "cross-site"},
	} {
		if status, body, _ := monitorRequest(t, "POST", pause, header...); status != http.StatusForbidden || !strings.Contains(body, "cross-origin") {
			t.Errorf("pause with %q: %d %s, want 403 forbidden", header, status, body)
		}
	}
	status, body, _ := monitorRequest(t, "GET", url+"/monitoring/")
	if status != 200 || !strings.Contains(body, `FLAG_READ_ONLY="false"`) {
		t.Errorf("asynqmon page: %d, want the read-only flag false:\n%.600s", status, body)
	}
	// The refused pauses did not happen: asynqmon refuses to pause a
	// paused queue, and pauses an unpaused one with 204.
	if status, body, _ := monitorRequest(t, "POST", pause, "Origin", url, "Sec-Fetch-Site", "same-origin"); status != http.StatusNoContent {
		t.Errorf("pause from asynqmon's page: %d %s, want 204", status, body)
	}
	if status, body, _ := monitorRequest(t, "POST", url+"/monitoring/api/queues/default:resume", "Referer", url+"/monitoring/queues"); status != http.StatusNoContent {
		t.Errorf("resume from asynqmon's page (Referer): %d %s, want 204", status, body)
	}
}

// monitorRequest sends a request without a body and header, name and
// value pairs, and returns the answer.
func monitorRequest(t *testing.T, method, url string, header ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// A model provider's page metrics reach /metrics: tokens, cost, the stage
// timings, cache outcomes.
func TestProviderMetrics(t *testing.T) {
	c, url := startModelApp(t, fakeAnthropic(t))
	for range 2 {
		if j := submitAndWait(t, c, "testdata/pdfcpu-read.go.pdf", client.SubmitOptions{Task: "classification"}); j.Status != tasks.StatusSucceeded {
			t.Fatalf("job %+v", j)
		}
	}
	mfs := scrapeAfterJobs(t, url+"/metrics", 2)
	prov := map[string]string{"provider": "anthropic"}
	tests := []struct {
		name   string
		labels map[string]string
		check  func(float64) bool
		want   string
	}{
		{"mmq_tokens_total", map[string]string{"provider": "anthropic", "direction": "input"}, atLeast(45), ">= 45"},
		{"mmq_tokens_total", map[string]string{"provider": "anthropic", "direction": "output"}, atLeast(45), ">= 45"},
		{"mmq_cost_usd_total", prov, func(v float64) bool { return v > 0 }, "> 0"},
		// The first run calls the model for each page, the second is
		// answered from the cache.
		{"mmq_cache_lookups_total", map[string]string{"result": "miss"}, eq(45), "45"},
		{"mmq_cache_lookups_total", map[string]string{"result": "hit"}, eq(45), "45"},
		{"mmq_page_stage_duration_seconds", map[string]string{"provider": "anthropic", "stage": "preprocess"}, eq(90), "90 samples"},
		{"mmq_page_stage_duration_seconds", map[string]string{"provider": "anthropic", "stage": "inference"}, eq(45), "45: cache hits call no model"},
		{"mmq_page_stage_duration_seconds", map[string]string{"provider": "anthropic", "stage": "ttfb"}, eq(45), "45: cache hits have none"},
		{"mmq_jobs_total", map[string]string{"kind": "document", "status": "succeeded"}, eq(2), "2"},
	}
	for _, tt := range tests {
		got, ok := metricValue(mfs, tt.name, tt.labels)
		if !ok || !tt.check(got) {
			t.Errorf("%s%v = %v (found %v), want %s", tt.name, tt.labels, got, ok, tt.want)
		}
	}
}
