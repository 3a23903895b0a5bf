package tasks

// Cache outcomes of Metrics.Cache.
const (
	CacheHit  = "hit"
	CacheMiss = "miss"
)

// Metrics is how the analysis of one page (or frame) went, stored with the
// page: where the time went, what it cost, and what the controls around the
// model did. Durations are in milliseconds; the zero value means "not
// measured" (the local analyzer measures none).
type Metrics struct {
	// Provider and Model name what produced the result.
	Provider string `json:"provider,omitempty"`
	Model    string `json:"model,omitempty"`
	// PreprocessMS covers routing, prompt rendering, rasterizing and
	// downscaling; InferenceMS the model calls, retries and their waits
	// included; TTFBMS the time to the first streamed byte of the call that
	// answered; PostprocessMS parsing and the guardrail.
	PreprocessMS  int64 `json:"preprocess_ms"`
	InferenceMS   int64 `json:"inference_ms"`
	TTFBMS        int64 `json:"ttfb_ms"`
	PostprocessMS int64 `json:"postprocess_ms"`
	// ThrottledMS is the time spent waiting for the shared rate limiter.
	ThrottledMS int64 `json:"throttled_ms,omitempty"`
	// Resolution is the long side, in pixels, images were downscaled to; 0
	// when the page went as a PDF.
	Resolution int `json:"resolution,omitempty"`
	ImageCount int `json:"image_count"`
	// InputTokens, OutputTokens and CostUSD are what the provider reported
	// and what that costs at the configured prices; 0 on a cache hit.
	InputTokens  int     `json:"input_tokens"`
	OutputTokens int     `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
	// Retries counts the calls that were tried again: the provider's HTTP
	// retries plus the page's own attempts after the first.
	Retries int `json:"retries"`
	// SchemaRetries counts the calls made again because the answer did not
	// validate against the job's schema.
	SchemaRetries int `json:"schema_retries,omitempty"`
	// Cache is CacheHit, CacheMiss, or empty when no cache was consulted.
	Cache string `json:"cache,omitempty"`
	// FallbackFrom lists the providers that failed before Provider answered.
	FallbackFrom []string `json:"fallback_from,omitempty"`
	// GuardrailFlags counts the kinds of personal data the guardrail found
	// in the answer; 0 when it found none or did not run.
	GuardrailFlags int `json:"guardrail_flags,omitempty"`
	// Error is the code of the page's failure, or of the last error that a
	// retry or a fallback got past.
	Error Code `json:"error,omitempty"`
}

// PageMetrics returns a's metrics with the provider, model, tokens and cost
// taken from a's own fields, which are the authoritative ones.
func (a Analysis) PageMetrics() Metrics {
	m := a.Metrics
	if a.Analyzer != "" {
		m.Provider = a.Analyzer
	}
	if a.Model != "" {
		m.Model = a.Model
	}
	m.InputTokens, m.OutputTokens, m.CostUSD = a.InputTokens, a.OutputTokens, a.CostUSD
	return m
}

// Usage is what a job's analysis has consumed so far, summed over its page
// results: every attempt that produced a stored result counts, also a
// failed one.
type Usage struct {
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
	// CacheHits and CacheMisses count pages answered from, or stored into,
	// the result cache.
	CacheHits   int64 `json:"cache_hits"`
	CacheMisses int64 `json:"cache_misses"`
	// PagesThrottled counts the times a page had to wait for the shared
	// rate limiter before its model call.
	PagesThrottled int64 `json:"pages_throttled"`
}

// Zero reports whether u records nothing.
func (u Usage) Zero() bool { return u == Usage{} }

// Estimate is what analyzing a document is expected to cost, before it is
// submitted.
type Estimate struct {
	Provider string `json:"provider"`
	// Models lists the models the routing table picks for its pages.
	Models []string `json:"models"`
	Task   string   `json:"task"`
	Pages  int      `json:"pages"`
	// InputTokens includes ImageTokens: prompt, page text and images.
	InputTokens  int64   `json:"input_tokens"`
	ImageTokens  int64   `json:"image_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
	// EconomyCostUSD is what the pages cost in economy mode (ModeEconomy:
	// the same tokens at the provider's batch price), when the job's
	// provider chain has a batch API; nil when it has none. Combining
	// calls (scope document) always run in realtime and are added at
	// their realtime price.
	EconomyCostUSD *float64 `json:"economy_cost_usd,omitempty"`
	// PerPage is each page's share, in page order.
	PerPage []PageEstimate `json:"per_page,omitempty"`
	// Combine lists the calls that combine the page answers into one
	// (scope document), in rounds; their cost is in the totals.
	Combine []PageEstimate `json:"combine,omitempty"`
}

// AddCombine adds one combining call to e's totals and list.
func (e *Estimate) AddCombine(p PageEstimate) {
	e.InputTokens += p.InputTokens
	e.OutputTokens += p.OutputTokens
	e.CostUSD += p.CostUSD
	e.Combine = append(e.Combine, p)
}

// PageEstimate is one page's part of an Estimate.
type PageEstimate struct {
	Index        int     `json:"index"`
	Model        string  `json:"model"`
	InputTokens  int64   `json:"input_tokens"`
	ImageTokens  int64   `json:"image_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
}

// Add adds p to e's totals and list.
func (e *Estimate) Add(p PageEstimate) {
	e.Pages++
	e.InputTokens += p.InputTokens
	e.ImageTokens += p.ImageTokens
	e.OutputTokens += p.OutputTokens
	e.CostUSD += p.CostUSD
	e.PerPage = append(e.PerPage, p)
	if p.Model == "" {
		return
	}
	for _, m := range e.Models {
		if m == p.Model {
			return
		}
	}
	e.Models = append(e.Models, p.Model)
}
