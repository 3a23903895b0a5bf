package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mmq/mmq/tasks"
	"github.com/redis/go-redis/v9"
)

// resultsScript reads a page of results in index order; a missing record
// gives a nil reply.
//
// KEYS: record, results, idx.
// ARGV: index to start after, most results to read.
var resultsScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. ARGV[1], '+inf', 'LIMIT', 0, ARGV[2])
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))
`)

// Results returns the job's page results with Index > after, in ascending
// index order, at most limit of them (defaults to 100, at most 1000), and
// whether more follow. Indexes start at 0 for video frames, so after = -1
// reads from the start.
func (s *Redis) Results(ctx context.Context, id string, after, limit int) (rs []tasks.PageResult, more bool, err error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	k := s.keys(id)
	// One result more than asked tells whether more follow.
	reply, err := resultsScript.Run(ctx, s.client, []string{k.record, k.results, k.idx}, after, limit+1).Slice()
	if err != nil {
		return nil, false, scriptErr(err, "read results of", id)
	}
	if len(reply) > limit {
		reply, more = reply[:limit], true
	}
	rs = make([]tasks.PageResult, 0, len(reply))
	for _, v := range reply {
		b, ok := v.(string)
		if !ok {
			return nil, false, fmt.Errorf("store: job %s: result missing for an indexed page", id)
		}
		var r tasks.PageResult
		if err := json.Unmarshal([]byte(b), &r); err != nil {
			return nil, false, fmt.Errorf("store: job %s: corrupt page result: %w", id, err)
		}
		rs = append(rs, r)
	}
	return rs, more, nil
}
