// Package redistest gives tests a real Redis on a DB index of their own.
//
// The address comes from MMQ_TEST_REDIS_ADDR, else MMQ_REDIS_ADDR, else
// 127.0.0.1:6379 (`make test` starts a redis-server there when none answers).
// Only when no Redis answers does it fall back to an embedded miniredis, and
// it says so loudly; with CI set that fallback is a test failure instead.
// DB 0, where a user may keep data, is never used.
package redistest

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// DB indexes, one per package whose tests use Redis, so that packages tested
// in parallel by `go test ./...` do not flush each other's data.
const (
	DBStore    = 1
	DBWorker   = 2
	DBAPI      = 3
	DBCmd      = 4
	DBAnalyzer = 5
	DBBench    = 6
	DBMedia    = 7
	DBTasks    = 8
	// DBThroughput is the worker's throughput benchmark's alone: it flushes
	// it and measures its memory while other packages' benchmarks, run in
	// parallel by `make bench`, flush DBBench.
	DBThroughput = 9
	// DBProvider is the provider package's: its cache and rate limiter.
	DBProvider = 10
	// DBAutopipe is internal/autopipe's.
	DBAutopipe = 11
	// DBHostile is internal/hostile's: the mmq processes it starts write
	// there, and its Redis-bytes test sums the memory of the db's keys.
	DBHostile = 12
	// DBStats is the API's stats benchmark's alone: its 100,000 jobs take
	// a minute to store and are kept between runs.
	DBStats = 13
)

var (
	once     sync.Once
	addr     string
	embedded *miniredis.Miniredis
	probeErr error
)

// Addr returns the address of the Redis tests use, starting the embedded
// fallback if no real Redis answers.
func Addr(tb testing.TB) string {
	tb.Helper()
	once.Do(func() {
		addr = cmp.Or(os.Getenv("MMQ_TEST_REDIS_ADDR"), os.Getenv("MMQ_REDIS_ADDR"), "127.0.0.1:6379")
		c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		probeErr = c.Ping(ctx).Err()
		_ = c.Close()
		if probeErr == nil {
			return
		}
		if os.Getenv("CI") != "" {
			return
		}
		embedded, probeErr = miniredis.Run()
		if probeErr == nil {
			fmt.Fprintf(os.Stderr, "\n!!! redistest: no Redis answers at %s; using an EMBEDDED miniredis instead.\n"+
				"!!! Results are not proof against a real Redis. Run `make test` or set MMQ_TEST_REDIS_ADDR.\n\n", addr)
			addr = embedded.Addr()
		}
	})
	if probeErr != nil {
		tb.Fatalf("redistest: no Redis at %s (CI is set, so no embedded fallback): %v", addr, probeErr)
	}
	return addr
}

// Embedded reports whether tests run against the embedded miniredis.
func Embedded() bool { return embedded != nil }

// Options returns client options for db, which must not be 0.
func Options(tb testing.TB, db int) *redis.Options {
	tb.Helper()
	if db <= 0 || db > 15 {
		tb.Fatalf("redistest: db %d out of range 1..15", db)
	}
	return &redis.Options{Addr: Addr(tb), DB: db}
}

// New returns a client on db, flushed now and closed when the test ends.
// Tests that share a db must not run in parallel with each other.
func New(tb testing.TB, db int) *redis.Client {
	tb.Helper()
	c := redis.NewClient(Options(tb, db))
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		tb.Fatalf("redistest: flush db %d: %v", db, err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
