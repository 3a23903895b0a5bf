package worker

import (
	"context"
	"errors"
	"iter"
	"sync"

	"golang.org/x/sync/semaphore"

	"github.com/mmq/mmq/tasks"
)

// Item is what a source yields: a unit to analyze, or the error that kept
// one unit from being produced (Unit.Index still says which).
type Item struct {
	Unit tasks.Unit
	Err  error
}

// Source yields a job's units in order. It stops when yield returns false.
// A non-nil error as the second value ends the whole run: use it for
// failures that concern the job, not one unit.
type Source = iter.Seq2[Item, error]

// Limits bounds the analysis of units.
type Limits struct {
	// PerJob is how many units of one job are analyzed at once.
	PerJob int
	// Process is shared by every job of the process; nil means no bound
	// beyond PerJob.
	Process *semaphore.Weighted
}

// fanOut runs process on every item of src, at most lim.PerJob at a time
// and, across jobs, at most what lim.Process allows. The source is pulled
// only when a slot is free, so at most PerJob units are held in memory
// however long the document or video is.
//
// fanOut returns when every started item has been processed. It returns the
// source's error, or ctx's error if ctx ended before the source did.
// Processing errors are process's own business: it records them.
//
// When drain is closed, fanOut stops pulling new items, lets the started
// ones finish and returns errDraining.
//
// When ctx carries a job budget (see withBudget), each unit is admitted by
// it before it starts; once the budget refuses one, fanOut stops pulling,
// lets the started ones finish and returns errBudgetExceeded.
func fanOut(ctx context.Context, src Source, lim Limits, drain <-chan struct{}, process func(context.Context, Item)) error {
	perJob := max(lim.PerJob, 1)
	slots := make(chan struct{}, perJob)
	var wg sync.WaitGroup
	defer wg.Wait()

	acquire := func() error {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		case <-drain:
			return errDraining
		}
		if lim.Process == nil {
			return nil
		}
		if err := lim.Process.Acquire(ctx, 1); err != nil {
			<-slots
			return err
		}
		return nil
	}
	release := func() {
		if lim.Process != nil {
			lim.Process.Release(1)
		}
		<-slots
	}

	// Take a slot before pulling the next item, so the source (which may
	// hold a decoded frame or an extracted page) runs no further ahead than
	// the limit.
	if err := acquire(); err != nil {
		return err
	}
	var runErr error
	for it, err := range src {
		if err != nil {
			runErr = err
			break
		}
		if b := budgetFrom(ctx); b != nil && it.Err == nil {
			ok, err := b.admit(ctx, it.Unit)
			if err == nil && !ok {
				err = errBudgetExceeded
			}
			if err != nil {
				runErr = err
				break
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer release()
			process(ctx, it)
		}()
		if err := acquire(); err != nil {
			runErr = err
			// The slot was not taken: nothing to release.
			return runErr
		}
	}
	release()
	if runErr == nil {
		runErr = ctx.Err()
	}
	return runErr
}

// errDraining is returned by fanOut when the worker shuts down before the
// job's units were all started.
var errDraining = errors.New("worker: shutting down")
