package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/rs/zerolog"

	"github.com/mmq/mmq/tasks"
)

// RouterConfig configures a Router.
type RouterConfig struct {
	// Default is the provider of a unit whose job names none. Required.
	Default string
	// Fallback lists the providers tried in order when the chosen one
	// fails transiently after its own retries ("openai", "local"). A
	// provider the request refused (a 4xx) is final: another would refuse
	// the same input or answer a different question.
	Fallback []string
	// Allowed lists the providers a job may choose with its provider
	// option, besides Default.
	Allowed []string
}

// Router sends each unit to its job's provider (or the default) and falls
// back along the configured chain. It implements the worker's Analyzer.
type Router struct {
	cfg       RouterConfig
	analyzers map[string]Analyzer
}

var _ Analyzer = (*Router)(nil)

// NewRouter returns a Router over analyzers, by provider name; every name
// in cfg must be among them.
func NewRouter(cfg RouterConfig, analyzers map[string]Analyzer) (*Router, error) {
	var errs []error
	check := func(what, name string) {
		if _, ok := analyzers[name]; !ok {
			errs = append(errs, fmt.Errorf("provider: %s %q is not configured", what, name))
		}
	}
	if cfg.Default == "" {
		errs = append(errs, errors.New("provider: router has no default provider"))
	} else {
		check("default provider", cfg.Default)
	}
	for _, n := range cfg.Fallback {
		check("fallback provider", n)
	}
	for _, n := range cfg.Allowed {
		check("allowed provider", n)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Router{cfg: cfg, analyzers: analyzers}, nil
}

// Chain returns the providers tried for a job that chose provider ("" for
// the default), in order, or a permanent CodeInvalidRequest error if the
// job may not choose it.
func (r *Router) Chain(provider string) ([]string, error) {
	first := r.cfg.Default
	if provider != "" && provider != first {
		if !slices.Contains(r.cfg.Allowed, provider) {
			return nil, tasks.Errorf(tasks.CodeInvalidRequest, "provider %q is not one this server lets jobs choose", provider)
		}
		first = provider
	}
	chain := []string{first}
	for _, n := range r.cfg.Fallback {
		if !slices.Contains(chain, n) {
			chain = append(chain, n)
		}
	}
	return chain, nil
}

// Analyze tries u's chain in order and returns the first answer. Each
// provider has done its own retries when it fails; the next one is tried
// only if the failure was transient.
func (r *Router) Analyze(ctx context.Context, u tasks.Unit) (tasks.Analysis, error) {
	chain, err := r.Chain(u.Provider)
	if err != nil {
		return tasks.Analysis{}, err
	}
	var failed []string
	var lastErr error
	extracting := u.Instructions != "" || len(u.Schema) > 0
	for _, name := range chain {
		if _, model := r.analyzers[name].(*Pipeline); extracting && !model {
			// The local analyzer cannot follow instructions or a schema:
			// falling back to it would store answers of another question.
			continue
		}
		an, err := r.analyzers[name].Analyze(ctx, u)
		if err == nil {
			if len(failed) > 0 {
				an.Metrics.FallbackFrom = failed
				an.Metrics.Error = tasks.ErrorCode(lastErr)
				if an.Analyzer == "" {
					an.Analyzer = name
				}
			}
			return an, nil
		}
		if ctx.Err() != nil || tasks.IsPermanent(err) {
			// A permanent failure may come with what it cost (an answer
			// that did not follow the schema): the page's record keeps it.
			return an, err
		}
		if len(failed) < len(chain)-1 {
			zerolog.Ctx(ctx).Warn().Err(err).Str("provider", name).Int("page", u.Index).Msg("provider failed; falling back")
		}
		failed = append(failed, name)
		lastErr = err
	}
	if lastErr == nil {
		lastErr = tasks.Errorf(tasks.CodeProviderRequired, "no model provider of this job can follow its instructions or schema")
	}
	return tasks.Analysis{}, lastErr
}

// estimator is what a provider offers for estimates.
type estimator interface {
	Estimate(ctx context.Context, u tasks.Unit) (tasks.PageEstimate, error)
}

// Estimate returns the estimate of the first provider of u's chain; a
// provider without estimates (the local analyzer) costs nothing.
func (r *Router) Estimate(ctx context.Context, u tasks.Unit) (tasks.PageEstimate, error) {
	chain, err := r.Chain(u.Provider)
	if err != nil {
		return tasks.PageEstimate{}, err
	}
	if e, ok := r.analyzers[chain[0]].(estimator); ok {
		return e.Estimate(ctx, u)
	}
	return tasks.PageEstimate{Index: u.Index}, nil
}

// EstimateCost returns the estimated cost of u, for budgets.
func (r *Router) EstimateCost(ctx context.Context, u tasks.Unit) (float64, error) {
	e, err := r.Estimate(ctx, u)
	return e.CostUSD, err
}

// Provider returns the name of the provider a job choosing provider starts
// with.
func (r *Router) Provider(provider string) (string, error) {
	chain, err := r.Chain(provider)
	if err != nil {
		return "", err
	}
	return chain[0], nil
}
