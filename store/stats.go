package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mmq/mmq/tasks"
	"github.com/redis/go-redis/v9"
)

// statsTTL is how long a stats bucket lives: the longest window the API
// answers for (31 days), and a day more.
const statsTTL = 32 * 24 * time.Hour

// statsLua defines the counters behind Tally. stats_add(prefix, tenant,
// created, ttl, incr, incrf) adds the pairs {field, n} of incr (integers)
// and incrf (floats) to the buckets of the minute and of the hour of created
// (a job's creation, unix ms): hashes prefix:stats:m:<minute> and
// prefix:stats:h:<hour>, and the same under prefix:tenant:<tenant> unless
// tenant is false; they expire ttl ms after their last change.
// latency_bucket(ms) is tasks.LatencyBucket. A window's Tally then reads at
// most two hours of minute buckets and the whole hours between, however
// many jobs it holds.
//
// Fields: jobs (finished jobs), cost (their USD), pages (pages of the
// finished jobs not canceled), jl:<bucket> (those jobs' latencies), pr
// (page outcomes), pl:<bucket> (their analysis times), g (those the
// guardrail flagged), pg and fr (outcomes of document pages and of video
// frames); and as each page is saved: in, out (tokens), spent (USD), hits
// and misses (answer cache).
var statsLua = `
local function stats_add(prefix, tenant, created, ttl, incr, incrf)
  local m = math.floor(tonumber(created) / 60000)
  local keys = {prefix .. ':stats:m:' .. m, prefix .. ':stats:h:' .. math.floor(m / 60)}
  if tenant then
    local t = prefix .. ':tenant:' .. tenant
    table.insert(keys, t .. ':stats:m:' .. m)
    table.insert(keys, t .. ':stats:h:' .. math.floor(m / 60))
  end
  for _, k in ipairs(keys) do
    for _, p in ipairs(incr) do
      if tonumber(p[2]) ~= 0 then redis.call('HINCRBY', k, p[1], p[2]) end
    end
    for _, p in ipairs(incrf) do
      if tonumber(p[2]) ~= 0 then redis.call('HINCRBYFLOAT', k, p[1], p[2]) end
    end
    redis.call('PEXPIRE', k, ttl)
  end
end
local function latency_bucket(ms)
  ms = math.max(tonumber(ms), 0)
  return math.floor(` + strconv.Itoa(tasks.LatencyBucketsPerOctave) + ` * math.log(ms + 1) / math.log(2))
end
`

// Tally sums the stats counters of the jobs of tenant ("" for all) created
// in [from, to], to the minute: the buckets of every minute from from's to
// to's. It reads at most 120 minute buckets and one bucket per whole hour
// between, in one round trip: about 900 small hashes for the longest
// window, 31 days.
func (s *Redis) Tally(ctx context.Context, tenant string, from, to time.Time) (*tasks.Tally, error) {
	pipe := s.client.Pipeline()
	tally := s.queueTally(ctx, pipe, tenant, from, to)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: tally: %w", err)
	}
	return tally()
}

// queueTally queues on pipe the reads of Tally; the function it returns
// sums them once pipe has run.
func (s *Redis) queueTally(ctx context.Context, pipe redis.Pipeliner, tenant string, from, to time.Time) func() (*tasks.Tally, error) {
	keys := s.tallyKeys(tenant, from, to)
	cmds := make([]*redis.MapStringStringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.HGetAll(ctx, k)
	}
	return func() (*tasks.Tally, error) {
		t := &tasks.Tally{JobLatency: tasks.Histogram{}, PageLatency: tasks.Histogram{}}
		ints := map[string]*int64{
			"jobs": &t.Jobs, "pages": &t.Pages, "pr": &t.PagesRead, "g": &t.GuardrailPages,
			"in": &t.InputTokens, "out": &t.OutputTokens, "hits": &t.CacheHits, "misses": &t.CacheMisses,
			"pg": &t.DocPages, "fr": &t.Frames,
		}
		floats := map[string]*float64{"cost": &t.CostUSD, "spent": &t.SpentUSD}
		for _, c := range cmds {
			for f, v := range c.Val() {
				if err := addTallyField(t, ints, floats, f, v); err != nil {
					return nil, fmt.Errorf("store: tally: field %s: %w", f, err)
				}
			}
		}
		return t, nil
	}
}

