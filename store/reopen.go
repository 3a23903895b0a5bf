package store

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/tasks"
)

// reopenScript puts an ended job with failures back to queued: the failed
// pages' results go, the done ones stay, and the keys lose their TTL. A job
// in any other state is returned unchanged with a false flag. A reopened
// job counts as active for its tenant's quota again (not checked: it was
// accepted once).
//
// The job's event stream starts again with a queued state event: the
// first run's final event would otherwise end every stream of the run to
// come. The record keeps what the first run did.
//
// KEYS: record, results, idx, done, failed, events.
// ARGV: status failed, status partially_succeeded, status queued, key
// prefix.
var reopenScript = redis.NewScript(statusLua + blobLua + `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
if status ~= ARGV[1] and status ~= ARGV[2] then return {0, redis.call('HGETALL', KEYS[1])} end
local failed = redis.call('SMEMBERS', KEYS[5])
for _, idx in ipairs(failed) do
  redis.call('HDEL', KEYS[2], idx)
  redis.call('ZREM', KEYS[3], idx)
end
redis.call('DEL', KEYS[5])
set_status(KEYS[1], ARGV[4], ARGV[3])
local tenant = redis.call('HGET', KEYS[1], 'tenant')
if tenant then redis.call('INCR', ARGV[4] .. ':tenant:' .. tenant .. ':active') end
redis.call('HSET', KEYS[1], 'pages_failed', 0)
-- The pages change: their combined answer (scope document) is made again.
redis.call('HDEL', KEYS[1], 'error_code', 'error_message', 'finished_at', 'answer')
for i = 1, 4 do redis.call('PERSIST', KEYS[i]) end
redis.call('DEL', KEYS[6])
redis.call('XADD', KEYS[6], '*', 'type', 'state', 'data', cjson.encode({status = ARGV[3],
  pages_total = tonumber(redis.call('HGET', KEYS[1], 'pages_total') or 0),
  pages_done = tonumber(redis.call('HGET', KEYS[1], 'pages_done') or 0)}))
local blob = redis.call('HGET', KEYS[1], 'blob_key')
if blob then blob_ref(ARGV[4], blob, redis.call('HGET', KEYS[1], 'id'), '+inf', true) end
return {1, redis.call('HGETALL', KEYS[1])}
`)

// ReopenJob puts a failed or partially succeeded job back to queued so its
// failed pages run again; its done pages are kept and will be skipped. A
// job in another state is a CodeConflict error.
func (s *Redis) ReopenJob(ctx context.Context, id string) (*tasks.Job, error) {
	k := s.keys(id)
	reply, err := reopenScript.Run(ctx, s.client, []string{k.record, k.results, k.idx, k.done, k.failed, k.events},
		string(tasks.StatusFailed), string(tasks.StatusPartiallySucceeded), string(tasks.StatusQueued), s.cfg.Prefix).Slice()
	if err != nil {
		return nil, scriptErr(err, "reopen", id)
	}
	h, err := pairsToMap(reply[1])
	if err != nil {
		return nil, err
	}
	j, err := s.decodeOne(ctx, h)
	if err != nil {
		return nil, err
	}
	if n, _ := reply[0].(int64); n != 1 {
		return j, tasks.Errorf(tasks.CodeConflict, "job %s is %s; only failed or partially_succeeded jobs can be retried", id, j.Status)
	}
	return j, nil
}
