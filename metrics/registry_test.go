package metrics_test

import (
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mmq/mmq/metrics"
	"github.com/mmq/mmq/tasks"
)

// sample finds the metric name{labels} in g; its value is a counter's or
// gauge's value, or a histogram's sample count.
func sample(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func TestPipelineMetrics(t *testing.T) {
	t.Parallel()
	r := metrics.NewRegistry()
	created := time.Now().Add(-3 * time.Second)
	finished := time.Now()
	job := &tasks.Job{ID: "j1", Kind: tasks.KindVideo, Status: tasks.StatusSucceeded, CreatedAt: created, FinishedAt: &finished}

	r.PageDone(job, tasks.PageResult{Index: 0, Status: tasks.PageDone, DurationMS: 1500, Metrics: &tasks.Metrics{
		Provider: "anthropic", Model: "claude-haiku-4-5", PreprocessMS: 20, InferenceMS: 1400, TTFBMS: 300, PostprocessMS: 5,
		ThrottledMS: 250, InputTokens: 1000, OutputTokens: 200, CostUSD: 0.002, Retries: 2, Cache: tasks.CacheMiss, GuardrailFlags: 1,
	}})
	r.PageDone(job, tasks.PageResult{Index: 1, Status: tasks.PageDone, DurationMS: 3, Metrics: &tasks.Metrics{
		Provider: "anthropic", Model: "claude-haiku-4-5", PreprocessMS: 1, PostprocessMS: 1, Cache: tasks.CacheHit,
	}})
	// The local analyzer measures no stages.
	r.PageDone(&tasks.Job{ID: "j2"}, tasks.PageResult{Index: 1, Status: tasks.PageFailed, DurationMS: 7, Metrics: &tasks.Metrics{Provider: "local"}})
	r.JobEnded(job, time.Second)
	r.TaskRetry(job, tasks.CodeUnavailable)
	r.WebhookAttempt(tasks.DeliveryAttempt{Outcome: tasks.DeliveryRetrying, LatencyMS: 40})
	r.WebhookAttempt(tasks.DeliveryAttempt{Outcome: tasks.DeliveryDelivered, LatencyMS: 12})
	r.HTTPRequest("GET", "GET /v1/jobs/{id}", 200, 5*time.Millisecond)
	var inFlight int64 = 3
	if err := r.WatchPages(func() int64 { return inFlight }, 16); err != nil {
		t.Fatal(err)
	}

	g := r.Gatherer()
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"mmq_jobs_total", map[string]string{"kind": "video", "status": "succeeded"}, 1},
		{"mmq_job_duration_seconds", map[string]string{"kind": "video", "status": "succeeded"}, 1},
		{"mmq_pages_total", map[string]string{"kind": "video", "status": "done"}, 2},
		{"mmq_pages_total", map[string]string{"kind": "document", "status": "failed"}, 1},
		{"mmq_page_duration_seconds", map[string]string{"kind": "video", "status": "done"}, 2},
		{"mmq_page_stage_duration_seconds", map[string]string{"stage": "inference", "provider": "anthropic"}, 1},
		{"mmq_page_stage_duration_seconds", map[string]string{"stage": "preprocess", "provider": "anthropic"}, 2},
		{"mmq_page_stage_duration_seconds", map[string]string{"stage": "ttfb", "provider": "anthropic"}, 1},
		{"mmq_tokens_total", map[string]string{"provider": "anthropic", "model": "claude-haiku-4-5", "direction": "input"}, 1000},
		{"mmq_tokens_total", map[string]string{"provider": "anthropic", "model": "claude-haiku-4-5", "direction": "output"}, 200},
		{"mmq_cost_usd_total", map[string]string{"provider": "anthropic", "model": "claude-haiku-4-5"}, 0.002},
		{"mmq_page_retries_total", map[string]string{"provider": "anthropic"}, 2},
		{"mmq_task_retries_total", map[string]string{"kind": "video", "error_code": "unavailable"}, 1},
		{"mmq_cache_lookups_total", map[string]string{"result": "hit"}, 1},
		{"mmq_cache_lookups_total", map[string]string{"result": "miss"}, 1},
		{"mmq_rate_limit_wait_seconds", map[string]string{"provider": "anthropic"}, 1},
		{"mmq_guardrail_triggers_total", map[string]string{"provider": "anthropic"}, 1},
		{"mmq_webhook_deliveries_total", map[string]string{"outcome": "retrying"}, 1},
		{"mmq_webhook_deliveries_total", map[string]string{"outcome": "delivered"}, 1},
		{"mmq_webhook_delivery_duration_seconds", nil, 2},
		{"mmq_http_requests_total", map[string]string{"method": "GET", "route": "GET /v1/jobs/{id}", "status": "200"}, 1},
		{"mmq_worker_pages_in_flight", nil, 3},
		{"mmq_worker_page_slots", nil, 16},
	}
	for _, tt := range tests {
		got, ok := sample(t, g, tt.name, tt.labels)
		if !ok || got != tt.want {
			t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	if _, ok := sample(t, g, "mmq_page_stage_duration_seconds", map[string]string{"provider": "local"}); ok {
		t.Error("stages recorded for the local analyzer, which measures none")
	}
	if got, _ := sample(t, g, "mmq_page_stage_duration_seconds", map[string]string{"stage": "ttfb"}); got != 1 {
		t.Errorf("ttfb samples %v, want 1: a cache hit has no first byte", got)
	}

	// The handler serves them in the text format.
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{`mmq_jobs_total{kind="video",status="succeeded",tenant=""} 1`, "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// fakeInspector answers like asynq.Inspector.
type fakeInspector struct {
	infos map[string]*asynq.QueueInfo
	err   error
}

func (f fakeInspector) Queues() ([]string, error) {
	if f.err != nil {
		return nil, f.err
	}
	var qs []string
	for q := range f.infos {
		qs = append(qs, q)
	}
	return qs, nil
}

func (f fakeInspector) GetQueueInfo(q string) (*asynq.QueueInfo, error) { return f.infos[q], nil }

func TestQueueCollector(t *testing.T) {
	t.Parallel()
	insp := fakeInspector{infos: map[string]*asynq.QueueInfo{
		"default": {Queue: "default", Size: 7, Pending: 4, Active: 2, Retry: 1, Latency: 1500 * time.Millisecond, ProcessedTotal: 40, FailedTotal: 3},
	}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewQueueCollector(insp, []string{"critical", "default", "low"}, nil))
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"asynq_queue_size", map[string]string{"queue": "default"}, 7},
		{"asynq_queue_latency_seconds", map[string]string{"queue": "default"}, 1.5},
		{"asynq_tasks_enqueued_total", map[string]string{"queue": "default", "state": "pending"}, 4},
		{"asynq_tasks_enqueued_total", map[string]string{"queue": "default", "state": "active"}, 2},
		{"asynq_tasks_processed_total", map[string]string{"queue": "default"}, 40},
		{"asynq_tasks_failed_total", map[string]string{"queue": "default"}, 3},
		// Queues without a task yet are there, empty.
		{"asynq_queue_size", map[string]string{"queue": "critical"}, 0},
		{"asynq_tasks_processed_total", map[string]string{"queue": "low"}, 0},
	}
	for _, tt := range tests {
		got, ok := sample(t, reg, tt.name, tt.labels)
		if !ok || got != tt.want {
			t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}

	// Redis down: the scrape says so, and onErr hears it.
	var heard error
	reg = prometheus.NewRegistry()
	reg.MustRegister(metrics.NewQueueCollector(fakeInspector{err: errors.New("connection refused")}, nil, func(err error) { heard = err }))
	if _, err := reg.Gather(); err == nil || heard == nil || !strings.Contains(heard.Error(), "connection refused") {
		t.Errorf("gather with Redis down: %v; onErr heard %v", err, heard)
	}
}

// TestHTTPRequestLabelsBounded replays the review's attack: 5,000 requests
// with random methods made 5,004 http_requests_total series (a 5.9 MB
// /metrics), because the method label was the raw method.
func TestHTTPRequestLabelsBounded(t *testing.T) {
	r := metrics.NewRegistry()
	for i := range 5000 {
		r.HTTPRequest(fmt.Sprintf("X%dQ", i), "unmatched", 400+i%3, time.Millisecond)
		r.HTTPRequest("GET", "GET /v1/jobs/{id}", i, time.Millisecond)
	}
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]bool{}
	series := 0
	for _, mf := range mfs {
		if mf.GetName() != "http_requests_total" && mf.GetName() != "mmq_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			series++
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" {
					methods[l.GetValue()] = true
				}
			}
		}
	}
	if series == 0 {
		t.Fatal("no http_requests_total series")
	}
	// 3 statuses × "other" + 500 real statuses (100..599) of GET + "other".
	if series > 3+500+1 {
		t.Errorf("%d series after 10,000 requests, want at most 504", series)
	}
	if len(methods) != 2 || !methods["other"] || !methods["GET"] {
		t.Errorf("method labels %v, want only GET and other", methods)
	}
}

