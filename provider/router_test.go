package provider_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/mmq/mmq/provider"
	"github.com/mmq/mmq/provider/providertest"
	"github.com/mmq/mmq/tasks"
)

// localStub stands for the offline analyzer at the end of a chain.
type localStub struct{ calls int }

func (l *localStub) Analyze(context.Context, tasks.Unit) (tasks.Analysis, error) {
	l.calls++
	return tasks.Analysis{Output: json.RawMessage(`{}`), Analyzer: "local"}, nil
}

type routerBundle struct {
	anth, oai *providertest.Server
	local     *localStub
	router    *provider.Router
}

func setupRouter(t *testing.T, cfg provider.RouterConfig) *routerBundle {
	t.Helper()
	b := &routerBundle{anth: providertest.NewAnthropic(t, testKey), oai: providertest.NewOpenAI(t, testKey), local: &localStub{}}
	var err error
	b.router, err = provider.NewRouter(cfg, map[string]provider.Analyzer{
		"anthropic": newPipeline(t, pipelineConfig("claude-default"), newAnthropic(t, b.anth, nil)),
		"openai":    newPipeline(t, pipelineConfig("gpt-vision"), newOpenAI(t, b.oai, nil)),
		"local":     b.local,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func overloaded(n int) []providertest.Reply {
	rs := make([]providertest.Reply, n)
	for i := range rs {
		rs[i] = providertest.Reply{Status: 529}
	}
	return rs
}

func TestRouterFallback(t *testing.T) {
	t.Parallel()
	chain := provider.RouterConfig{Default: "anthropic", Fallback: []string{"openai", "local"}, Allowed: []string{"openai"}}
	tests := []struct {
		name            string
		provider        string
		anth, oai       []providertest.Reply
		wantAnalyzer    string
		wantFrom        []string
		wantCode        tasks.Code
		wantAnth, wantO int
	}{
		{name: "primary answers", wantAnalyzer: "anthropic", wantAnth: 1},
		{name: "anthropic down, openai answers", anth: overloaded(4), wantAnalyzer: "openai", wantFrom: []string{"anthropic"}, wantAnth: 4, wantO: 1},
		{name: "both down, local answers", anth: overloaded(4), oai: []providertest.Reply{{Status: 503}, {Status: 503}, {Status: 503}, {Status: 503}},
			wantAnalyzer: "local", wantFrom: []string{"anthropic", "openai"}, wantAnth: 4, wantO: 4},
		{name: "refusal does not fall back", anth: []providertest.Reply{{Status: 400, ErrorType: "invalid_request_error", Message: "no"}},
			wantCode: tasks.CodeProviderRefused, wantAnth: 1},
		{name: "job chooses openai", provider: "openai", wantAnalyzer: "openai", wantO: 1},
		{name: "job may not choose local", provider: "local", wantCode: tasks.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupRouter(t, chain)
			b.anth.Script(tt.anth...)
			b.oai.Script(tt.oai...)
			u := pageUnit(t, "letter-text.pdf", "general_qa")
			u.Provider = tt.provider
			an, err := b.router.Analyze(ctxT(t), u)
			if tt.wantCode != "" {
				if tasks.ErrorCode(err) != tt.wantCode {
					t.Fatalf("err = %v, want %s", err, tt.wantCode)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if an.Analyzer != tt.wantAnalyzer || !slices.Equal(an.Metrics.FallbackFrom, tt.wantFrom) {
				t.Errorf("answered by %q after %v, want %q after %v", an.Analyzer, an.Metrics.FallbackFrom, tt.wantAnalyzer, tt.wantFrom)
			}
			if len(tt.wantFrom) > 0 && an.Metrics.Error != tasks.CodeProviderFailed {
				t.Errorf("metrics error %q, want provider_failed", an.Metrics.Error)
			}
			if b.anth.Count() != tt.wantAnth || b.oai.Count() != tt.wantO {
				t.Errorf("calls: anthropic %d, openai %d; want %d, %d", b.anth.Count(), b.oai.Count(), tt.wantAnth, tt.wantO)
			}
		})
	}
}

func TestRouterConfig(t *testing.T) {
	t.Parallel()
	as := map[string]provider.Analyzer{"local": &localStub{}}
	for _, cfg := range []provider.RouterConfig{
		{},
		{Default: "anthropic"},
		{Default: "local", Fallback: []string{"openai"}},
		{Default: "local", Allowed: []string{"x"}},
	} {
		if _, err := provider.NewRouter(cfg, as); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

func TestRouterEstimate(t *testing.T) {
	t.Parallel()
	b := setupRouter(t, provider.RouterConfig{Default: "anthropic", Allowed: []string{"local"}})
	u := pageUnit(t, "letter-text.pdf", "general_qa")
	e, err := b.router.Estimate(ctxT(t), u)
	if err != nil || e.CostUSD <= 0 || e.Model != "claude-text" || e.ImageTokens != 1550 {
		t.Fatalf("estimate %+v, %v", e, err)
	}
	u.Provider = "local"
	if c, err := b.router.EstimateCost(ctxT(t), u); err != nil || c != 0 {
		t.Errorf("local costs %v, %v", c, err)
	}
	if b.anth.Count() != 0 {
		t.Error("an estimate called the model")
	}
}
