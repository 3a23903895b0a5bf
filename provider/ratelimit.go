package provider

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/tasks"
)

// LimiterConfig configures a Limiter. Rates apply to each provider and
// model pair separately.
type LimiterConfig struct {
	// Prefix starts every limiter key. Defaults to "mmq:rate:".
	Prefix string
	// RequestsPerMinute and TokensPerMinute are the limits; 0 means none.
	RequestsPerMinute int
	TokensPerMinute   int
	// Burst is how many requests may go at once after a quiet spell.
	// Defaults to 1: requests are spaced evenly, 60/RequestsPerMinute
	// seconds apart. Tokens always have a burst of 10 seconds' worth.
	Burst int
	// OnThrottle, if set, is called when a unit has to wait for the
	// limiter, with the wait; cmd/mmq records it on the job.
	OnThrottle func(ctx context.Context, u tasks.Unit, wait time.Duration)
}

// Limiter spaces the model calls of every worker process sharing one
// Redis: GCRA (generic cell rate algorithm) on requests per minute and on
// tokens per minute, per provider and model.
//
// A call reserves its slot when it asks and then sleeps until the slot
// comes: the reservation is one Redis script call, and the slots that
// follow are spaced from the reserved time, not from when the sleeper
// happens to wake. (A check-then-sleep limiter such as redis_rate's Allow
// loses the slot of every waiter that wakes late: on a busy two-core host
// that cost 15% of the rate. A reservation cannot lose it.) A caller whose
// context ends while it waits gives its slot up unused, which errs on the
// safe side.
//
// A call's token charge is its estimate (prompts, page text, images and
// the expected answer), taken before the call: the provider's usage is
// only known after.
type Limiter struct {
	rdb redis.UniversalClient
	cfg LimiterConfig
}

// Defaults of LimiterConfig.
const (
	DefaultLimiterPrefix = "mmq:rate:"
	DefaultBurst         = 1
)

func (c *LimiterConfig) setDefaults() {
	if c.Prefix == "" {
		c.Prefix = DefaultLimiterPrefix
	}
	if c.Burst == 0 {
		c.Burst = DefaultBurst
	}
}

// Validate reports a LimiterConfig that cannot work.
func (c *LimiterConfig) Validate() error {
	if c.RequestsPerMinute < 0 || c.TokensPerMinute < 0 || c.Burst < 0 {
		return errors.New("provider: rate limits must not be negative")
	}
	return nil
}

// NewLimiter returns a limiter in the Redis behind rdb.
func NewLimiter(rdb redis.UniversalClient, cfg LimiterConfig) (*Limiter, error) {
	if rdb == nil {
		return nil, errors.New("provider: limiter needs a Redis client")
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Limiter{rdb: rdb, cfg: cfg}, nil
}

// reserveScript reserves cost cells of a GCRA limit and returns, in
// milliseconds, how long the caller must wait before using them. The
// theoretical arrival time (TAT) is kept in milliseconds on Redis's clock,
// so every process agrees on it.
//
// KEYS: the limit's key.
// ARGV: emission interval of one cell in ms, cost in cells, burst in cells.
var reserveScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval * tonumber(ARGV[2])
local wait = new_tat - tonumber(ARGV[3]) * interval - now
if wait < 0 then wait = 0 end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return string.format('%.3f', wait)
`)

// Wait blocks until a call to provider's model with an estimated tokens
// may go, and returns how long it waited. Its error is ctx's, or a
// transient CodeUnavailable when Redis fails.
func (l *Limiter) Wait(ctx context.Context, u tasks.Unit, provider, model string, tokens int) (time.Duration, error) {
	key := l.cfg.Prefix + provider + ":" + model
	var wait time.Duration
	if n := l.cfg.RequestsPerMinute; n > 0 {
		w, err := l.reserve(ctx, key+":rpm", n, 1, l.cfg.Burst)
		if err != nil {
			return 0, err
		}
		wait = w
	}
	if n := l.cfg.TokensPerMinute; n > 0 && tokens > 0 {
		w, err := l.reserve(ctx, key+":tpm", n, tokens, max(n/6, 1))
		if err != nil {
			return 0, err
		}
		wait = max(wait, w)
	}
	if wait <= 0 {
		return 0, nil
	}
	if l.cfg.OnThrottle != nil {
		l.cfg.OnThrottle(ctx, u, wait)
	}
	start := time.Now()
	err := sleep(ctx, wait)
	return time.Since(start), err
}

// reserve takes cost cells of a limit of rate cells per minute with burst.
func (l *Limiter) reserve(ctx context.Context, key string, rate, cost, burst int) (time.Duration, error) {
	interval := 60000.0 / float64(rate)
	res, err := reserveScript.Run(ctx, l.rdb, []string{key},
		strconv.FormatFloat(interval, 'f', -1, 64), cost, burst).Text()
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, tasks.WrapError(tasks.CodeUnavailable, err, "the rate limiter's Redis does not answer")
	}
	ms, err := strconv.ParseFloat(res, 64)
	if err != nil {
		return 0, fmt.Errorf("provider: rate limiter reply %q: %w", res, err)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}
