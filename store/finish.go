package store

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/mmq/mmq/tasks"
	"github.com/redis/go-redis/v9"
)

// endJobLua defines end_job, the ending of an active job shared by
// finishScript and saveEndScript: it sets the final state, deletes the
// password, appends the record to the notifications stream and sets the TTL
// of the job's keys, and returns the record.
//
// The stream entry is the fields of the record a notification shows (see
// NOTE_FIELDS; not the options, callback URL or error message, which would
// multiply the stream's size), rather than the notification JSON: a script
// cannot call tasks.NewNotification, and building the notification from
// the record read in the same atomic step is what keeps its counts exact
// while pages are being saved. Notifications makes the JSON when it reads
// the entry. The stream is trimmed by count (MAXLEN) and by age (MINID:
// entries older than Config.NotificationsMaxAge go).
//
// When the job belongs to a batch, the batch's counters move in the same
// step, and the job that ends the batch marks it completed and appends the
// batch.completed entry: exactly one job does, however many workers finish
// jobs of the batch at the same moment. The batch key is built in the
// script from the record's batch_id (like the stream, a key of another
// cluster slot; see the package documentation).
//
// With an empty final status, end_job derives the final state from the
// page counts it reads in the same step (see EndJob), and refuses, with an
// MMQINCOMPLETE error, to end a job with pages that have no outcome: a
// worker that believes it saved them may be wrong (a Redis that crashed
// and came back from its AOF can miss the last acknowledged writes).
//
// Each run also keeps the jobs index bounded: records expire, their index
// entries do not. Of the entries created before the retention window, it
// looks at two from a random rank and drops those whose record is gone. In
// a steady state as many entries go as jobs end; the random rank keeps old
// jobs that are still live (queued for days) from stalling the sweep. The
// index of the job's tenant is swept the same way.
//
// A job with a tenant has its notification (and its batch's
// batch.completed) appended to the tenant's stream too,
// prefix:tenant:<tenant>:notifications, trimmed alike: what a tenant's keys
// read.
//
// The job's event stream is final once its last event is in, and is then
// rewritten compactly (COPY to a scratch key of the job, RENAME back): Redis
// allocates a new stream node at its full size (stream-node-max-bytes, 4 KiB
// by default) whatever its few entries need, and a copy allocates only what
// the entries use, which cuts a finished job's memory by more than half for
// the whole retention. Readers see the same entries and ids.
//
// K: record, results, idx, done, failed, secret, notifications stream,
// events, jobs index, events scratch key.
// A from index o+1: final status, finished_at, error code, error message,
// retention in ms, stream max length, status queued, status processing, key
// prefix, then for a derived state: status succeeded, failed and partially
// succeeded, and the pages-failed error code; then the index sweep's cutoff
// (unix ms), a random number in [0, 1) and the oldest notification id
// kept (unix ms); then now (unix ms) and the TTL of the stats buckets (ms).
//
// The job's end frees its place in its tenant's concurrent-jobs count
// (quota_release). The job's end adds it to the stats counters (see statsLua) of its
// creation minute: its cost, and unless it was canceled its pages and its
// latency.
var endJobLua = statusLua + statsLua + blobLua + quotaLua + `
local NOTE_FIELDS = {'id', 'kind', 'batch_id', 'tenant', 'status', 'pages_total', 'pages_done', 'pages_failed',
  'error_code', 'metadata', 'metadata_batch', 'created_at', 'started_at', 'finished_at'}
local function end_job(K, A, o)
local final, code, msg = A[o + 1], A[o + 3], A[o + 4]
if final == '' then
  local ok = tonumber(redis.call('HGET', K[1], 'pages_done') or 0)
  local bad = tonumber(redis.call('HGET', K[1], 'pages_failed') or 0)
  local total = tonumber(redis.call('HGET', K[1], 'pages_total') or 0)
  if ok + bad < total then
    return redis.error_reply('MMQINCOMPLETE ' .. (total - ok - bad) .. ' of ' .. total .. ' pages have no stored result')
  end
  if bad == 0 then
    final, code, msg = A[o + 10], '', ''
  elseif ok == 0 then
    final, code, msg = A[o + 11], A[o + 13], 'all ' .. bad .. ' pages failed'
  else
    final, code, msg = A[o + 12], A[o + 13],
      bad .. ' of ' .. tonumber(redis.call('HGET', K[1], 'pages_total') or 0) .. ' pages failed'
  end
end
local now, ttl, maxlen, prefix = A[o + 2], A[o + 5], A[o + 6], A[o + 9]
set_status(K[1], prefix, final)
redis.call('HSET', K[1], 'finished_at', now)
if code ~= '' then redis.call('HSET', K[1], 'error_code', code) end
if msg ~= '' then redis.call('HSET', K[1], 'error_message', msg) end
redis.call('DEL', K[6])
local record = redis.call('HGETALL', K[1])
local note, vals = {}, redis.call('HMGET', K[1], unpack(NOTE_FIELDS))
for i, f in ipairs(NOTE_FIELDS) do
  if vals[i] then table.insert(note, f); table.insert(note, vals[i]) end
end
local tenant = redis.call('HGET', K[1], 'tenant')
quota_release(prefix, tenant)
local streams = {K[7]}
if tenant then table.insert(streams, prefix .. ':tenant:' .. tenant .. ':notifications') end
for _, stream in ipairs(streams) do
  redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', unpack(note))
  redis.call('XTRIM', stream, 'MINID', '~', A[o + 16])
end
local done = tonumber(redis.call('HGET', K[1], 'pages_done') or 0)
local failed = tonumber(redis.call('HGET', K[1], 'pages_failed') or 0)
local created = redis.call('ZSCORE', K[9], redis.call('HGET', K[1], 'id'))
if created then
  local incr = {{'jobs', 1}}
  if final ~= '` + string(tasks.StatusCanceled) + `' then
    incr = {{'jobs', 1}, {'pages', done + failed}, {'jl:' .. latency_bucket(A[o + 17] - created), 1}}
  end
  stats_add(prefix, redis.call('HGET', K[1], 'tenant'), created, A[o + 18], incr, {{'cost', redis.call('HGET', K[1], 'usage_cost_usd') or '0'}})
end
redis.call('XADD', K[8], '*', 'type', 'state', 'data', cjson.encode({status = final, final = true,
  pages_total = tonumber(redis.call('HGET', K[1], 'pages_total') or 0), pages_done = done, pages_failed = failed,
  error_code = code}))
if redis.call('COPY', K[8], K[10], 'REPLACE') == 1 then redis.call('RENAME', K[10], K[8]) end
for i = 1, 5 do redis.call('PEXPIRE', K[i], ttl) end
-- The input's reference lasts as long as the record (see RefBlob).
local blob = redis.call('HGET', K[1], 'blob_key')
if blob then blob_ref(prefix, blob, redis.call('HGET', K[1], 'id'), A[o + 17] + ttl, true) end
redis.call('PEXPIRE', K[8], ttl)
local sweeps = {{K[9], false}}
if tenant then table.insert(sweeps, {tenant_base(prefix, tenant), tenant}) end
for _, sweep in ipairs(sweeps) do
  local index = sweep[1]
  local old = redis.call('ZCOUNT', index, '-inf', '(' .. A[o + 14])
  if old > 0 then
    local first = math.min(math.floor(tonumber(A[o + 15]) * old), math.max(old - 2, 0))
    for _, id in ipairs(redis.call('ZRANGE', index, first, first + 1)) do
      if redis.call('EXISTS', prefix .. ':job:{' .. id .. '}') == 0 then
        redis.call('ZREM', K[9], id)
        unindex(prefix, id, sweep[2])
      end
    end
  end
end
local batch = redis.call('HGET', K[1], 'batch_id')
if batch then
  local bk = prefix .. ':batch:{' .. batch .. '}'
  if redis.call('EXISTS', bk) == 1 then
    redis.call('HINCRBY', bk, 'n_' .. final, 1)
    local ended = redis.call('HINCRBY', bk, 'ended', 1)
    local total = tonumber(redis.call('HGET', bk, 'total'))
    redis.call('XADD', bk .. ':events', '*', 'type', 'job', 'data', cjson.encode({job_id = redis.call('HGET', K[1], 'id'),
      status = final, ended = ended, total = total}))
    if ended >= total and redis.call('HGET', bk, 'status') == 'processing' then
      redis.call('HSET', bk, 'status', 'completed', 'finished_at', now)
      redis.call('XADD', bk .. ':events', '*', 'type', 'state', 'data', cjson.encode({status = 'completed', final = true, ended = ended, total = total}))
      redis.call('PEXPIRE', bk .. ':events', ttl)
      local batch_record = redis.call('HGETALL', bk)
      for _, stream in ipairs(streams) do
        redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'event', 'batch.completed', unpack(batch_record))
      end
      redis.call('PEXPIRE', bk, ttl)
      redis.call('PEXPIRE', bk .. ':jobs', ttl)
      table.insert(record, '_batch_completed')
      table.insert(record, '1')
    end
  end
end
return record
end
`

