package provider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/provider"
	"github.com/mmq/mmq/provider/providertest"
	"github.com/mmq/mmq/tasks"
)

// economyBundle is a pipeline with economy mode on a fake, and a second
// pipeline without cache on another fake, for the realtime answer to the
// same unit.
type economyBundle struct {
	srv, realtimeSrv *providertest.Server
	p, realtime      *provider.Pipeline
	batcher          provider.Batcher
}

func setupEconomy(t *testing.T, vendor string, withCache bool) economyBundle {
	t.Helper()
	var b economyBundle
	cfg := pipelineConfig("claude-default")
	newClient := func(srv *providertest.Server) provider.Client { return newAnthropic(t, srv, nil) }
	newSrv := func() *providertest.Server { return providertest.NewAnthropic(t, testKey) }
	if vendor == provider.OpenAIName {
		cfg = pipelineConfig("gpt-vision")
		cfg.Routes = nil
		newClient = func(srv *providertest.Server) provider.Client { return newOpenAI(t, srv, nil) }
		newSrv = func() *providertest.Server { return providertest.NewOpenAI(t, testKey) }
	}
	b.realtimeSrv = newSrv()
	b.realtime = newPipeline(t, cfg, newClient(b.realtimeSrv))
	b.srv = newSrv()
	cfg.Batch = provider.BatchEnabled
	if withCache {
		cfg.Cache = newCache(t, redistest.New(t, redistest.DBProvider))
	}
	b.p = newPipeline(t, cfg, newClient(b.srv))
	bt, ok := b.p.Batcher()
	if !ok {
		t.Fatal("no batcher with batch enabled")
	}
	b.batcher = bt
	return b
}

// runBatch sends preps as one provider batch and returns the outcomes by
// custom_id once it ended.
func runBatch(t *testing.T, ctx context.Context, b provider.Batcher, preps map[string]tasks.EconomyPrep) map[string]tasks.BatchOutcome {
	t.Helper()
	var lines []tasks.BatchLine
	for id, p := range preps {
		lines = append(lines, tasks.BatchLine{CustomID: id, Body: p.Body})
	}
	pb, err := b.CreateBatch(ctx, "test", lines)
	if err != nil {
		t.Fatal(err)
	}
	waitEnded(t, ctx, b, pb.ID)
	return results(t, ctx, b, pb.ID)
}

