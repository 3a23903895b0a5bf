package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/tasks"
)

// idempotencyTTL is how long an Idempotency-Key is remembered.
const idempotencyTTL = 24 * time.Hour

func (s *Redis) idempotencyKey(scope, key string) string {
	return s.cfg.Prefix + ":idem:" + scope + ":" + key
}

// ClaimIdempotencyKey records that the request with the given fingerprint
// creates resource id under key, for 24 hours, and returns "". When the key
// is already claimed by the same request it returns the id that request
// created, to be replayed; by a different request, a CodeConflict error.
// scope separates keys of different endpoints ("job", "batch").
func (s *Redis) ClaimIdempotencyKey(ctx context.Context, scope, key, fingerprint, id string) (string, error) {
	k := s.idempotencyKey(scope, key)
	ok, err := s.client.SetNX(ctx, k, fingerprint+" "+id, idempotencyTTL).Result()
	if err != nil {
		return "", fmt.Errorf("store: claim idempotency key: %w", err)
	}
	if ok {
		return "", nil
	}
	v, err := s.client.Get(ctx, k).Result()
	if errors.Is(err, redis.Nil) {
		// Expired between the two calls: claim again.
		return s.ClaimIdempotencyKey(ctx, scope, key, fingerprint, id)
	}
	if err != nil {
		return "", fmt.Errorf("store: read idempotency key: %w", err)
	}
	fp, owner, _ := strings.Cut(v, " ")
	if fp != fingerprint {
		return "", tasks.Errorf(tasks.CodeConflict, "Idempotency-Key %q was used with a different request", key)
	}
	return owner, nil
}

// ReleaseIdempotencyKey forgets key, so that a request that failed after
// claiming it can be sent again.
func (s *Redis) ReleaseIdempotencyKey(ctx context.Context, scope, key string) error {
	return s.client.Del(ctx, s.idempotencyKey(scope, key)).Err()
}
