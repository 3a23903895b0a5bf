package provider

import (
	"context"
	"encoding/json"

	"github.com/mmq/mmq/tasks"
)

// Economy mode through the router: a job's economy units go to the first
// provider of its chain (its provider, then the configured fallbacks) that
// has a batch API, so a configuration whose default provider has none (a
// compatible server) takes economy jobs only when it names a fallback
// that has one.

// economyPipeline returns the pipeline that takes economy units of a job
// choosing provider, or a CodeModeUnsupported error.
func (r *Router) economyPipeline(provider string) (*Pipeline, error) {
	chain, err := r.Chain(provider)
	if err != nil {
		return nil, err
	}
	for _, name := range chain {
		if p, ok := r.analyzers[name].(*Pipeline); ok && p.Economy() {
			return p, nil
		}
	}
	return nil, tasks.Errorf(tasks.CodeModeUnsupported,
		"economy mode needs a provider with a batch API, and none of %v has one here (a compatible server, or batch disabled)", chain)
}

// SupportsEconomy returns nil when a job choosing provider ("" for the
// default) may run in economy mode, else a CodeModeUnsupported error (or
// CodeInvalidRequest, for a provider the job may not choose): the API's
// 400 mode_unsupported.
func (r *Router) SupportsEconomy(provider string) error {
	_, err := r.economyPipeline(provider)
	return err
}

// EconomyProvider returns the provider that takes a job's economy units.
func (r *Router) EconomyProvider(provider string) (string, error) {
	p, err := r.economyPipeline(provider)
	if err != nil {
		return "", err
	}
	return p.Name(), nil
}

// EstimateEconomy returns u's estimate in economy mode, next to Estimate's
// realtime one: the same tokens at the batch price.
func (r *Router) EstimateEconomy(ctx context.Context, u tasks.Unit) (tasks.PageEstimate, error) {
	p, err := r.economyPipeline(u.Provider)
	if err != nil {
		return tasks.PageEstimate{}, err
	}
	return p.EstimateEconomy(ctx, u)
}

// PrepareEconomy prepares u for its economy provider's batch (see
// Pipeline.PrepareEconomy).
func (r *Router) PrepareEconomy(ctx context.Context, u tasks.Unit) (tasks.EconomyPrep, error) {
	p, err := r.economyPipeline(u.Provider)
	if err != nil {
		return tasks.EconomyPrep{}, err
	}
	return p.PrepareEconomy(ctx, u)
}

// FinishEconomy finishes u's answer from its batch outcome, with the
// provider its ticket names (see Pipeline.FinishEconomy).
func (r *Router) FinishEconomy(ctx context.Context, u tasks.Unit, ticket json.RawMessage, o tasks.BatchOutcome) (tasks.Analysis, error) {
	t, err := readTicket(ticket)
	if err != nil {
		return tasks.Analysis{}, err
	}
	p, ok := r.analyzers[t.Provider].(*Pipeline)
	if !ok {
		return tasks.Analysis{}, tasks.Errorf(tasks.CodeInternal, "the provider %q of an economy ticket is not configured", t.Provider)
	}
	return p.FinishEconomy(ctx, u, ticket, o)
}

// Batcher returns the batch API of a provider, by name (an EconomyPrep's
// Provider), or a CodeModeUnsupported error.
func (r *Router) Batcher(provider string) (Batcher, error) {
	if p, ok := r.analyzers[provider].(*Pipeline); ok {
		if b, has := p.Batcher(); has {
			return b, nil
		}
	}
	return nil, tasks.Errorf(tasks.CodeModeUnsupported, "provider %q has no batch API here", provider)
}
