package api

import (
	"context"
	"net/http"
	"time"

	"github.com/mmq/mmq/tasks"
)

// Bounds of GET /v1/stats. Every figure comes from counters (the status
// indexes and the store's Tally), whatever the number of jobs.
const (
	defaultStatsWindow = time.Hour
	// maxStatsWindow is beyond any sensible store.retention.
	maxStatsWindow = 31 * 24 * time.Hour
)

// handleStats sums up recent jobs against the targets:
// GET /v1/stats?since=1h.
func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	window := defaultStatsWindow
	if v := r.URL.Query().Get("since"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > maxStatsWindow {
			writeError(w, tasks.Errorf(tasks.CodeInvalidRequest, "since %q: want a duration such as 15m, 1h or 24h, at most %s", v, maxStatsWindow))
			return
		}
		window = d
	}
	tenant, err := viewTenant(r)
	if err != nil {
		writeError(w, err)
		return
	}
	st, err := s.stats(r.Context(), tenant, window, time.Now())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// stats counts the jobs of tenant ("" for all) created in the window before
// now by state, and
// adds the figures of the store's counters for them.
func (s *Server) stats(ctx context.Context, tenant string, window time.Duration, now time.Time) (*tasks.Stats, error) {
	from := now.Add(-window)
	st := &tasks.Stats{Since: window.String(), From: from.UTC(), To: now.UTC()}
	counts, err := s.deps.Store.CountJobs(ctx, tenant, from, now)
	if err != nil {
		return nil, err
	}
	st.Jobs = counts
	for status, n := range counts {
		if status.Final() {
			st.Finished += n
		}
	}
	t, err := s.deps.Store.Tally(ctx, tenant, from, now)
	if err != nil {
		return nil, err
	}
	st.CostUSD = t.CostUSD
	st.JobLatency = latency(t.JobLatency)
	st.PageLatency = latency(t.PageLatency)
	st.PagesRead, st.GuardrailPages = int(t.PagesRead), int(t.GuardrailPages)
	if n := st.Finished - st.Jobs[tasks.StatusCanceled]; n > 0 {
		st.SuccessRate = float64(st.Jobs[tasks.StatusSucceeded]) / float64(n)
	}
	if t.Jobs > 0 {
		st.CostPerJobUSD = st.CostUSD / float64(t.Jobs)
	}
	if t.Pages > 0 {
		st.CostPerPageUSD = st.CostUSD / float64(t.Pages)
	}
	if st.PagesRead > 0 {
		st.GuardrailRate = float64(st.GuardrailPages) / float64(st.PagesRead)
	}
	st.Checks = checks(st, tasks.DefaultTargets)
	return st, nil
}

// latency returns the P50 and P99 of h.
func latency(h tasks.Histogram) tasks.Latency {
	return tasks.Latency{N: int(h.N()), P50MS: h.Quantile(0.50), P99MS: h.Quantile(0.99)}
}

// checks holds st's figures to t.
func checks(st *tasks.Stats, t tasks.Targets) []tasks.Check {
	cs := []tasks.Check{
		{Name: "success_rate", Value: st.SuccessRate, Target: t.SuccessRate, Above: true, Unit: "ratio",
			NoData: st.Finished-st.Jobs[tasks.StatusCanceled] == 0},
		{Name: "page_latency_p50", Value: float64(st.PageLatency.P50MS), Target: float64(t.PageP50.Milliseconds()), Unit: "ms",
			NoData: st.PageLatency.N == 0},
		{Name: "page_latency_p99", Value: float64(st.PageLatency.P99MS), Target: float64(t.PageP99.Milliseconds()), Unit: "ms",
			NoData: st.PageLatency.N == 0},
		{Name: "guardrail_rate", Value: st.GuardrailRate, Target: t.GuardrailRate, Unit: "ratio",
			NoData: st.PagesRead == 0},
	}
	for i := range cs {
		c := &cs[i]
		c.OK = !c.NoData && ((c.Above && c.Value > c.Target) || (!c.Above && c.Value < c.Target))
	}
	return cs
}
