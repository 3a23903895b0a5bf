package tasks

import "time"

// UsageReport is what a tenant (or, for an admin, every tenant) used, day
// by day (UTC), over the jobs created on those days.
type UsageReport struct {
	// Tenant is the tenant reported on; empty for every tenant's.
	Tenant string     `json:"tenant,omitempty"`
	From   time.Time  `json:"from"`
	To     time.Time  `json:"to"`
	Days   []UsageDay `json:"days"`
	Total  UsageDay   `json:"total"`
}

// UsageDay is one day's usage; Date is empty in a total.
type UsageDay struct {
	Date string `json:"date,omitempty"`
	// Jobs counts the jobs created that day and still kept
	// (store.retention).
	Jobs         int     `json:"jobs"`
	Pages        int64   `json:"pages"`
	Frames       int64   `json:"frames"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
	CacheHits    int64   `json:"cache_hits"`
	CacheMisses  int64   `json:"cache_misses"`
}

// Add adds d's figures to u's.
func (u *UsageDay) Add(d UsageDay) {
	u.Jobs += d.Jobs
	u.Pages += d.Pages
	u.Frames += d.Frames
	u.InputTokens += d.InputTokens
	u.OutputTokens += d.OutputTokens
	u.CostUSD += d.CostUSD
	u.CacheHits += d.CacheHits
	u.CacheMisses += d.CacheMisses
}
