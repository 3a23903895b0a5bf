package store

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// KeyLimiter holds each API key to a request rate across every API process:
// the state of each key's limit (GCRA, from github.com/go-redis/redis_rate)
// lives in Redis, so N replicas allow what one does.
type KeyLimiter struct {
	limiter *redis_rate.Limiter
	limit   redis_rate.Limit
	prefix  string
}

// NewKeyLimiter returns a limiter of perSecond requests a second per key,
// sustained, and burst at once, with its keys under prefix.
func NewKeyLimiter(client redis.UniversalClient, prefix string, perSecond float64, burst int) *KeyLimiter {
	return &KeyLimiter{
		limiter: redis_rate.NewLimiter(client),
		// One request per emission interval: the rate needs no rounding.
		limit:  redis_rate.Limit{Rate: 1, Period: time.Duration(math.Round(float64(time.Second) / perSecond)), Burst: max(burst, 1)},
		prefix: prefix + ":ratelimit:",
	}
}

// Allow takes one request of key from its budget; it returns 0 when the
// request may go ahead, else how long until it could.
func (k *KeyLimiter) Allow(ctx context.Context, key string) (time.Duration, error) {
	res, err := k.limiter.Allow(ctx, k.prefix+key, k.limit)
	if err != nil {
		return 0, fmt.Errorf("store: rate limit: %w", err)
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	return max(res.RetryAfter, time.Millisecond), nil
}