// The tenant label takes the configured tenants, "" and "other" only,
// however many tenants' jobs a worker runs.
func TestTenantLabelsBounded(t *testing.T) {
	r := metrics.NewRegistry()
	r.LimitTenants([]string{"acme"})
	for i := range 1000 {
		j := &tasks.Job{ID: "j", Kind: tasks.KindDocument, Status: tasks.StatusSucceeded, Tenant: fmt.Sprintf("t%d", i)}
		if i%3 == 0 {
			j.Tenant = "acme"
		}
		r.JobEnded(j, time.Second)
		r.PageDone(j, tasks.PageResult{Status: tasks.PageDone, Metrics: &tasks.Metrics{CostUSD: 0.01}})
	}
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "tenant" {
					if got[mf.GetName()] == nil {
						got[mf.GetName()] = map[string]float64{}
					}
					got[mf.GetName()][l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	want := map[string]float64{"acme": 334, "other": 666}
	for _, name := range []string{"mmq_jobs_total", "mmq_pages_total"} {
		if fmt.Sprint(got[name]) != fmt.Sprint(want) {
			t.Errorf("%s by tenant: %v, want %v", name, got[name], want)
		}
	}
	if c := got["mmq_tenant_cost_usd_total"]; len(c) != 2 || c["acme"] < 3.33 || c["acme"] > 3.35 {
		t.Errorf("mmq_tenant_cost_usd_total by tenant: %v", c)
	}
}
