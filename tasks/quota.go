package tasks

// Quota bounds what one tenant may use; a zero field is no bound.
type Quota struct {
	// PagesPerDay bounds the document pages and video frames of the jobs
	// a tenant submits in a UTC day.
	PagesPerDay int64 `json:"pages_per_day,omitempty" mapstructure:"pages_per_day"`
	// USDPerMonth bounds a tenant's model spending in a UTC calendar month:
	// at or over it, new jobs are refused (those accepted run to their end).
	USDPerMonth float64 `json:"usd_per_month,omitempty" mapstructure:"usd_per_month"`
	// ConcurrentJobs bounds a tenant's jobs queued or processing at once.
	ConcurrentJobs int64 `json:"concurrent_jobs,omitempty" mapstructure:"concurrent_jobs"`
}

// DefaultQuotaTenant names the quota of every tenant without one of its
// own.
const DefaultQuotaTenant = "*"
