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

// statusLua defines set_status(record, prefix, to): it sets the status of
// the job of record and moves its entry from the index of its old status to
// that of to, with the score of the jobs index; and unindex(prefix, id),
// which drops id from every status index. Its keys are built in the script
// from prefix, like the batch keys of end_job: they are global keys.
var statusLua = `
local STATUSES = {'` + strings.Join(statusNames(), "', '") + `'}
local function set_status(record, prefix, to)
  local id = redis.call('HGET', record, 'id')
  local from = redis.call('HGET', record, 'status')
  redis.call('HSET', record, 'status', to)
  if from == to or not id then return end
  if from then redis.call('ZREM', prefix .. ':jobs:' .. from, id) end
  local score = redis.call('ZSCORE', prefix .. ':jobs', id)
  if score then redis.call('ZADD', prefix .. ':jobs:' .. to, score, id) end
end
local function unindex(prefix, id)
  for _, st in ipairs(STATUSES) do redis.call('ZREM', prefix .. ':jobs:' .. st, id) end
end
`

func statusNames() []string {
	names := make([]string, len(statuses))
	for i, st := range statuses {
		names[i] = string(st)
	}
	return names
}

// CountJobs returns how many jobs created in [from, to] are in each state,
// from the status indexes: one pipelined round trip of ZCOUNTs, whatever
// the number of jobs. Entries of jobs that expired and were not yet swept
// count until ListJobs or an ending job drops them.
func (s *Redis) CountJobs(ctx context.Context, from, to time.Time) (map[tasks.Status]int, error) {
	pipe := s.client.Pipeline()
	cmds := make([]*redis.IntCmd, len(statuses))
	lo, hi := strconv.FormatInt(from.UnixMilli(), 10), strconv.FormatInt(to.UnixMilli(), 10)
	for i, st := range statuses {
		cmds[i] = pipe.ZCount(ctx, s.statusIndex(st), lo, hi)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: count jobs: %w", err)
	}
	counts := map[tasks.Status]int{}
	for i, st := range statuses {
		if n := cmds[i].Val(); n > 0 {
			counts[st] = int(n)
		}
	}
	return counts, nil
}
