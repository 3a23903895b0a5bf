package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/mmq/mmq/tasks"
	"github.com/redis/go-redis/v9"
)

// startScript moves an active job to processing and counts one attempt.
// A missing record gives a nil reply; otherwise the reply is the record.
//
// KEYS: record, events.
// ARGV: now, status queued, status processing, key prefix.
var startScript = redis.NewScript(statusLua + `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
if status == ARGV[2] or status == ARGV[3] then
  set_status(KEYS[1], ARGV[4], ARGV[3])
  local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  redis.call('HSETNX', KEYS[1], 'started_at', ARGV[1])
  redis.call('XADD', KEYS[2], '*', 'type', 'state', 'data', cjson.encode({status = ARGV[3], attempts = attempts,
    pages_total = tonumber(redis.call('HGET', KEYS[1], 'pages_total') or 0),
    pages_done = tonumber(redis.call('HGET', KEYS[1], 'pages_done') or 0)}))
end
return redis.call('HGETALL', KEYS[1])
`)

// StartJob marks a queued or processing job processing, counts one attempt,
// sets its start time if unset and returns the record. A job in a final
// state is returned unchanged.
func (s *Redis) StartJob(ctx context.Context, id string) (*tasks.Job, error) {
	k := s.keys(id)
	reply, err := startScript.Run(ctx, s.client, []string{k.record, k.events},
		formatTime(time.Now()), string(tasks.StatusQueued), string(tasks.StatusProcessing), s.cfg.Prefix).Result()
	if err != nil {
		return nil, scriptErr(err, "start", id)
	}
	h, err := pairsToMap(reply)
	if err != nil {
		return nil, err
	}
	return s.decodeOne(ctx, h)
}

// updateScript sets fields of an existing record; a missing record gives a
// nil reply.
//
// KEYS: record.
// ARGV: field/value pairs.
var updateScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`)

func (s *Redis) update(ctx context.Context, op, id string, fields ...any) error {
	return scriptErr(updateScript.Run(ctx, s.client, []string{s.keys(id).record}, fields...).Err(), op, id)
}

// setInputScript records a job's input and makes its reference to the
// blob the job's own (+inf); a reference to another blob, of an earlier
// input, is dropped and that blob checked. A missing record gives a nil
// reply.
//
// KEYS: record. ARGV: blob key, size, key prefix, job id.
var setInputScript = redis.NewScript(blobLua + `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local old = redis.call('HGET', KEYS[1], 'blob_key')
if old and old ~= ARGV[1] then
  redis.call('ZREM', (blob_keys(ARGV[3], old)), ARGV[4])
  redis.call('ZADD', ARGV[3] .. ':blobs', 'LT', 0, old)
end
redis.call('HSET', KEYS[1], 'blob_key', ARGV[1], 'size', ARGV[2])
blob_ref(ARGV[3], ARGV[1], ARGV[4], '+inf', false)
return 1
`)

// SetInput records the blob that holds the job's input, once fetched; the
// caller took the job's reference to it first (RefBlob).
func (s *Redis) SetInput(ctx context.Context, id, blobKey string, size int64) error {
	err := setInputScript.Run(ctx, s.client, []string{s.keys(id).record}, blobKey, size, s.cfg.Prefix, id).Err()
	return scriptErr(err, "set input of", id)
}

// setPagesScript records a job's page count. The first count of a job of a
// tenant (one whose pages were not known at submission) is taken from the
// tenant's pages of the day (see quotaLua); over the quota the count is not
// recorded and the reply is the MMQQUOTA error. A missing record gives a
// nil reply.
//
// KEYS: record. ARGV: pages, key prefix, the quota spec without its tenant
// ("" for none).
var setPagesScript = redis.NewScript(quotaLua + `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local tenant = redis.call('HGET', KEYS[1], 'tenant')
if tenant and ARGV[3] ~= '' and tonumber(redis.call('HGET', KEYS[1], 'pages_total') or 0) == 0 then
  local q = cjson.decode(ARGV[3])
  q.t = tenant
  local refused = quota_take(ARGV[2], q, 0)
  if refused then return redis.error_reply(refused) end