// finishScript ends an active job with end_job. A job already final is
// left as is. A missing record gives a nil reply; otherwise the reply is the
// record.
//
// KEYS and ARGV: those of end_job (endJobLua), from ARGV[1].
var finishScript = redis.NewScript(endJobLua + `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
if status ~= ARGV[7] and status ~= ARGV[8] then return redis.call('HGETALL', KEYS[1]) end
return end_job(KEYS, ARGV, 0)
`)

// FinishJob moves an active job to the final state status, with the error
// code and message (empty on success), and returns the updated record. In
// the same atomic step it appends the job's notification to the stream,
// deletes the job's password and sets the TTL of all its keys to
// Config.Retention. A job already final is returned unchanged, so its
// notification is written once. When this job's end completed its batch,
// the returned job's CompletedBatch is true.
//
// The stream is a global key; see the package documentation about Redis
// Cluster.
func (s *Redis) FinishJob(ctx context.Context, id string, status tasks.Status, code tasks.Code, msg string) (*tasks.Job, error) {
	if !status.Final() {
		return nil, tasks.Errorf(tasks.CodeInvalidRequest, "job %s: %q is not a final status", id, status)
	}
	return s.finish(ctx, id, status, code, msg)
}

// EndJob ends an active job like FinishJob, in the state its page counts
// give: succeeded when no page failed; failed with tasks.CodePagesFailed
// ("all N pages failed") when no page is done; else partially_succeeded with
// CodePagesFailed ("F of T pages failed"). The counts are read in the same
// atomic step: one round trip where reading the job to choose the state,
// then finishing it, took two, and could miss a page saved in between.
// A job with pages that have no outcome is not ended: EndJob returns an
// error (transient: the task's next run redoes those pages) and the job
// stays active.
func (s *Redis) EndJob(ctx context.Context, id string) (*tasks.Job, error) {
	return s.finish(ctx, id, "", "", "")
}

