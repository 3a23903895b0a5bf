package provider_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/provider"
	"github.com/mmq/mmq/tasks"
)

// Two worker processes — two Redis connections, two limiters — each with
// eight pages in flight share one 1200 RPM limit: together they hold the
// rate within 10%, in every one-second window too, and pages that wait are
// reported as throttled.
func TestLimiterSharedByTwoWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 4 seconds")
	}
	redistest.New(t, redistest.DBProvider)
	const rpm, run = 1200, 4 * time.Second
	var throttled atomic.Int64
	newLimiter := func() *provider.Limiter {
		c := redis.NewClient(redistest.Options(t, redistest.DBProvider))
		t.Cleanup(func() { _ = c.Close() })
		l, err := provider.NewLimiter(c, provider.LimiterConfig{Prefix: "test:" + t.Name() + ":", RequestsPerMinute: rpm,
			OnThrottle: func(context.Context, tasks.Unit, time.Duration) { throttled.Add(1) }})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	var mu sync.Mutex
	var grants []time.Time
	var wg sync.WaitGroup
	for range 2 {
		l := newLimiter()
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if _, err := l.Wait(ctx, tasks.Unit{}, "anthropic", "m", 0); err != nil {
						return
					}
					mu.Lock()
					grants = append(grants, time.Now())
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	slices.SortFunc(grants, func(a, b time.Time) int { return a.Compare(b) })
	span := grants[len(grants)-1].Sub(grants[0])
	got := float64(len(grants)-1) / span.Minutes()
	t.Logf("%d grants in %v: %.0f RPM (limit %d); %d throttled waits", len(grants), span, got, rpm, throttled.Load())
	if got < rpm*0.9 || got > rpm*1.1 {
		t.Errorf("rate %.0f RPM, want within 10%% of %d", got, rpm)
	}
	// No one-second window holds more than 10% over the rate (+1 for the
	// window's edges): slots are exact, but a sleeper that wakes late may
	// send close to the next one.
	perSec := rpm / 60
	for i := range grants {
		j := i
		for j < len(grants) && grants[j].Sub(grants[i]) < time.Second {
			j++
		}
		if n := j - i; float64(n) > float64(perSec)*1.1+1 {
			t.Fatalf("%d grants in the second from %v, limit %d", n, grants[i].Sub(grants[0]), perSec)
		}
	}
	if throttled.Load() == 0 {
		t.Error("no wait was reported as throttled")
	}
}

// The token limit holds a burst of large calls back.
func TestLimiterTokens(t *testing.T) {
	rdb := redistest.New(t, redistest.DBProvider)
	l, err := provider.NewLimiter(rdb, provider.LimiterConfig{Prefix: "test:" + t.Name() + ":", TokensPerMinute: 60000})
	if err != nil {
		t.Fatal(err)
	}
	// 1,000 tokens a second with a burst of 10 s (10,000): the first call
	// passes, the second waits until 11,000 tokens fit the burst, 1 s.
	ctx := ctxT(t)
	if w, err := l.Wait(ctx, tasks.Unit{}, "openai", "m", 6000); err != nil || w > 100*time.Millisecond {
		t.Fatalf("first call waited %v, %v", w, err)
	}
	start := time.Now()
	if _, err := l.Wait(ctx, tasks.Unit{}, "openai", "m", 5000); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 800*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("second call waited %v, want about 1 s", d)
	}
}