end
redis.call('HSET', KEYS[1], 'pages_total', ARGV[1])
return 1
`)

// SetPagesTotal records how many pages (or frames) the job has. For a job
// of a tenant whose pages were not known when it was submitted (by URL),
// they count against the tenant's pages_per_day quota now: over it, the
// error has tasks.CodeQuotaExceeded (permanent: the job fails with it).
func (s *Redis) SetPagesTotal(ctx context.Context, id string, n int) error {
	tenant, err := s.client.HGet(ctx, s.keys(id).record, fieldTenant).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("store: set page count of job %s: %w", id, err)
	}
	now := time.Now()
	err = setPagesScript.Run(ctx, s.client, []string{s.keys(id).record}, n, s.cfg.Prefix, s.quotaArg(tenant, int64(n), now)).Err()
	if qerr := s.quotaErr(err, tenant, now); qerr != err {
		return qerr
	}
	return scriptErr(err, "set page count of", id)
}

// DonePages returns the indexes of the job's pages that are done, in
// ascending order: the checkpoint a retried job resumes from.
func (s *Redis) DonePages(ctx context.Context, id string) ([]int, error) {
	k := s.keys(id)
	pipe := s.client.Pipeline()
	exists := pipe.Exists(ctx, k.record)
	members := pipe.SMembers(ctx, k.done)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: done pages of job %s: %w", id, err)
	}
	if exists.Val() == 0 {
		return nil, notFound(id)
	}
	done := make([]int, 0, len(members.Val()))
	for _, m := range members.Val() {
		i, err := strconv.Atoi(m)
		if err != nil {
			return nil, fmt.Errorf("store: done pages of job %s: corrupt index %q", id, m)
		}
		done = append(done, i)
	}
	slices.Sort(done)
	return done, nil
}

// saveLua defines save_page, which stores a page result and keeps the done
// and failed sets, and the counters that mirror their sizes, in step. A done
// page is never downgraded to failed, and a job no longer active is left
// alone: its counts went out with its notification and its keys are
// expiring. It returns false for a missing record, 0 for a result it left
// alone and 1 for one it stored.
//
// Each saved page appends a "page" event, with the job's counts, to the
// job's event stream. The page's usage (tokens, cost, cache outcome) is
// added to the job's totals whatever the page's status: it was spent.
//
// Keys: record, results, idx, done, failed, events.
// A: page index, "1" if the page is done else "0", result JSON, status
// queued, status processing, attempts, then the usage to add: input tokens,
// output tokens, cost in USD, cache hits, cache misses; then for the stats
// (see statsLua) the page's duration in ms, "1" if the guardrail flagged
// it else "0", the key prefix, the buckets' TTL in ms and the month
// (2006-01) whose spending of the tenant the page's cost adds to. A page
// counts in the stats each time it reaches an outcome it did not have; its
// usage (tokens, cost as "spent", cache outcomes) every time it is saved.
var saveLua = statsLua + `
local function save_page(record, results, idx, done, failed, events, A)
local status = redis.call('HGET', record, 'status')
if not status then return false end
if status ~= A[4] and status ~= A[5] then return 0 end
for n, f in ipairs({'usage_input_tokens', 'usage_output_tokens', 'usage_cost_usd', 'usage_cache_hits', 'usage_cache_misses'}) do
  if tonumber(A[6 + n]) ~= 0 then redis.call('HINCRBYFLOAT', record, f, A[6 + n]) end
end
local i = A[1]
local outcome = false
if A[2] == '1' then
  if redis.call('SADD', done, i) == 1 then redis.call('HINCRBY', record, 'pages_done', 1); outcome = true end
  if redis.call('SREM', failed, i) == 1 then redis.call('HINCRBY', record, 'pages_failed', -1) end
elseif redis.call('SISMEMBER', done, i) == 1 then
  return 0
elseif redis.call('SADD', failed, i) == 1 then
  redis.call('HINCRBY', record, 'pages_failed', 1)
  outcome = true
end
local created = redis.call('ZSCORE', A[14] .. ':jobs', redis.call('HGET', record, 'id'))
if created then
  local tenant = redis.call('HGET', record, 'tenant')
  local incr = {{'in', A[7]}, {'out', A[8]}, {'hits', A[10]}, {'misses', A[11]}}
  if outcome then
    local unit = redis.call('HGET', record, 'kind') == 'video' and 'fr' or 'pg'
    for _, p in ipairs({{'pr', 1}, {'pl:' .. latency_bucket(A[12]), 1}, {'g', A[13]}, {unit, 1}}) do table.insert(incr, p) end
  end
  stats_add(A[14], tenant, created, A[15], incr, {{'spent', A[9]}})
  if tenant and tonumber(A[9]) ~= 0 then
    redis.call('HINCRBYFLOAT', A[14] .. ':tenant:' .. tenant .. ':spent', A[16], A[9])
  end
end
redis.call('HSET', results, i, A[3])
redis.call('ZADD', idx, i, i)
redis.call('XADD', events, '*', 'type', 'page', 'data', cjson.encode({index = tonumber(i),
  status = A[2] == '1' and 'done' or 'failed', attempts = tonumber(A[6]),
  pages_total = tonumber(redis.call('HGET', record, 'pages_total') or 0),
  pages_done = tonumber(redis.call('HGET', record, 'pages_done') or 0),
  pages_failed = tonumber(redis.call('HGET', record, 'pages_failed') or 0)}))
