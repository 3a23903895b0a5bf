package tasks

import "time"

// Stats sums up the jobs submitted in a recent window and holds them to
// the service's targets: the body of GET /v1/stats.
type Stats struct {
	// Since is the window's length, a Go duration; jobs created in
	// [From, To] count.
	Since string    `json:"since"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	// Jobs counts the window's jobs by state; Finished those in a final
	// state.
	Jobs     map[Status]int `json:"jobs"`
	Finished int            `json:"finished"`
	// SuccessRate is the share of finished jobs that succeeded, canceled
	// ones left out (a client's choice, not a failure); partially
	// succeeded jobs count as not succeeded. 0 with no finished job.
	SuccessRate float64 `json:"success_rate"`
	// JobLatency is a finished job's time from submission to its end, as
	// its client sees it, queueing included.
	JobLatency Latency `json:"job_latency"`
	// PageLatency is one page's (frame's) analysis time, its retries
	// included, over the pages read (see PagesRead). Latencies come from
	// histograms with buckets 2^(1/8) wide: within 4.5 % of the exact
	// percentile.
	PageLatency Latency `json:"page_latency"`
	// CostUSD sums the finished jobs' model costs; CostPerJobUSD is its
	// mean per finished job, CostPerPageUSD per page analyzed.
	CostUSD        float64 `json:"cost_usd"`
	CostPerJobUSD  float64 `json:"cost_per_job_usd"`
	CostPerPageUSD float64 `json:"cost_per_page_usd"`
	// GuardrailRate is the share of the pages read whose answer the
	// guardrail flagged for personal data; GuardrailPages counts them.
	GuardrailPages int     `json:"guardrail_pages"`
	GuardrailRate  float64 `json:"guardrail_rate"`
	// PagesRead counts the page outcomes behind the page figures: each
	// time a page of the window's jobs was stored done or failed.
	PagesRead int `json:"pages_read"`
	// Checks holds each figure against its target, in a fixed order.
	Checks []Check `json:"checks"`
}

// Latency holds percentiles of durations, in milliseconds, over N samples.
type Latency struct {
	N     int   `json:"n"`
	P50MS int64 `json:"p50_ms"`
	P99MS int64 `json:"p99_ms"`
}

// Check is one figure held to its target.
type Check struct {
	// Name is success_rate, page_latency_p50, page_latency_p99 or
	// guardrail_rate.
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	// Target is the bound: Value must be above it when Above, else below.
	Target float64 `json:"target"`
	Above  bool    `json:"above"`
	// Unit is "ratio" or "ms".
	Unit string `json:"unit"`
	// OK says the target is met; NoData that there was nothing to measure
	// (then OK is false, and the check is neither red nor green).
	OK     bool `json:"ok"`
	NoData bool `json:"no_data,omitempty"`
}

// Targets are the service levels Stats holds a window to. Latency targets
// apply to pages: a job's time grows with its page count.
type Targets struct {
	SuccessRate   float64
	PageP50       time.Duration
	PageP99       time.Duration
	GuardrailRate float64
}

// DefaultTargets are the dashboard's: success above 99.5 %, page latency
// P50 under 2 s and P99 under 10 s, guardrail triggers under 1 %.
var DefaultTargets = Targets{SuccessRate: 0.995, PageP50: 2 * time.Second, PageP99: 10 * time.Second, GuardrailRate: 0.01}
