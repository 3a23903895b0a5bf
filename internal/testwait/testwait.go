// Package testwait waits in tests for something to happen, by polling a
// condition, in place of a sleep that guesses how long it takes.
package testwait

import (
	"context"
	"testing"
	"time"
)

// Polling starts at minInterval and doubles up to maxInterval, so that a
// condition met at once is seen at once and a slow one (a Redis round trip,
// a sweep) is not asked thousands of times.
const (
	minInterval = time.Millisecond
	maxInterval = 50 * time.Millisecond
)

// Until polls cond until it holds, timeout passes or ctx ends, and reports
// whether it held. cond runs in the caller's goroutine, so it may call
// t.Fatal. Use it where failing the test is not the caller's business: in
// a fake analyzer, or a helper that returns what it saw.
func Until(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wait := minInterval
	for !cond() {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return cond()
		case <-t.C:
		}
		wait = min(2*wait, maxInterval)
	}
	return true
}

// For fails t unless cond holds within timeout: "timed out after 10s
// waiting for what".
func For(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Until(context.Background(), timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}
