package store

import (
	"context"
	"time"

	"github.com/mmq/mmq/tasks"
	"github.com/redis/go-redis/v9"
)

// finishScript ends an active job: it sets the final state, deletes the
// password, appends the record to the notifications stream and sets the
// TTL of the job's keys. A job already final is left as is. A missing record
// gives a nil reply; otherwise the reply is the record.
//
// The stream entry is the record itself, field for field, rather than the
// notification JSON: a script cannot call tasks.NewNotification, and
// building the notification from the record read in the same atomic step is
// what keeps its counts exact while pages are being saved. Notifications
// makes the JSON when it reads the entry.
//
// When the job belongs to a batch, the batch's counters move in the same
// step, and the job that ends the batch marks it completed and appends the
// batch.completed entry: exactly one job does, however many workers finish
// jobs of the batch at the same moment. The batch key is built in the
// script from the record's batch_id (like the stream, a key of another
// cluster slot; see the package documentation).
//
// KEYS: record, results, idx, done, failed, secret, notifications stream,
// events.
// ARGV: final status, finished_at, error code, error message, retention in
// ms, stream max length, status queued, status processing, key prefix.
var finishScript = redis.NewScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
if status ~= ARGV[7] and status ~= ARGV[8] then return redis.call('HGETALL', KEYS[1]) end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'finished_at', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'error_code', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'error_message', ARGV[4]) end
redis.call('DEL', KEYS[6])
local record = redis.call('HGETALL', KEYS[1])
redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[6], '*', unpack(record))
local done = tonumber(redis.call('HGET', KEYS[1], 'pages_done') or 0)
local failed = tonumber(redis.call('HGET', KEYS[1], 'pages_failed') or 0)
redis.call('XADD', KEYS[8], '*', 'type', 'state', 'data', cjson.encode({status = ARGV[1], final = true,
  pages_total = tonumber(redis.call('HGET', KEYS[1], 'pages_total') or 0), pages_done = done, pages_failed = failed,
  error_code = ARGV[3]}))
for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], ARGV[5]) end
redis.call('PEXPIRE', KEYS[8], ARGV[5])
local batch = redis.call('HGET', KEYS[1], 'batch_id')
if batch then
  local bk = ARGV[9] .. ':batch:{' .. batch .. '}'
  if redis.call('EXISTS', bk) == 1 then
    redis.call('HINCRBY', bk, 'n_' .. ARGV[1], 1)
    local ended = redis.call('HINCRBY', bk, 'ended', 1)
    local total = tonumber(redis.call('HGET', bk, 'total'))
    redis.call('XADD', bk .. ':events', '*', 'type', 'job', 'data', cjson.encode({job_id = redis.call('HGET', KEYS[1], 'id'),
      status = ARGV[1], ended = ended, total = total}))
    if ended >= total and redis.call('HGET', bk, 'status') == 'processing' then
      redis.call('HSET', bk, 'status', 'completed', 'finished_at', ARGV[2])
      redis.call('XADD', bk .. ':events', '*', 'type', 'state', 'data', cjson.encode({status = 'completed', final = true, ended = ended, total = total}))
      redis.call('PEXPIRE', bk .. ':events', ARGV[5])
      redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[6], '*', 'event', 'batch.completed', unpack(redis.call('HGETALL', bk)))
      redis.call('PEXPIRE', bk, ARGV[5])
      redis.call('PEXPIRE', bk .. ':jobs', ARGV[5])
      table.insert(record, '_batch_completed')
      table.insert(record, '1')
    end
  end
end
return record
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
	k := s.keys(id)
	reply, err := finishScript.Run(ctx, s.client,
		[]string{k.record, k.results, k.idx, k.done, k.failed, k.secret, s.notifications, k.events},
		string(status), formatTime(time.Now()), string(code), msg,
		s.cfg.Retention.Milliseconds(), s.cfg.NotificationsMaxLen,
		string(tasks.StatusQueued), string(tasks.StatusProcessing), s.cfg.Prefix).Result()
	if err != nil {
		return nil, scriptErr(err, "finish", id)
	}
	h, err := pairsToMap(reply)
	if err != nil {
		return nil, err
	}
	j, err := decodeJob(h)
	if err != nil {
		return nil, err
	}
	j.CompletedBatch = h["_batch_completed"] == "1"
	return j, nil
}
