package tasks

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
)

// Backoff is exponential backoff with full jitter: the n-th retry (n from 0)
// waits a uniformly random duration in [0, min(Cap, Base·2^n)].
//
// Full jitter spreads retries of many workers that failed together (a
// provider outage, a Redis failover) so they do not come back in lockstep.
type Backoff struct {
	// Base is the ceiling of the first retry's delay. Defaults to
	// DefaultBackoffBase, 60 s.
	Base time.Duration
	// Cap bounds every delay. Defaults to DefaultBackoffCap, 1 h.
	Cap time.Duration
	// Rand returns a float in [0, 1). Defaults to math/rand/v2.Float64; tests
	// set it to make delays deterministic.
	Rand func() float64
}

// Defaults of Backoff: those of asynq's retries of a whole task.
const (
	DefaultBackoffBase = 60 * time.Second
	DefaultBackoffCap  = time.Hour
)

// Ceiling returns the upper bound of the n-th retry's delay, before jitter.
func (b Backoff) Ceiling(n int) time.Duration {
	base, ceil := b.Base, b.Cap
	if base <= 0 {
		base = DefaultBackoffBase
	}
	if ceil <= 0 {
		ceil = DefaultBackoffCap
	}
	if n < 0 {
		n = 0
	}
	d := base
	for i := 0; i < n; i++ {
		if d >= ceil/2 {
			return ceil
		}
		d *= 2
	}
	return min(d, ceil)
}

// Delay returns the jittered delay before the n-th retry (n from 0).
func (b Backoff) Delay(n int) time.Duration {
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	return time.Duration(r() * float64(b.Ceiling(n)+1))
}

// RetryDelayFunc adapts b to asynq.Config.RetryDelayFunc. asynq passes the
// number of retries done so far, which is the n of Delay.
func (b Backoff) RetryDelayFunc() asynq.RetryDelayFunc {
	return func(n int, _ error, _ *asynq.Task) time.Duration { return b.Delay(n) }
}

// Retry calls fn until it succeeds, returns a permanent error, has been called
// attempts times, or ctx is done. It waits b.Delay(n) between calls and
// returns the number of calls made with fn's last error. onRetry, if not nil,
// is called before each wait.
func (b Backoff) Retry(ctx context.Context, attempts int, fn func(ctx context.Context) error, onRetry func(n int, err error, wait time.Duration)) (int, error) {
	attempts = max(attempts, 1)
	var err error
	for n := 0; n < attempts; n++ {
		if err = fn(ctx); err == nil || IsPermanent(err) {
			return n + 1, err
		}
		if ctx.Err() != nil {
			return n + 1, err
		}
		if n == attempts-1 {
			break
		}
		wait := b.Delay(n)
		if onRetry != nil {
			onRetry(n, err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return n + 1, err
		case <-t.C:
		}
	}
	return attempts, err
}
