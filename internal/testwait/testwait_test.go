package testwait_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmq/mmq/internal/testwait"
)

func TestUntil(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	if !testwait.Until(context.Background(), 10*time.Second, func() bool { return calls.Add(1) == 5 }) {
		t.Fatal("a condition that comes true was not seen")
	}
	if n := calls.Load(); n != 5 {
		t.Errorf("cond called %d times, want 5: polling stops when it holds", n)
	}
	if testwait.Until(context.Background(), 20*time.Millisecond, func() bool { return false }) {
		t.Error("a condition that never holds was reported held")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if testwait.Until(ctx, time.Hour, func() bool { return false }) {
		t.Error("Until held after its context ended")
	}
}

// fakeT records a failure instead of ending the test.
type fakeT struct {
	testing.TB
	failed string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Fatalf(format string, args ...any) { f.failed = format }

func TestForFailsWithTheAwaitedThing(t *testing.T) {
	t.Parallel()
	ft := &fakeT{TB: t}
	testwait.For(ft, 10*time.Millisecond, "the job to end", func() bool { return false })
	if ft.failed == "" {
		t.Error("For did not fail on a condition that never held")
	}
	ok := &fakeT{TB: t}
	testwait.For(ok, time.Second, "nothing", func() bool { return true })
	if ok.failed != "" {
		t.Error("For failed on a condition that held")
	}
}
