package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// backfillChunk is how many jobs one backfill script call indexes: small
// enough that the script holds Redis for a millisecond or so.
const backfillChunk = 500

// backfillScript puts the jobs ARGV[2..] into the index of the status their
// record holds, with the score of the jobs index. It reads and writes in
// one atomic step, so a job that changes state while the backfill runs
// cannot be left in the index of its old state. KEYS: none (the keys are
// built from the prefix, ARGV[1], like those of statusLua).
var backfillScript = redis.NewScript(`
local prefix = ARGV[1]
local added = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local st = redis.call('HGET', prefix .. ':job:{' .. id .. '}', 'status')
  local score = redis.call('ZSCORE', prefix .. ':jobs', id)
  if st and score then
    added = added + redis.call('ZADD', prefix .. ':jobs:' .. st, score, id)
  end
end
return added
`)

// blobRefsBackfillScript gives the jobs ARGV[3..] that name an input
// (blob_key) and hold no reference to it the reference a job of this
// release would hold: +inf while its record has no TTL (it lives), the end
// of its record's TTL once it has one (it ended), and schedules the blob's
// check at that time (blob_ref). A job without a record (expired, or
// deleted) is skipped. Read and written in one atomic step, so a job that
// ends or is deleted meanwhile cannot be given a stale reference.
// KEYS: none (built from the prefix, ARGV[1]). ARGV[2]: now (unix ms).
var blobRefsBackfillScript = redis.NewScript(blobLua + `
local prefix, now = ARGV[1], tonumber(ARGV[2])
local added = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local record = prefix .. ':job:{' .. id .. '}'
  local blob = redis.call('HGET', record, 'blob_key')
  if blob and not redis.call('ZSCORE', (blob_keys(prefix, blob)), id) then
    local ttl = redis.call('PTTL', record)
    local score = '+inf'
    if ttl >= 0 then score = now + ttl end
    blob_ref(prefix, blob, id, score, false)
    added = added + 1
  end
end
return added
`)

// BackfillStatusIndexes puts every job stored before the status indexes
// existed into the index of its state, so that ListJobs by status and the
// counts of Stats see them. It is safe to run from many processes at once
// and does its work once per deployment: when it has gone through the jobs
// index, a marker key says so and later calls return at once. It returns
// how many index entries it added.
func (s *Redis) BackfillStatusIndexes(ctx context.Context) (int, error) {
	n, err := s.backfill(ctx, s.jobs+":indexed", backfillScript)
	if err != nil {
		return n, fmt.Errorf("store: backfill status indexes: %w", err)
	}
	return n, nil
}

// BackfillBlobRefs gives every job stored before blob references existed
// the reference to its input that a job of this release holds, so that
// its input is deleted with it (by DeleteJob, or by SweepBlobs after the
// retention) and kept while it lives. Like BackfillStatusIndexes it is safe
// from many processes at once and runs once per deployment (a marker key).
// It returns how many references it added. Inputs of jobs whose records
// had already expired before it ran are not known to the store and stay
// where they are.
func (s *Redis) BackfillBlobRefs(ctx context.Context) (int, error) {
	n, err := s.backfill(ctx, s.jobs+":blobrefs", blobRefsBackfillScript, func() any { return time.Now().UnixMilli() })
	if err != nil {
		return n, fmt.Errorf("store: backfill blob references: %w", err)
	}
	return n, nil
}

// backfill runs script over the jobs index in chunks of backfillChunk ids,
// with ARGV the key prefix, then the values of args (evaluated per chunk),
// then the ids, and adds up its replies; once through, it sets marker, and
// a later call whose marker exists returns at once.
func (s *Redis) backfill(ctx context.Context, marker string, script *redis.Script, args ...func() any) (int, error) {
	if n, err := s.client.Exists(ctx, marker).Result(); err != nil || n > 0 {
		return 0, err
	}
	added := 0
	for start := int64(0); ; start += backfillChunk {
		ids, err := s.client.ZRange(ctx, s.jobs, start, start+backfillChunk-1).Result()
		if err != nil {
			return added, err
		}
		if len(ids) == 0 {
			break
		}
		argv := make([]any, 0, len(ids)+1+len(args))
		argv = append(argv, s.cfg.Prefix)
		for _, a := range args {
			argv = append(argv, a())
		}
		for _, id := range ids {
			argv = append(argv, id)
		}
		n, err := script.Run(ctx, s.client, nil, argv...).Int()
		if err != nil {
			return added, err
		}
		added += n
		if len(ids) < backfillChunk {
			break
		}
	}
	return added, s.client.Set(ctx, marker, "1", 0).Err()
}
