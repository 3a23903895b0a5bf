package worker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/mmq/mmq/tasks"
)

func countingSource(n int, pulled *atomic.Int64) Source {
	return func(yield func(Item, error) bool) {
		for i := 1; i <= n; i++ {
			pulled.Add(1)
			if !yield(Item{Unit: tasks.Unit{Index: i}}, nil) {
				return
			}
		}
	}
}

// gauge tracks the highest number of concurrent holders.
type gauge struct {
	cur, peak atomic.Int64
}

func (g *gauge) enter() {
	c := g.cur.Add(1)
	for {
		p := g.peak.Load()
		if c <= p || g.peak.CompareAndSwap(p, c) {
			return
		}
	}
}

func (g *gauge) leave() { g.cur.Add(-1) }

func TestFanOutLimits(t *testing.T) {
	t.Parallel()
	process := semaphore.NewWeighted(5)
	var all gauge
	var wg sync.WaitGroup
	seen := make([][]bool, 3)
	for j := range 3 {
		seen[j] = make([]bool, 41)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var job gauge
			var pulled atomic.Int64
			var mu sync.Mutex
			err := fanOut(context.Background(), countingSource(40, &pulled), Limits{PerJob: 3, Process: process}, nil,
				func(_ context.Context, it Item) {
					job.enter()
					all.enter()
					time.Sleep(2 * time.Millisecond)
					all.leave()
					job.leave()
					mu.Lock()
					seen[j][it.Unit.Index] = true
					mu.Unlock()
				})
			if err != nil {
				t.Errorf("job %d: %v", j, err)
			}
			if p := job.peak.Load(); p > 3 || p < 2 {
				t.Errorf("job %d: peak concurrency %d, want 2..3 (per-job limit 3)", j, p)
			}
		}()
	}
	wg.Wait()
	if p := all.peak.Load(); p > 5 {
		t.Errorf("process peak %d exceeds the process limit 5", p)
	}
	for j := range 3 {
		for i := 1; i <= 40; i++ {
			if !seen[j][i] {
				t.Errorf("job %d: unit %d never processed", j, i)
			}
		}
	}
}

// The source must not run ahead of the slots: with every slot blocked, at
// most PerJob units have been pulled.
func TestFanOutPullsOnlyWhenASlotIsFree(t *testing.T) {
	t.Parallel()
	var pulled atomic.Int64
	release := make(chan struct{})
	started := make(chan struct{}, 100)
	done := make(chan error)
	go func() {
		done <- fanOut(context.Background(), countingSource(100, &pulled), Limits{PerJob: 4}, nil,
			func(context.Context, Item) { started <- struct{}{}; <-release })
	}()
	for range 4 {
		<-started
	}
	select {
	case <-started:
		t.Fatal("a fifth unit started while four slots were busy")
	case <-time.After(20 * time.Millisecond):
	}
	if p := pulled.Load(); p != 4 {
		t.Errorf("pulled %d units with 4 slots busy, want 4", p)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p := pulled.Load(); p != 100 {
		t.Errorf("pulled %d, want 100", p)
	}
}

func TestFanOutStops(t *testing.T) {
	t.Parallel()
	t.Run("source error", func(t *testing.T) {
		boom := errors.New("boom")
		src := func(yield func(Item, error) bool) {
			if !yield(Item{}, nil) {
				return
			}
			yield(Item{}, boom)
		}
		var n atomic.Int64
		err := fanOut(context.Background(), src, Limits{PerJob: 2}, nil, func(context.Context, Item) { n.Add(1) })
		if !errors.Is(err, boom) || n.Load() != 1 {
			t.Errorf("err %v, processed %d; want boom after 1", err, n.Load())
		}
	})
	t.Run("drain", func(t *testing.T) {
		drain := make(chan struct{})
		var pulled, finished atomic.Int64
		err := fanOut(context.Background(), countingSource(100, &pulled), Limits{PerJob: 2}, drain,
			func(context.Context, Item) {
				if finished.Add(1) == 3 {
					close(drain)
				}
			})
		if !errors.Is(err, errDraining) {
			t.Fatalf("err %v, want errDraining", err)
		}
		if f, p := finished.Load(), pulled.Load(); f != p || p >= 100 {
			t.Errorf("finished %d of %d pulled (of 100): every started unit must finish, and the rest stay", f, p)
		}
	})
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var pulled atomic.Int64
		err := fanOut(ctx, countingSource(100, &pulled), Limits{PerJob: 1}, nil,
			func(context.Context, Item) { cancel() })
		if !errors.Is(err, context.Canceled) || pulled.Load() >= 100 {
			t.Errorf("err %v after %d pulled; want context.Canceled early", err, pulled.Load())
		}
	})
}
