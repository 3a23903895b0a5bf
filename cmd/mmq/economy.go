package main

import (
	"context"
	"encoding/json"

	"github.com/mmq/mmq/provider"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

// SupportsEconomy answers the API with the router: economy mode needs a
// provider with a batch API in the job's chain.
func (m apiModels) SupportsEconomy(name string) error {
	return m.router.SupportsEconomy(name)
}

// economy adapts the provider router to the worker's Economy.
type economy struct{ router *provider.Router }

var _ worker.Economy = economy{}

func (e economy) PrepareEconomy(ctx context.Context, u tasks.Unit) (tasks.EconomyPrep, error) {
	return e.router.PrepareEconomy(ctx, u)
}

func (e economy) FinishEconomy(ctx context.Context, u tasks.Unit, ticket json.RawMessage, o tasks.BatchOutcome) (tasks.Analysis, error) {
	return e.router.FinishEconomy(ctx, u, ticket, o)
}

func (e economy) Batcher(name string) (worker.Batcher, error) {
	b, err := e.router.Batcher(name)
	if err != nil {
		return nil, err
	}
	return batcher{b}, nil
}

// batcher is a provider.Batcher with its limits as two numbers.
type batcher struct{ provider.Batcher }

func (b batcher) Limits() (int, int64) {
	l := b.Batcher.Limits()
	return l.Requests, l.Bytes
}

// workerEconomy returns the worker's Economy when the analyzer is the
// router, nil for a local-only deployment.
func workerEconomy(an worker.Analyzer) worker.Economy {
	if r, ok := an.(routedAnalyzer); ok {
		return economy{router: r.Router}
	}
	return nil
}

// economyConfig is the worker's economy configuration.
func (a *App) economyConfig() worker.EconomyConfig {
	c := a.Config.Economy
	return worker.EconomyConfig{MaxWait: c.MaxWait, MaxRequests: c.MaxRequests, Tries: c.Tries,
		Poll: tasks.Backoff{Base: c.PollBase, Cap: c.PollCap}, CreateTimeout: c.CreateTimeout}
}
