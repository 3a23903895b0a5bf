package api

import (
	"context"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/mmq/mmq/tasks"
)

// Bounds of GET /v1/stats. The counts by state come from the store's
// status indexes whatever the number of jobs; the figures that need records
// (latencies, cost, guardrail rate) read at most this much, newest first,
// and say when they stopped short.
const (
	defaultStatsWindow = time.Hour
	// maxStatsWindow is beyond any sensible store.retention.
	maxStatsWindow = 31 * 24 * time.Hour
	// maxStatsJobs bounds the finished job records read (about 1 KiB
	// each).
	maxStatsJobs = 1000
	// maxStatsPages bounds the page results read for the page figures;
	// a result carries its output, so these are the expensive reads.
	maxStatsPages = 2000
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
	st, err := s.stats(r.Context(), window, time.Now())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// stats counts the jobs created in the window before now by state, and
// reads the records and page results of the most recent finished ones.
func (s *Server) stats(ctx context.Context, window time.Duration, now time.Time) (*tasks.Stats, error) {
	from := now.Add(-window)
	st := &tasks.Stats{Since: window.String(), From: from.UTC(), To: now.UTC()}
	counts, err := s.deps.Store.CountJobs(ctx, from, now)
	if err != nil {
		return nil, err
	}
	st.Jobs = counts
	for status, n := range counts {
		if status.Final() {
			st.Finished += n
		}
	}
	finished := []tasks.Status{tasks.StatusSucceeded, tasks.StatusPartiallySucceeded, tasks.StatusFailed, tasks.StatusCanceled}
	recent, err := s.deps.Store.RecentJobs(ctx, finished, from, maxStatsJobs)
	if err != nil {
		return nil, err
	}
	st.JobsTruncated = len(recent) < st.Finished
	var ended []*tasks.Job // finished, not canceled
	for _, j := range recent {
		if j.Usage != nil {
			st.CostUSD += j.Usage.CostUSD
		}
		if j.Status != tasks.StatusCanceled {
			ended = append(ended, j)
		}
	}

	var jobMS []int64
	pages := 0
	for _, j := range ended {
		if j.FinishedAt != nil {
			jobMS = append(jobMS, j.FinishedAt.Sub(j.CreatedAt).Milliseconds())
		}
		pages += j.PagesDone + j.PagesFailed
	}
	st.JobLatency = latency(jobMS)
	if n := st.Finished - st.Jobs[tasks.StatusCanceled]; n > 0 {
		st.SuccessRate = float64(st.Jobs[tasks.StatusSucceeded]) / float64(n)
	}
	if len(recent) > 0 {
		st.CostPerJobUSD = st.CostUSD / float64(len(recent))
	}
	if pages > 0 {
		st.CostPerPageUSD = st.CostUSD / float64(pages)
	}

	pageMS, err := s.readPages(ctx, ended, st)
	if err != nil {
		return nil, err
	}
	st.PageLatency = latency(pageMS)
	if st.PagesRead > 0 {
		st.GuardrailRate = float64(st.GuardrailPages) / float64(st.PagesRead)
	}
	st.Checks = checks(st, tasks.DefaultTargets)
	return st, nil
}

// readPages reads the page results of jobs, newest first, up to
// maxStatsPages, counting guardrail triggers into st; it returns the
// pages' durations.
func (s *Server) readPages(ctx context.Context, jobs []*tasks.Job, st *tasks.Stats) ([]int64, error) {
	var ms []int64
	for _, j := range jobs {
		for after := -1; ; {
			if st.PagesRead >= maxStatsPages {
				st.PagesTruncated = true
				return ms, nil
			}
			rs, more, err := s.deps.Store.Results(ctx, j.ID, after, min(maxResultsLimit, maxStatsPages-st.PagesRead))
			if tasks.ErrorCode(err) == tasks.CodeNotFound {
				// Expired since it was listed.
				break
			}
			if err != nil {
				return nil, err
			}
			for _, r := range rs {
				st.PagesRead++
				ms = append(ms, r.DurationMS)
				if r.Metrics != nil && r.Metrics.GuardrailFlags > 0 {
					st.GuardrailPages++
				}
				after = r.Index
			}
			if !more || len(rs) == 0 {
				break
			}
		}
	}
	return ms, nil
}

// latency returns the nearest-rank P50 and P99 of ms.
func latency(ms []int64) tasks.Latency {
	if len(ms) == 0 {
		return tasks.Latency{}
	}
	slices.Sort(ms)
	rank := func(p float64) int64 {
		i := int(math.Ceil(p*float64(len(ms)))) - 1
		return ms[max(i, 0)]
	}
	return tasks.Latency{N: len(ms), P50MS: rank(0.50), P99MS: rank(0.99)}
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
