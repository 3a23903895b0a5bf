package store

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/tasks"
)

// throttleScript counts a page's wait for the model rate limiter on an
// active job and appends a "page" event with status "throttled", so that a
// client following the job sees the page waiting rather than stuck.
//
// KEYS: record, events.
// ARGV: page index, wait in ms, status queued, status processing.
var throttleScript = redis.NewScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= ARGV[3] and status ~= ARGV[4] then return 0 end
local n = redis.call('HINCRBYFLOAT', KEYS[1], 'usage_pages_throttled', 1)
redis.call('XADD', KEYS[2], '*', 'type', 'page', 'data', cjson.encode({index = tonumber(ARGV[1]),
  status = 'throttled', wait_ms = tonumber(ARGV[2]), pages_throttled = tonumber(n)}))
return 1
`)

// ThrottlePage records that page index of job id waits wait for the rate
// limiter: it counts one throttled page in the job's usage and appends a
// "page" event with status "throttled". A job that is not active is left
// alone.
func (s *Redis) ThrottlePage(ctx context.Context, id string, index int, wait time.Duration) error {
	k := s.keys(id)
	err := throttleScript.Run(ctx, s.client, []string{k.record, k.events},
		index, wait.Milliseconds(), string(tasks.StatusQueued), string(tasks.StatusProcessing)).Err()
	if err == redis.Nil {
		return nil
	}
	return scriptErr(err, "throttle page of", id)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