// tallyKeys returns the stats buckets that cover [from, to] for tenant:
// minute buckets at the window's edges, hour buckets for the whole hours
// between.
func (s *Redis) tallyKeys(tenant string, from, to time.Time) []string {
	m0, m1 := from.UnixMilli()/60000, to.UnixMilli()/60000
	base := s.cfg.Prefix
	if tenant != "" {
		base += ":tenant:" + tenant
	}
	var keys []string
	minutes := func(a, b int64) {
		for m := a; m <= b; m++ {
			keys = append(keys, base+":stats:m:"+strconv.FormatInt(m, 10))
		}
	}
	// Whole hours [h0, h1) lie inside the window.
	h0, h1 := (m0+59)/60, (m1+1)/60
	if h0 < h1 {
		minutes(m0, h0*60-1)
		for h := h0; h < h1; h++ {
			keys = append(keys, base+":stats:h:"+strconv.FormatInt(h, 10))
		}
		minutes(h1*60, m1)
	} else {
		minutes(m0, m1)
	}
	return keys
}

// addTallyField adds the value v of the stats bucket field f to t: to the
// counter ints or floats name it by, or to a latency histogram for
// "jl:<bucket>" and "pl:<bucket>". Unknown fields are left out.
func addTallyField(t *tasks.Tally, ints map[string]*int64, floats map[string]*float64, f, v string) error {
	if p, ok := floats[f]; ok {
		x, err := strconv.ParseFloat(v, 64)
		*p += x
		return err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return err
	}
	if p, ok := ints[f]; ok {
		*p += n
		return nil
	}
	name, bucket, ok := strings.Cut(f, ":")
	if !ok || (name != "jl" && name != "pl") {
		return nil
	}
	k, err := strconv.Atoi(bucket)
	if err != nil {
		return err
	}
	if name == "jl" {
		t.JobLatency[k] += n
	} else {
		t.PageLatency[k] += n
	}
	return nil
}

// DailyUsage returns what tenant ("" for all) used on each of the days
// UTC days from first's: the jobs created that day (from the status
// indexes) and the usage counters of their stats buckets, all in one round
// trip.
func (s *Redis) DailyUsage(ctx context.Context, tenant string, first time.Time, days int) ([]tasks.UsageDay, error) {
	first = first.UTC().Truncate(24 * time.Hour)
	pipe := s.client.Pipeline()
	tallies := make([]func() (*tasks.Tally, error), days)
	counts := make([]func() map[tasks.Status]int, days)
	for i := range days {
		day := first.AddDate(0, 0, i)
		end := day.Add(24*time.Hour - time.Millisecond)
		tallies[i] = s.queueTally(ctx, pipe, tenant, day, end)
		counts[i] = s.queueCount(ctx, pipe, tenant, day, end)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: daily usage: %w", err)
	}
	out := make([]tasks.UsageDay, days)
	for i := range days {
		t, err := tallies[i]()
		if err != nil {
			return nil, err
		}
		d := tasks.UsageDay{Date: first.AddDate(0, 0, i).Format(time.DateOnly), Pages: t.DocPages, Frames: t.Frames,
			InputTokens: t.InputTokens, OutputTokens: t.OutputTokens, CostUSD: t.SpentUSD,
			CacheHits: t.CacheHits, CacheMisses: t.CacheMisses}
		for _, n := range counts[i]() {
			d.Jobs += n
		}
		out[i] = d
	}
	return out, nil
}
