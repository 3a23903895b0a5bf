package store

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/tasks"
)

// usageFields are the record fields of a job's usage, in the order
// batchUsage reads them.
var usageFields = []string{
	fieldUsageInputTokens, fieldUsageOutputTokens, fieldUsageCostUSD,
	fieldUsageCacheHits, fieldUsageCacheMisses, fieldUsagePagesThrottled,
}

// usageChunk is how many jobs one pipeline of batchUsage reads.
const usageChunk = 1000

// batchUsage sums the usage of the jobs listed in jobsKey: the batch's
// tokens and cost so far. It is read when asked for (GET of the batch, its
// webhook) rather than counted on every page, which keeps the page's
// script to the job's own keys; a batch of 10,000 jobs takes about a dozen
// round trips. Jobs whose records expired count nothing.
func (s *Redis) batchUsage(ctx context.Context, jobsKey string) (tasks.Usage, error) {
	var total tasks.Usage
	ids, err := s.client.LRange(ctx, jobsKey, 0, -1).Result()
	if err != nil {
		return total, fmt.Errorf("store: list batch jobs: %w", err)
	}
	for start := 0; start < len(ids); start += usageChunk {
		pipe := s.client.Pipeline()
		cmds := make([]*redis.SliceCmd, 0, usageChunk)
		for _, id := range ids[start:min(start+usageChunk, len(ids))] {
			cmds = append(cmds, pipe.HMGet(ctx, s.keys(id).record, usageFields...))
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return total, fmt.Errorf("store: read batch usage: %w", err)
		}
		for _, c := range cmds {
			h := make(map[string]string, len(usageFields))
			for i, v := range c.Val() {
				if s, ok := v.(string); ok {
					h[usageFields[i]] = s
				}
			}
			r := fieldReader{h: h}
			u := r.usage()
			if r.err != nil {
				return total, fmt.Errorf("store: read batch usage: %w", r.err)
			}
			total.InputTokens += u.InputTokens
			total.OutputTokens += u.OutputTokens
			total.CostUSD += u.CostUSD
			total.CacheHits += u.CacheHits
			total.CacheMisses += u.CacheMisses
			total.PagesThrottled += u.PagesThrottled
		}
	}
	return total, nil
}