return 1
end
`

// saveScript runs save_page.
//
// KEYS: record, results, idx, done, failed, events.
// ARGV: those of save_page.
var saveScript = redis.NewScript(saveLua + `
return save_page(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV)
`)

// saveEndScript runs save_page and then, when the page was stored and every
// page of the job has an outcome (done or failed), ends the job with
// end_job in its derived state. Its reply is save_page's, or the record of
// the job it ended.
//
// KEYS: those of end_job (record, results, idx, done, failed, secret,
// notifications stream, events, jobs index, events scratch key).
// ARGV: the 16 of save_page, then those of end_job.
var saveEndScript = redis.NewScript(saveLua + endJobLua + `
local saved = save_page(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[8], ARGV)
if saved ~= 1 then return saved end
local total = tonumber(redis.call('HGET', KEYS[1], 'pages_total') or 0)
local ended = tonumber(redis.call('HGET', KEYS[1], 'pages_done') or 0) + tonumber(redis.call('HGET', KEYS[1], 'pages_failed') or 0)
if total == 0 or ended < total then return 1 end
return end_job(KEYS, ARGV, 16)
`)

// SavePage stores the result of one page and updates the job's counts, in
// one atomic step. Saving a page again replaces its result without counting
// it twice; a failed page saved done moves from the failed count to the
// done count; a done page is never downgraded to failed. Results for a job
// already in a final state are ignored.
func (s *Redis) SavePage(ctx context.Context, id string, r tasks.PageResult) error {
	args, err := s.saveArgs(id, r)
	if err != nil {
		return err
	}
	k := s.keys(id)
	err = saveScript.Run(ctx, s.client, []string{k.record, k.results, k.idx, k.done, k.failed, k.events}, args...).Err()
	return scriptErr(err, "save page "+strconv.Itoa(r.Index)+" of", id)
}

// SaveLastPage is SavePage for the last unit a run of the job's task saves.
// When the result is stored and every page of the job then has an outcome,
// it also ends the job, in the same atomic step, in the state EndJob would
// give, and returns the ended record; otherwise it returns nil and the job
// stays active, for EndJob (or a later run) to end. It saves the round trip
// of EndJob for the many jobs whose last page ends them.
//
// The caller must know that no other result of the job is being saved: a
// page counted failed by an earlier run and being analyzed again would
// otherwise see its new result ignored.
func (s *Redis) SaveLastPage(ctx context.Context, id string, r tasks.PageResult) (*tasks.Job, error) {
	args, err := s.saveArgs(id, r)
	if err != nil {
		return nil, err
	}
	k := s.keys(id)
	reply, err := saveEndScript.Run(ctx, s.client, s.endKeys(k), s.endArgs(args, "", "", "")...).Result()
	if err != nil {
		return nil, scriptErr(err, "save last page "+strconv.Itoa(r.Index)+" of", id)
	}
	if _, ok := reply.(int64); ok {
		return nil, nil
	}
	return s.endedJob(ctx, reply)
}

// saveArgs returns the ARGV of save_page for result r. A result whose JSON
// is over Config.MaxPageResultBytes is stored as a failed page with
// tasks.CodeResultTooLarge in its place: a 42 KB PDF of 200 pages could
// otherwise leave megabytes per page in Redis.
func (s *Redis) saveArgs(id string, r tasks.PageResult) ([]any, error) {
	switch {
	case r.Index < 0:
		return nil, tasks.Errorf(tasks.CodeInvalidRequest, "job %s: negative page index %d", id, r.Index)
	case r.Status != tasks.PageDone && r.Status != tasks.PageFailed:
		return nil, tasks.Errorf(tasks.CodeInvalidRequest, "job %s: page %d has status %q, want done or failed", id, r.Index, r.Status)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("store: encode page %d of job %s: %w", r.Index, id, err)
	}
	if len(b) > s.cfg.MaxPageResultBytes {
		r.Status, r.Output = tasks.PageFailed, nil
		r.ErrorCode = tasks.CodeResultTooLarge
		r.ErrorMessage = fmt.Sprintf("the result of this page is %d bytes; at most %d are stored", len(b), s.cfg.MaxPageResultBytes)
		if b, err = json.Marshal(r); err != nil {
			return nil, fmt.Errorf("store: encode page %d of job %s: %w", r.Index, id, err)
		}
	}
	done := "0"
	if r.Status == tasks.PageDone {
		done = "1"
	}
	var m tasks.Metrics
	if r.Metrics != nil {
		m = *r.Metrics
	}
	args := make([]any, 0, 16+18)
	return append(args, r.Index, done, b, string(tasks.StatusQueued), string(tasks.StatusProcessing), r.Attempts,
		m.InputTokens, m.OutputTokens, strconv.FormatFloat(m.CostUSD, 'f', -1, 64),
		boolInt(m.Cache == tasks.CacheHit), boolInt(m.Cache == tasks.CacheMiss),
		r.DurationMS, boolInt(m.GuardrailFlags > 0), s.cfg.Prefix, statsTTL.Milliseconds(),
		time.Now().UTC().Format(monthLayout)), nil
}

// Password returns the password submitted with the job, or "" if there was
// none or the job has ended.
func (s *Redis) Password(ctx context.Context, id string) (string, error) {
	pw, err := s.client.Get(ctx, s.keys(id).secret).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: password of job %s: %w", id, err)
	}
	return pw, nil
}
