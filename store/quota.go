package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mmq/mmq/tasks"
)

// quotaLua defines quota_take(prefix, q, jobs), which takes jobs new jobs
// and q.n pages from tenant q.t's budgets, or refuses: it returns false
// when it took them, else the error to reply, "MMQQUOTA <which>". q holds
// the tenant's bounds (a: concurrent jobs, p: pages a day, u: USD a month;
// 0 for none), the pages to take (n), and the current day (d, 2006-01-02)
// and month (m, 2006-01), which the caller computes so that every process
// agrees on them. The counters, under prefix:tenant:<t>, are kept for
// every tenant, bounded or not, so that a quota added later starts from
// the truth: active (queued or processing jobs; end_job takes one off,
// reopening a job adds one), pages:<day> (expires after two days) and the
// spent hash (USD by month, added to as pages are saved).
var quotaLua = `
local function quota_take(prefix, q, jobs)
  local base = prefix .. ':tenant:' .. q.t
  if q.a > 0 and tonumber(redis.call('GET', base .. ':active') or 0) + jobs > q.a then
    return 'MMQQUOTA concurrent_jobs'
  end
  local pk = base .. ':pages:' .. q.d
  local used = tonumber(redis.call('GET', pk) or 0)
  if q.p > 0 and (used >= q.p or used + q.n > q.p) then return 'MMQQUOTA pages_per_day' end
  if q.u > 0 and tonumber(redis.call('HGET', base .. ':spent', q.m) or 0) >= q.u then
    return 'MMQQUOTA usd_per_month'
  end
  if jobs > 0 then redis.call('INCRBY', base .. ':active', jobs) end
  if q.n > 0 then
    redis.call('INCRBY', pk, q.n)
    redis.call('PEXPIRE', pk, 172800000)
  end
  return false
end
local function quota_release(prefix, tenant)
  if not tenant then return end
  local k = prefix .. ':tenant:' .. tenant .. ':active'
  if redis.call('DECR', k) < 0 then redis.call('SET', k, 0) end
end
`

// quotaSpec is the q of quota_take.
type quotaSpec struct {
	Tenant      string  `json:"t"`
	Active      int64   `json:"a"`
	PagesPerDay int64   `json:"p"`
	Pages       int64   `json:"n"`
	USDPerMonth float64 `json:"u"`
	Day         string  `json:"d"`
	Month       string  `json:"m"`
}

// quotaFor returns the quota of tenant: its own, else the default one
// (tasks.DefaultQuotaTenant), else none.
func (s *Redis) quotaFor(tenant string) tasks.Quota {
	if q, ok := s.cfg.Quotas[tenant]; ok {
		return q
	}
	return s.cfg.Quotas[tasks.DefaultQuotaTenant]
}

// quotaArg returns the quota_take argument for pages new pages of tenant,
// or "" for a job of no tenant.
func (s *Redis) quotaArg(tenant string, pages int64, now time.Time) string {
	if tenant == "" {
		return ""
	}
	q := s.quotaFor(tenant)
	now = now.UTC()
	b, _ := json.Marshal(quotaSpec{Tenant: tenant, Active: q.ConcurrentJobs, PagesPerDay: q.PagesPerDay, Pages: pages,
		USDPerMonth: q.USDPerMonth, Day: now.Format(time.DateOnly), Month: now.Format(monthLayout)})
	return string(b)
}

// quotaErr turns a script's MMQQUOTA reply into the error a client sees,
// saying which quota and when it frees; other errors pass unchanged.
func (s *Redis) quotaErr(err error, tenant string, now time.Time) error {
	if err == nil {
		return nil
	}
	_, which, ok := strings.Cut(err.Error(), "MMQQUOTA ")
	if !ok {
		return err
	}
	q, now := s.quotaFor(tenant), now.UTC()
	day := now.Truncate(24*time.Hour).AddDate(0, 0, 1)
	month := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	switch strings.TrimSpace(which) {
	case "concurrent_jobs":
		return tasks.Errorf(tasks.CodeQuotaExceeded, "tenant %s has %d jobs queued or processing, its quota concurrent_jobs; submit more as they end", tenant, q.ConcurrentJobs)
	case "pages_per_day":
		return tasks.Errorf(tasks.CodeQuotaExceeded, "tenant %s would pass its quota pages_per_day (%d pages); it resets at %s", tenant, q.PagesPerDay, day.Format(time.RFC3339))
	case "usd_per_month":
		return tasks.Errorf(tasks.CodeQuotaExceeded, "tenant %s has spent its quota usd_per_month ($%.2f); it resets at %s", tenant, q.USDPerMonth, month.Format(time.RFC3339))
	}
	return fmt.Errorf("store: unknown quota reply %q", which)
}
