package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/rs/zerolog"

	"github.com/mmq/mmq/tasks"
)

// CostEstimator is implemented by analyzers that can tell what a unit will
// cost before analyzing it (provider.Router). The worker reserves the
// estimate against a job's max_cost_usd while the unit is in flight. With
// an analyzer that does not implement it, units are reserved at 0 and a
// job stops only once its spent cost reaches the cap.
type CostEstimator interface {
	EstimateCost(ctx context.Context, u tasks.Unit) (float64, error)
}

// errBudgetExceeded is returned by fanOut when the job's budget refused a
// unit: the job stops with the pages it has.
var errBudgetExceeded = errors.New("worker: job budget exceeded")

// budget holds a job's spending against its Options.MaxCostUSD during one
// run of its task.
//
// A unit may start while what is spent plus what the units in flight are
// expected to cost stays under the cap; otherwise it waits for a unit in
// flight to finish, and once the spent cost reaches the cap no unit starts
// again. So a job stops within one page of its cap: the last unit admitted
// may cross it by its own cost (and by the estimates' error).
type budget struct {
	cap float64
	est CostEstimator // nil: estimates are 0

	mu       sync.Mutex
	spent    float64
	reserved float64
	inflight map[int]float64
	// changed is closed and replaced whenever a unit settles.
	changed  chan struct{}
	exceeded bool
}

type budgetKey struct{}

// costEpsilon absorbs the rounding of sums of float costs: ten pages at
// $0.01 reach a $0.10 cap.
const costEpsilon = 1e-9

// withBudget returns ctx carrying the budget of job, if it has a cap. The
// cost its earlier runs spent counts.
func (h *Handler) withBudget(ctx context.Context, job *tasks.Job) context.Context {
	if job.Options.MaxCostUSD <= 0 {
		return ctx
	}
	b := &budget{cap: job.Options.MaxCostUSD, inflight: map[int]float64{}, changed: make(chan struct{})}
	if job.Usage != nil {
		b.spent = job.Usage.CostUSD
	}
	b.est, _ = h.deps.Analyzer.(CostEstimator)
	return context.WithValue(ctx, budgetKey{}, b)
}

// budgetFrom returns the budget in ctx, or nil.
func budgetFrom(ctx context.Context) *budget {
	b, _ := ctx.Value(budgetKey{}).(*budget)
	return b
}

// admit reserves u's estimated cost, waiting while the units in flight
// leave no room. It returns false once the spent cost has reached the cap.
func (b *budget) admit(ctx context.Context, u tasks.Unit) (bool, error) {
	var est float64
	if b.est != nil {
		var err error
		if est, err = b.est.EstimateCost(ctx, u); err != nil {
			zerolog.Ctx(ctx).Debug().Err(err).Int("page", u.Index).Msg("no cost estimate; reserving 0")
			est = 0
		}
	}
	for {
		b.mu.Lock()
		if b.spent >= b.cap-costEpsilon {
			b.exceeded = true
			b.mu.Unlock()
			return false, nil
		}
		if b.spent+b.reserved < b.cap-costEpsilon || len(b.inflight) == 0 {
			b.reserved += est
			b.inflight[u.Index] = est
			b.mu.Unlock()
			return true, nil
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// settle replaces unit index's reservation by what it cost.
func (b *budget) settle(index int, cost float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	est, ok := b.inflight[index]
	if !ok {
		return
	}
	delete(b.inflight, index)
	b.reserved -= est
	b.spent += cost
	close(b.changed)
	b.changed = make(chan struct{})
}

// outcome is the end of a job its budget stopped.
func (b *budget) outcome(j *tasks.Job) (tasks.Status, tasks.Code, string) {
	b.mu.Lock()
	spent := b.spent
	b.mu.Unlock()
	msg := fmt.Sprintf("stopped at $%.4f of its $%.4f budget with %d of %d pages analyzed", spent, b.cap, j.PagesDone, j.PagesTotal)
	if j.PagesDone == 0 {
		return tasks.StatusFailed, tasks.CodeBudgetExceeded, msg
	}
	return tasks.StatusPartiallySucceeded, tasks.CodeBudgetExceeded, msg
}
