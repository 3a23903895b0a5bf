package worker

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// A stopping worker's errors do not count against a task's retries, also
// when the handler wrapped them.
func TestIsInterruption(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want bool
	}{
		{context.Canceled, true},
		{fmt.Errorf("worker: page 3: %w", context.Canceled), true},
		{errDraining, true},
		{fmt.Errorf("job j1: %w", errDraining), true},
		{context.DeadlineExceeded, false},
		{errors.New("analyzer failed"), false},
		{nil, false},
	} {
		if got := isInterruption(c.err); got != c.want {
			t.Errorf("isInterruption(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
