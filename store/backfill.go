package store

import (
	"context"
	"fmt"

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

// BackfillStatusIndexes puts every job stored before the status indexes
// existed into the index of its state, so that ListJobs by status and the
// counts of Stats see them. It is safe to run from many processes at once
// and does its work once per deployment: when it has gone through the jobs
// index, a marker key says so and later calls return at once. It returns
// how many index entries it added.
func (s *Redis) BackfillStatusIndexes(ctx context.Context) (int, error) {
	marker := s.jobs + ":indexed"
	if n, err := s.client.Exists(ctx, marker).Result(); err != nil {
		return 0, fmt.Errorf("store: backfill status indexes: %w", err)
	} else if n > 0 {
		return 0, nil
	}
	added := 0
	for start := int64(0); ; start += backfillChunk {
		ids, err := s.client.ZRange(ctx, s.jobs, start, start+backfillChunk-1).Result()
		if err != nil {
			return added, fmt.Errorf("store: backfill status indexes: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		args := make([]any, 0, len(ids)+1)
		args = append(args, s.cfg.Prefix)
		for _, id := range ids {
			args = append(args, id)
		}
		n, err := backfillScript.Run(ctx, s.client, nil, args...).Int()
		if err != nil {
			return added, fmt.Errorf("store: backfill status indexes: %w", err)
		}
		added += n
		if len(ids) < backfillChunk {
			break
		}
	}
	if err := s.client.Set(ctx, marker, "1", 0).Err(); err != nil {
		return added, fmt.Errorf("store: backfill status indexes: %w", err)
	}
	return added, nil
}
