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

// statuses are every job state, each with an index of its own.
var statuses = []tasks.Status{
	tasks.StatusQueued, tasks.StatusProcessing, tasks.StatusSucceeded,
	tasks.StatusPartiallySucceeded, tasks.StatusFailed, tasks.StatusCanceled,
}

// statusIndex is the key of the index of the jobs in status st: a sorted
// set scored like the jobs index (creation, unix ms). Every script that
// changes a job's status moves its entry, in the same atomic step, so that
// ListJobs by status and the counts of Stats read only the jobs asked for
// instead of scanning all of them (1.1 s at 10,000 jobs that way).
func (s *Redis) statusIndex(st tasks.Status) string { return s.jobs + ":" + string(st) }

// jobsIndex is the jobs index of tenant, holding only its jobs (every job
// is also in the global one, s.jobs, which "" names). Its status indexes
// are jobsIndex(tenant) + ":" + status, moved with the global ones.
func (s *Redis) jobsIndex(tenant string) string {
	if tenant == "" {
		return s.jobs
	}
	return s.cfg.Prefix + ":tenant:" + tenant + ":jobs"
}

// tenantStatusIndex is the index of tenant's jobs in status st; the global
// one for "".
func (s *Redis) tenantStatusIndex(tenant string, st tasks.Status) string {
	return s.jobsIndex(tenant) + ":" + string(st)
}

// statusLua defines set_status(record, prefix, to): it sets the status of
// the job of record and moves its entry from the index of its old status to
// that of to, in the global indexes and in those of the job's tenant, with
// the score of the jobs index; and unindex(prefix, id, tenant), which drops
// id from every status index, and from every index of tenant when it is
// not false. Its keys are built in the script from prefix, like the batch
// keys of end_job: they are global keys.
var statusLua = `
local STATUSES = {'` + strings.Join(statusNames(), "', '") + `'}
local function tenant_base(prefix, tenant) return prefix .. ':tenant:' .. tenant .. ':jobs' end
local function set_status(record, prefix, to)
  local id = redis.call('HGET', record, 'id')
  local from = redis.call('HGET', record, 'status')
  redis.call('HSET', record, 'status', to)
  if from == to or not id then return end
  local bases = {prefix .. ':jobs'}
  local tenant = redis.call('HGET', record, 'tenant')
  if tenant then table.insert(bases, tenant_base(prefix, tenant)) end
  local score = redis.call('ZSCORE', prefix .. ':jobs', id)
  for _, base in ipairs(bases) do
    if from then redis.call('ZREM', base .. ':' .. from, id) end
    if score then redis.call('ZADD', base .. ':' .. to, score, id) end
  end
end
local function unindex(prefix, id, tenant)
  for _, st in ipairs(STATUSES) do redis.call('ZREM', prefix .. ':jobs:' .. st, id) end
  if tenant then
    local base = tenant_base(prefix, tenant)
    redis.call('ZREM', base, id)
    for _, st in ipairs(STATUSES) do redis.call('ZREM', base .. ':' .. st, id) end
  end
end
`

func statusNames() []string {
	names := make([]string, len(statuses))
	for i, st := range statuses {
		names[i] = string(st)
	}
	return names
}

// CountJobs returns how many jobs of tenant ("" for all) created in [from,
// to] are in each state, from the status indexes: one pipelined round trip
// of ZCOUNTs, whatever the number of jobs. Entries of jobs that expired and were not yet swept
// count until ListJobs or an ending job drops them.
func (s *Redis) CountJobs(ctx context.Context, tenant string, from, to time.Time) (map[tasks.Status]int, error) {
	pipe := s.client.Pipeline()
	counts := s.queueCount(ctx, pipe, tenant, from, to)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: count jobs: %w", err)
	}
	return counts(), nil
}

// queueCount queues on pipe the ZCOUNTs of CountJobs; the function it
// returns reads them once pipe has run.
func (s *Redis) queueCount(ctx context.Context, pipe redis.Pipeliner, tenant string, from, to time.Time) func() map[tasks.Status]int {
	cmds := make([]*redis.IntCmd, len(statuses))
	lo, hi := strconv.FormatInt(from.UnixMilli(), 10), strconv.FormatInt(to.UnixMilli(), 10)
	for i, st := range statuses {
		cmds[i] = pipe.ZCount(ctx, s.tenantStatusIndex(tenant, st), lo, hi)
	}
	return func() map[tasks.Status]int {
		counts := map[tasks.Status]int{}
		for i, st := range statuses {
			if n := cmds[i].Val(); n > 0 {
				counts[st] = int(n)
			}
		}
		return counts
	}
}