// The same page in economy mode and in realtime: the same request reaches
// the provider (same tokens, same answer), and economy costs exactly half
// at the default batch prices. Its answer is then cached: the page
// prepared again is a hit and is never sent.
func TestEconomyRoundTrip(t *testing.T) {
	for _, vendor := range []string{provider.AnthropicName, provider.OpenAIName} {
		t.Run(vendor, func(t *testing.T) {
			b := setupEconomy(t, vendor, true)
			ctx := ctxT(t)
			u := pageUnit(t, "letter-text.pdf", "general_qa")
			want, err := b.realtime.Analyze(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			prep, err := b.p.PrepareEconomy(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			if prep.Hit != nil || prep.Provider != vendor || prep.Model != want.Model || len(prep.Ticket) == 0 || prep.EstimateUSD <= 0 {
				t.Fatalf("prep %+v", prep)
			}
			est, err := b.realtime.EstimateCost(ctx, u)
			if err != nil || prep.EstimateUSD != est/2 {
				t.Errorf("economy estimate %v, want half of %v (%v)", prep.EstimateUSD, est, err)
			}
			outs := runBatch(t, ctx, b.batcher, map[string]tasks.EconomyPrep{"job-1_p1": prep})
			got, err := b.p.FinishEconomy(ctx, tasks.Unit{Task: u.Task, Kind: u.Kind, Index: u.Index}, prep.Ticket, outs["job-1_p1"])
			if err != nil {
				t.Fatal(err)
			}
			if got.InputTokens != want.InputTokens || got.OutputTokens != want.OutputTokens || got.Model != want.Model ||
				!bytes.Equal(got.Output, want.Output) || got.Analyzer != vendor {
				t.Errorf("economy %+v\nrealtime %+v", got, want)
			}
			if want.CostUSD == 0 || got.CostUSD != want.CostUSD*0.5 {
				t.Errorf("economy cost %v, realtime %v: want exactly half", got.CostUSD, want.CostUSD)
			}
			t.Logf("%s: economy %.6f USD / realtime %.6f USD = %v; ticket %d bytes, body %d bytes", vendor,
				got.CostUSD, want.CostUSD, got.CostUSD/want.CostUSD, len(prep.Ticket), len(prep.Body))
			if m := got.PageMetrics(); m.Cache != tasks.CacheMiss || m.Provider != vendor || m.CostUSD != got.CostUSD {
				t.Errorf("metrics %+v", m)
			}

			again, err := b.p.PrepareEconomy(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			if again.Hit == nil || again.Body != nil || again.Hit.CostUSD != 0 || again.Hit.PageMetrics().Cache != tasks.CacheHit ||
				!bytes.Equal(again.Hit.Output, want.Output) {
				t.Fatalf("prepared again: %+v, want a cache hit", again)
			}
			if n := b.srv.Batches.Received("job-1_p1"); n != 1 || b.srv.Batches.Created() != 1 || b.srv.Count() != 0 {
				t.Errorf("received %d times in %d batches, %d realtime calls", n, b.srv.Batches.Created(), b.srv.Count())
			}
		})
	}
}

// A unit with a schema goes with the realtime structured-output request
// (a forced tool, a json_schema response format); the answer is validated.
// One that does not validate fails with schema_mismatch, keeps its cost,
// and is not cached.
func TestEconomySchema(t *testing.T) {
	const sch = `{"type":"object","properties":{"total":{"type":"number"}},"required":["total"],"additionalProperties":false}`
	for _, vendor := range []string{provider.AnthropicName, provider.OpenAIName} {
		t.Run(vendor, func(t *testing.T) {
			b := setupEconomy(t, vendor, true)
			ctx := ctxT(t)
			u := pageUnit(t, "letter-text.pdf", "general_qa")
			u.Schema = json.RawMessage(sch)
			prep, err := b.p.PrepareEconomy(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			bad := u
			bad.Index = 2
			bad.Instructions = "say something else"
			badPrep, err := b.p.PrepareEconomy(ctx, bad)
			if err != nil {
				t.Fatal(err)
			}
			b.srv.Answer = func(r providertest.Received) string {
				if bytes.Contains([]byte(r.Prompt), []byte("something else")) {
					return `{"total":"many"}`
				}
				return `{"total":12.5}`
			}
			outs := runBatch(t, ctx, b.batcher, map[string]tasks.EconomyPrep{"good": prep, "bad": badPrep})
			got, err := b.p.FinishEconomy(ctx, u, prep.Ticket, outs["good"])
			if err != nil {
				t.Fatal(err)
			}
			if o := output(t, got); string(o.Data) != `{"total":12.5}` {
				t.Errorf("data %s", o.Data)
			}
			an, err := b.p.FinishEconomy(ctx, bad, badPrep.Ticket, outs["bad"])
			if tasks.ErrorCode(err) != tasks.CodeSchemaMismatch || an.CostUSD == 0 {
				t.Errorf("bad answer: %v, cost %v; want schema_mismatch with its cost", err, an.CostUSD)
			}
			if again, err := b.p.PrepareEconomy(ctx, bad); err != nil || again.Hit != nil {
				t.Errorf("the bad answer was cached: %+v, %v", again.Hit, err)
			}
			if again, err := b.p.PrepareEconomy(ctx, u); err != nil || again.Hit == nil {
				t.Errorf("the good answer was not cached: %v", err)
			}
			// Finishing with another schema than the unit was sent with is
			// a bug of the caller.
			other := u
			other.Schema = json.RawMessage(`{"type":"object"}`)
			if _, err := b.p.FinishEconomy(ctx, other, prep.Ticket, outs["good"]); tasks.ErrorCode(err) != tasks.CodeInternal {
				t.Errorf("another schema: %v", err)
			}
		})
	}
}

// Errored, expired and canceled requests finish with their errors, at no
// cost.
func TestEconomyOutcomes(t *testing.T) {
	b := setupEconomy(t, provider.AnthropicName, false)
	ctx := ctxT(t)
	b.srv.Batches.Outcome = func(id string) string { return id }
	u := pageUnit(t, "letter-text.pdf", "classification")
	prep, err := b.p.PrepareEconomy(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	outs := runBatch(t, ctx, b.batcher, map[string]tasks.EconomyPrep{
		providertest.OutcomeErrored: prep, providertest.OutcomeExpired: prep, providertest.OutcomeCanceled: prep})
	for id, code := range map[string]tasks.Code{
		providertest.OutcomeErrored: tasks.CodeProviderFailed, providertest.OutcomeExpired: tasks.CodeProviderFailed,
		providertest.OutcomeCanceled: tasks.CodeCanceled,
	} {
		an, err := b.p.FinishEconomy(ctx, u, prep.Ticket, outs[id])
		if tasks.ErrorCode(err) != code || an.CostUSD != 0 {
			t.Errorf("%s: %v (cost %v), want %s", id, err, an.CostUSD, code)
		}
	}
	if _, err := b.p.FinishEconomy(ctx, u, json.RawMessage(`{"x":1}`), outs[providertest.OutcomeErrored]); tasks.ErrorCode(err) != tasks.CodeInternal {
		t.Errorf("a broken ticket: %v", err)
	}
}

// batch auto is on for the vendors' own URLs only; a compatible server has
// no economy mode, and the router refuses it (mode_unsupported) unless
// a fallback has one. The economy estimate is the realtime one at the
// batch price, default half, or batch_prices.
func TestRouterEconomy(t *testing.T) {
	t.Parallel()
	srv := providertest.NewOpenAI(t, "")
	cfg := pipelineConfig("gpt-vision")
	cfg.Routes = nil
	compatible := newPipeline(t, cfg, newOpenAI(t, srv, nil))
	if compatible.Economy() {
		t.Fatal("a compatible server has economy mode with batch auto")
	}
	for _, mode := range []provider.BatchMode{"", provider.BatchAuto} {
		cfg.Batch = mode
		c, err := provider.NewOpenAI(provider.OpenAIConfig{HTTP: provider.HTTPConfig{APIKey: testKey}})
		if err != nil {
			t.Fatal(err)
		}
		if !newPipeline(t, cfg, c).Economy() {
			t.Errorf("batch %q: the real API has no economy mode", mode)
		}
	}
	cfg.Batch = "sometimes"
	if _, err := provider.NewPipeline(cfg, newOpenAI(t, srv, nil)); err == nil {
		t.Error("batch sometimes accepted")
	}

	acfg := pipelineConfig("claude-default")
	acfg.Batch = provider.BatchEnabled
	acfg.BatchPrices = provider.Prices{"claude-haiku": {Input: 0.1, Output: 0.1}}
	economical := newPipeline(t, acfg, newAnthropic(t, providertest.NewAnthropic(t, testKey), nil))

	analyzers := map[string]provider.Analyzer{provider.OpenAIName: compatible, provider.AnthropicName: economical}
	alone, err := provider.NewRouter(provider.RouterConfig{Default: provider.OpenAIName}, analyzers)
	if err != nil {
		t.Fatal(err)
	}
	if err := alone.SupportsEconomy(""); tasks.ErrorCode(err) != tasks.CodeModeUnsupported {
		t.Errorf("no fallback: %v, want mode_unsupported", err)
	}
	if _, err := alone.Batcher(provider.OpenAIName); tasks.ErrorCode(err) != tasks.CodeModeUnsupported {
		t.Errorf("batcher of a compatible server: %v", err)
	}
	r, err := provider.NewRouter(provider.RouterConfig{Default: provider.OpenAIName, Fallback: []string{provider.AnthropicName},
		Allowed: []string{provider.AnthropicName}}, analyzers)
	if err != nil {
		t.Fatal(err)
	}
	if name, err := r.EconomyProvider(""); err != nil || name != provider.AnthropicName {
		t.Errorf("economy provider %q, %v; want the fallback", name, err)
	}
	ctx := ctxT(t)
	for task, model := range map[string]string{"general_qa": "claude-text", "classification": "claude-haiku"} {
		u := pageUnit(t, "letter-text.pdf", task)
		u.Provider = provider.AnthropicName
		e, err := economical.Estimate(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		ee, err := r.EstimateEconomy(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		want := e.CostUSD / 2
		if model == "claude-haiku" {
			want = float64(e.InputTokens+e.OutputTokens) * 0.1 / 1e6
		}
		if ee.Model != model || ee.InputTokens != e.InputTokens || ee.CostUSD != want {
			t.Errorf("%s: economy estimate %+v, want %v USD (realtime %+v)", task, ee, want, e)
		}
	}
}

// What a waiting page costs in Redis: its ticket, in bytes, with a cache
// key and a schema sum.
func TestEconomyTicketSize(t *testing.T) {
	cfg := pipelineConfig("claude-default")
	cfg.Batch = provider.BatchEnabled
	cfg.Cache = newCache(t, redistest.New(t, redistest.DBProvider))
	p := newPipeline(t, cfg, newAnthropic(t, providertest.NewAnthropic(t, testKey), nil))
	u := pageUnit(t, "letter-text.pdf", "general_qa")
	u.Schema = json.RawMessage(`{"type":"object","properties":{"total":{"type":"number"}}}`)
	prep, err := p.PrepareEconomy(ctxT(t), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ticket %d bytes: %s", len(prep.Ticket), prep.Ticket)
	if len(prep.Ticket) > 160 {
		t.Errorf("ticket of %d bytes", len(prep.Ticket))
	}
}
