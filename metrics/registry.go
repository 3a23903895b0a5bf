package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mmq/mmq/tasks"
)

const namespace = "mmq"

// Histogram buckets, in seconds.
var (
	// jobBuckets spans a one-page job on an idle system to a long video.
	jobBuckets = []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}
	// pageBuckets spans the local analyzer (milliseconds) to a slow model
	// call with its retries.
	pageBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120}
	// httpBuckets: most requests are small; uploads and event streams are
	// the long tail.
	httpBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120}
)

// Label values of mmq_page_stage_duration_seconds.
const (
	StagePreprocess  = "preprocess"
	StageInference   = "inference"
	StageTTFB        = "ttfb"
	StagePostprocess = "postprocess"
)

// Registry holds mmq's metrics. Its methods are safe for concurrent use
// and cheap: they only update in-memory counters.
type Registry struct {
	reg *prometheus.Registry

	jobs         *prometheus.CounterVec
	jobDuration  *prometheus.HistogramVec
	pages        *prometheus.CounterVec
	pageDuration *prometheus.HistogramVec
	stages       *prometheus.HistogramVec
	tokens       *prometheus.CounterVec
	cost         *prometheus.CounterVec
	pageRetries  *prometheus.CounterVec
	taskRetries  *prometheus.CounterVec
	cache        *prometheus.CounterVec
	rateWaits    *prometheus.HistogramVec
	guardrail    *prometheus.CounterVec
	webhooks     *prometheus.CounterVec
	webhookTime  prometheus.Histogram
	requests     *prometheus.CounterVec
	requestTime  *prometheus.HistogramVec
	tenantCost   *prometheus.CounterVec

	// tenants are the tenant label values allowed; others are "other".
	tenants map[string]bool
}

// OtherTenant is the tenant label of a tenant the Registry was not told
// of (LimitTenants): the label's values stay a fixed set.
const OtherTenant = "other"

// LimitTenants sets the tenants that get a label value of their own (those
// of the configured keys and quotas); jobs of no tenant are "". Call it
// before the Registry is used.
func (r *Registry) LimitTenants(names []string) {
	r.tenants = make(map[string]bool, len(names))
	for _, n := range names {
		r.tenants[n] = true
	}
}

// tenantLabel returns the tenant label value of t.
func (r *Registry) tenantLabel(t string) string {
	if t == "" || r.tenants[t] {
		return t
	}
	return OtherTenant
}

// NewRegistry returns a Registry with the pipeline metrics and the Go
// runtime and process collectors.
func NewRegistry() *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
		r.reg.MustRegister(c)
		return c
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels)
		r.reg.MustRegister(h)
		return h
	}
	r.jobs = counter("jobs_total", "Jobs ended by this process's workers, by kind, final status and tenant.", "kind", "status", "tenant")
	r.jobDuration = histogram("job_duration_seconds", "Time from a job's submission to its end.", jobBuckets, "kind", "status")
	r.pages = counter("pages_total", "Page (frame) results stored, by kind, outcome and tenant.", "kind", "status", "tenant")
	r.tenantCost = counter("tenant_cost_usd_total", "Cost of model calls in USD at the configured prices, by tenant.", "tenant")
	r.pageDuration = histogram("page_duration_seconds", "Analysis time of one page (frame), its retries included.", pageBuckets, "kind", "status")
	r.stages = histogram("page_stage_duration_seconds", "Where a page's analysis time went: preprocess, inference, ttfb (time to the first streamed byte), postprocess.", pageBuckets, "stage", "provider")
	r.tokens = counter("tokens_total", "Model tokens, by direction (input, output).", "provider", "model", "direction")
	r.cost = counter("cost_usd_total", "Cost of model calls in USD at the configured prices.", "provider", "model")
	r.pageRetries = counter("page_retries_total", "Calls tried again for a page: provider HTTP retries plus the page's own attempts after the first.", "provider")
	r.taskRetries = counter("task_retries_total", "Job task runs that failed and will be retried by asynq, by error code.", "kind", "error_code")
	r.cache = counter("cache_lookups_total", "Result cache lookups, by result (hit, miss).", "result")
	r.rateWaits = histogram("rate_limit_wait_seconds", "Waits for the shared provider rate limiter; the count is the number of pages that waited.", pageBuckets, "provider")
	r.guardrail = counter("guardrail_triggers_total", "Model answers in which the guardrail found personal data.", "provider")
	r.webhooks = counter("webhook_deliveries_total", "Webhook delivery attempts, by outcome (delivered, retrying, failed, disabled).", "outcome")
	r.webhookTime = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "webhook_delivery_duration_seconds",
		Help: "Duration of one webhook delivery attempt.", Buckets: httpBuckets})
	r.reg.MustRegister(r.webhookTime)
	r.requests = counter("http_requests_total", "API requests, by method, route pattern and status.", "method", "route", "status")
	r.requestTime = histogram("http_request_duration_seconds", "API request duration, by method and route pattern.", httpBuckets, "method", "route")
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Register adds a collector, such as a QueueCollector.
func (r *Registry) Register(c prometheus.Collector) error { return r.reg.Register(c) }

