package api

import (
	"net/http"
	"time"

	"github.com/mmq/mmq/tasks"
)

// Bounds of GET /v1/usage: the counters behind it live 32 days.
const (
	defaultUsageDays = 7
	maxUsageDays     = 31
)

// handleUsage reports what the caller's tenant used, by day:
// GET /v1/usage?since=2026-12-01 (or a duration such as 72h; the default
// is the last 7 days, today included). Admins get every tenant's, or one
// with ?tenant=.
func (s *Server) handleUsage(w http.ResponseWriter, r *http.Request) {
	tenant, err := viewTenant(r)
	if err != nil {
		writeError(w, err)
		return
	}
	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -(defaultUsageDays - 1))
	if v := r.URL.Query().Get("since"); v != "" {
		if first, err = usageSince(v, now); err != nil {
			writeError(w, err)
			return
		}
	}
	if first.Before(today.AddDate(0, 0, -(maxUsageDays-1))) || first.After(today) {
		writeError(w, tasks.Errorf(tasks.CodeInvalidRequest, "since: usage is kept for the last %d days", maxUsageDays))
		return
	}
	days, err := s.deps.Store.DailyUsage(r.Context(), tenant, first, int(today.Sub(first)/(24*time.Hour))+1)
	if err != nil {
		writeError(w, err)
		return
	}
	rep := &tasks.UsageReport{Tenant: tenant, From: first, To: now, Days: days}
	for _, d := range days {
		rep.Total.Add(d)
	}
	writeJSON(w, http.StatusOK, rep)
}

// usageSince reads ?since=: a date (the report starts that day) or a
// duration back from now (it starts on the day that falls in).
func usageSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return time.Time{}, tasks.Errorf(tasks.CodeInvalidRequest, "since %q: want a date such as 2026-12-01 or a duration such as 72h", v)
	}
	return now.Add(-d).Truncate(24 * time.Hour), nil
}
