package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/tasks"
)

// deleteLua defines delete_job(K, A), which removes every key of an ended
// job, its entries in the jobs indexes (global, by status, its tenant's)
// and its reference to its input, in one step. Unless A[6] is "1" (the
// batch goes too), the job also leaves its batch: its list and its counts.
// It returns false for a missing record, an MMQACTIVE error for a job that
// has not ended, else the input's key when the job was the blob's last
// user and the step claimed it (see blob_claim), or "".
//
// The job's entries in the notification streams stay: they are the
// record of an end that happened, and go as the streams are trimmed
// (Config.NotificationsMaxAge). So do the stats counters, which are not
// per job.
//
// K: record, results, idx, done, failed, secret, events, deliveries,
// events scratch key.
// A: key prefix, job id, now (unix ms), lock TTL (ms), lock token, "1" to
// leave the batch alone, status queued, status processing.
var deleteLua = statusLua + blobLua + `
local function delete_job(K, A)
local status = redis.call('HGET', K[1], 'status')
if not status then return false end
if status == A[7] or status == A[8] then return redis.error_reply('MMQACTIVE job is ' .. status) end
local prefix, id = A[1], A[2]
local tenant = redis.call('HGET', K[1], 'tenant')
local batch = redis.call('HGET', K[1], 'batch_id')
local blob = redis.call('HGET', K[1], 'blob_key')
redis.call('ZREM', prefix .. ':jobs', id)
unindex(prefix, id, tenant)
redis.call('DEL', unpack(K))
if batch and A[6] ~= '1' then
  local bk = prefix .. ':batch:{' .. batch .. '}'
  if redis.call('LREM', bk .. ':jobs', 0, id) > 0 and redis.call('EXISTS', bk) == 1 then
    redis.call('HINCRBY', bk, 'total', -1)
    redis.call('HINCRBY', bk, 'ended', -1)
    redis.call('HINCRBY', bk, 'n_' .. status, -1)
  end
end
if not blob then return '' end
local refs = blob_keys(prefix, blob)
if redis.call('ZREM', refs, id) == 0 then return '' end
if blob_claim(prefix, blob, tonumber(A[3]), tonumber(A[4]), A[5]) then return blob end
return ''
end
`

// deleteScript runs delete_job. KEYS and ARGV: those of delete_job.
var deleteScript = redis.NewScript(deleteLua + `
return delete_job(KEYS, ARGV)
`)

// ErrActive is wrapped by the error of DeleteJob for a job that has not
// ended (a *tasks.Error with CodeConflict): cancel it first.
var ErrActive = errors.New("store: job is active")

// deleteKeys returns the KEYS of delete_job for job id.
func (s *Redis) deleteKeys(id string) []string {
	k := s.keys(id)
	return []string{k.record, k.results, k.idx, k.done, k.failed, k.secret, k.events, k.record + ":deliveries", k.eventsScratch}
}

// deleteArgs returns the ARGV of delete_job.
func (s *Redis) deleteArgs(id, token string, inBatch bool) []any {
	return []any{s.cfg.Prefix, id, time.Now().UnixMilli(), blobLockTTL.Milliseconds(), token, boolInt(inBatch),
		string(tasks.StatusQueued), string(tasks.StatusProcessing)}
}

// DeleteJob removes job id, which has ended, at once: its record, results,
// events, deliveries and password, its entries in every jobs index, its
// place and counts in its batch, and its reference to its input, whose
// blob it deletes (Config.Blobs) when no other job uses it. Its entries in
// the notification streams stay until the streams are trimmed. An unknown
// job is a not-found error; a queued or processing job is a CodeConflict
// error wrapping ErrActive: cancel it first (FinishJob), so that no worker
// writes to it while it goes. The writes of a worker still running it
// afterwards find no record and are refused.
//
// A failure to delete the blob does not fail the call: the job is gone,
// and the blob waits in the index for SweepBlobs to try again.
func (s *Redis) DeleteJob(ctx context.Context, id string) error {
	token := newToken()
	blob, err := deleteScript.Run(ctx, s.client, s.deleteKeys(id), s.deleteArgs(id, token, false)...).Text()
	if err != nil {
		return deleteErr(err, id)
	}
	if blob != "" {
		_ = s.removeBlob(ctx, blob, token)
	}
	return nil
}

func deleteErr(err error, id string) error {
	if err != nil && strings.HasPrefix(err.Error(), "MMQACTIVE") {
		return &tasks.Error{Code: tasks.CodeConflict, Message: fmt.Sprintf("job %s has not ended; cancel it first", id), Err: ErrActive}
	}
	return scriptErr(err, "delete", id)
}

// deleteChunk is how many jobs one pipeline of DeleteBatch deletes.
const deleteChunk = 500

// DeleteBatch removes batch id and every job of it, like DeleteJob, with
// pipelines of 500 jobs, then the batch's record, job list, events and
// deliveries. Every job of the batch must have ended (cancel the others
// first): a job that has not is a CodeConflict error wrapping ErrActive,
// and the batch stays, with the jobs not deleted yet. A job of the list
// already gone (deleted, or expired) is skipped.
func (s *Redis) DeleteBatch(ctx context.Context, id string) error {
	if _, err := s.batchRecord(ctx, id); err != nil {
		return err
	}
	record, list := s.batchKeys(id)
	if err := deleteScript.Load(ctx, s.client).Err(); err != nil {
		return fmt.Errorf("store: delete batch %s: %w", id, err)
	}
	token := newToken()
	for {
		// Deleted jobs leave the head of the list; a failure leaves the
		// rest for another call.
		ids, err := s.client.LRange(ctx, list, 0, deleteChunk-1).Result()
		if err != nil {
			return fmt.Errorf("store: delete batch %s: %w", id, err)
		}
		if len(ids) == 0 {
			break
		}
		pipe := s.client.Pipeline()
		cmds := make([]*redis.Cmd, len(ids))
		for i, jid := range ids {
			cmds[i] = deleteScript.EvalSha(ctx, pipe, s.deleteKeys(jid), s.deleteArgs(jid, token, true)...)
		}
		_, _ = pipe.Exec(ctx)
		var failed error
		for i, c := range cmds {
			blob, err := c.Text()
			switch {
			case errors.Is(err, redis.Nil):
			case err != nil:
				failed = cmp.Or(failed, fmt.Errorf("store: delete batch %s: %w", id, deleteErr(err, ids[i])))
			case blob != "":
				// Claimed: delete it, or release it, whatever else failed.
				_ = s.removeBlob(ctx, blob, token)
			}
		}
		if failed != nil {
			return failed
		}
		if err := s.client.LTrim(ctx, list, int64(len(ids)), -1).Err(); err != nil {
			return fmt.Errorf("store: delete batch %s: %w", id, err)
		}
	}
	if err := s.client.Del(ctx, record, list, record+":events", record+":deliveries").Err(); err != nil {
		return fmt.Errorf("store: delete batch %s: %w", id, err)
	}
	return nil
}