// Gatherer returns the underlying registry, for tests and custom handlers.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Handler serves the metrics in the Prometheus text (or OpenMetrics)
// format. A collector that fails is reported in the response and logged by
// its owner; the others are still served.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// WatchPages exports the process-wide page semaphore of a worker:
// inFlight is read at each scrape, slots is its capacity.
func (r *Registry) WatchPages(inFlight func() int64, slots int) error {
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "worker_pages_in_flight",
		Help: "Pages (frames) being analyzed by this process: the page semaphore in use."},
		func() float64 { return float64(inFlight()) })
	if err := r.reg.Register(g); err != nil {
		return err
	}
	c := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "worker_page_slots",
		Help: "Capacity of this process's page semaphore (worker.process_page_concurrency)."})
	c.Set(float64(slots))
	return r.reg.Register(c)
}

// JobEnded counts a job a worker ended; run is the duration of the task
// run that ended it. The job's duration is measured from its submission, as
// its client sees it.
func (r *Registry) JobEnded(j *tasks.Job, run time.Duration) {
	kind, status := string(kindOf(j)), string(j.Status)
	r.jobs.WithLabelValues(kind, status, r.tenantLabel(j.Tenant)).Inc()
	d := run
	if j.FinishedAt != nil && !j.CreatedAt.IsZero() {
		d = j.FinishedAt.Sub(j.CreatedAt)
	}
	r.jobDuration.WithLabelValues(kind, status).Observe(d.Seconds())
}

// PageDone counts a stored page (frame) result with its metrics.
func (r *Registry) PageDone(j *tasks.Job, p tasks.PageResult) {
	kind, status := string(kindOf(j)), string(p.Status)
	r.pages.WithLabelValues(kind, status, r.tenantLabel(j.Tenant)).Inc()
	r.pageDuration.WithLabelValues(kind, status).Observe(ms(p.DurationMS))
	m := p.Metrics
	if m == nil {
		return
	}
	if m.CostUSD > 0 {
		r.tenantCost.WithLabelValues(r.tenantLabel(j.Tenant)).Add(m.CostUSD)
	}
	prov := m.Provider
	if m.PreprocessMS > 0 || m.InferenceMS > 0 || m.PostprocessMS > 0 || m.TTFBMS > 0 {
		// Measured: the local analyzer measures none of these.
		r.stages.WithLabelValues(StagePreprocess, prov).Observe(ms(m.PreprocessMS))
		r.stages.WithLabelValues(StagePostprocess, prov).Observe(ms(m.PostprocessMS))
		// A cache hit calls no model: no inference, no first byte.
		if m.Cache != tasks.CacheHit {
			r.stages.WithLabelValues(StageInference, prov).Observe(ms(m.InferenceMS))
		}
		if m.TTFBMS > 0 {
			r.stages.WithLabelValues(StageTTFB, prov).Observe(ms(m.TTFBMS))
		}
	}
	if m.InputTokens > 0 {
		r.tokens.WithLabelValues(prov, m.Model, "input").Add(float64(m.InputTokens))
	}
	if m.OutputTokens > 0 {
		r.tokens.WithLabelValues(prov, m.Model, "output").Add(float64(m.OutputTokens))
	}
	if m.CostUSD > 0 {
		r.cost.WithLabelValues(prov, m.Model).Add(m.CostUSD)
	}
	if m.Retries > 0 {
		r.pageRetries.WithLabelValues(prov).Add(float64(m.Retries))
	}
	if m.Cache != "" {
		r.cache.WithLabelValues(m.Cache).Inc()
	}
	if m.ThrottledMS > 0 {
		r.rateWaits.WithLabelValues(prov).Observe(ms(m.ThrottledMS))
	}
	if m.GuardrailFlags > 0 {
		r.guardrail.WithLabelValues(prov).Inc()
	}
}

// TaskRetry counts a job's task run that failed with code and will be
// retried.
func (r *Registry) TaskRetry(j *tasks.Job, code tasks.Code) {
	r.taskRetries.WithLabelValues(string(kindOf(j)), string(code)).Inc()
}

// WebhookAttempt counts one webhook delivery attempt by its outcome.
func (r *Registry) WebhookAttempt(a tasks.DeliveryAttempt) {
	r.webhooks.WithLabelValues(string(a.Outcome)).Inc()
	r.webhookTime.Observe(ms(a.LatencyMS))
}

// HTTPRequest counts one API request. route is the pattern that matched
// ("GET /v1/jobs/{id}"), never the raw path, so that the series stay few.
// The method and status labels come from fixed sets too, whatever a client
// sends: a method outside the standard ones is "other", a status outside
// 100..599 is "other".
func (r *Registry) HTTPRequest(method, route string, status int, d time.Duration) {
	m := methodLabel(method)
	r.requests.WithLabelValues(m, route, statusLabel(status)).Inc()
	r.requestTime.WithLabelValues(m, route).Observe(d.Seconds())
}

// methodLabel returns method when it is one of RFC 9110's methods or
// PATCH, else "other".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}

func statusLabel(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status)
}

// kindOf returns a job's kind; records from before kinds existed are
// documents.
func kindOf(j *tasks.Job) tasks.Kind {
	if j.Kind == "" {
		return tasks.KindDocument
	}
	return j.Kind
}

func ms(v int64) float64 { return float64(v) / 1000 }