// finish runs finishScript; an empty status has the script derive it.
func (s *Redis) finish(ctx context.Context, id string, status tasks.Status, code tasks.Code, msg string) (*tasks.Job, error) {
	k := s.keys(id)
	reply, err := finishScript.Run(ctx, s.client, s.endKeys(k), s.endArgs(nil, status, code, msg)...).Result()
	if err != nil {
		return nil, scriptErr(err, "finish", id)
	}
	return s.endedJob(ctx, reply)
}

// endKeys returns the KEYS of end_job for the job of k.
func (s *Redis) endKeys(k jobKeys) []string {
	return []string{k.record, k.results, k.idx, k.done, k.failed, k.secret, s.notifications, k.events, s.jobs, k.eventsScratch}
}

// endArgs appends to args the ARGV of end_job for the final state status
// ("" to derive it from the page counts).
func (s *Redis) endArgs(args []any, status tasks.Status, code tasks.Code, msg string) []any {
	now := time.Now()
	return append(args,
		string(status), formatTime(now), string(code), msg,
		s.cfg.Retention.Milliseconds(), s.cfg.NotificationsMaxLen,
		string(tasks.StatusQueued), string(tasks.StatusProcessing), s.cfg.Prefix,
		string(tasks.StatusSucceeded), string(tasks.StatusFailed), string(tasks.StatusPartiallySucceeded),
		string(tasks.CodePagesFailed),
		now.Add(-s.cfg.Retention).UnixMilli(), rand.Float64(),
		now.Add(-s.cfg.NotificationsMaxAge).UnixMilli(),
		now.UnixMilli(), statsTTL.Milliseconds())
}

// endedJob decodes the record end_job returns.
func (s *Redis) endedJob(ctx context.Context, reply any) (*tasks.Job, error) {
	h, err := pairsToMap(reply)
	if err != nil {
		return nil, err
	}
	j, err := s.decodeOne(ctx, h)
	if err != nil {
		return nil, err
	}
	j.CompletedBatch = h["_batch_completed"] == "1"
	return j, nil
}
