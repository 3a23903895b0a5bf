package analyzer

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/mmq/mmq/tasks"
)

var (
	_ Analyzer = Noop{}
	_ Analyzer = Sleep{}
)

// Noop is an Analyzer for benchmarks that does no analysis at all: it
// returns {"page":n} for unit n at once, so that a benchmark measures the
// pipeline around the analyzer. Never use it to serve jobs.
type Noop struct{}

// Analyze returns {"page":u.Index}, or ctx's error if it is done.
func (Noop) Analyze(ctx context.Context, u tasks.Unit) (tasks.Analysis, error) {
	if err := ctx.Err(); err != nil {
		return tasks.Analysis{}, err
	}
	return tasks.Analysis{Output: pageOnly(u.Index), Analyzer: "noop"}, nil
}

// Sleep is an Analyzer for fan-out tests and benchmarks that does no
// analysis: it stands for a slow model call by waiting D, then returns
// {"page":n} for unit n. Never use it to serve jobs.
type Sleep struct {
	// D is how long each call waits. Zero returns at once.
	D time.Duration
}

// Analyze waits s.D and returns {"page":u.Index}. A done ctx ends the wait
// early and returns ctx's error.
func (s Sleep) Analyze(ctx context.Context, u tasks.Unit) (tasks.Analysis, error) {
	t := time.NewTimer(s.D)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return tasks.Analysis{}, ctx.Err()
	case <-t.C:
	}
	return tasks.Analysis{Output: pageOnly(u.Index), Analyzer: "sleep"}, nil
}

func pageOnly(n int) json.RawMessage {
	return json.RawMessage(`{"page":` + strconv.Itoa(n) + `}`)
}
