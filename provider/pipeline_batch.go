package provider

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mmq/mmq/tasks"
)

// Economy mode: a unit prepared for a provider batch, and its answer
// finished when the batch ended.
//
// PrepareEconomy runs the realtime path up to the call: the plan (task,
// model, resolution, prompts, schema), the cache lookup (a hit is the
// unit's result and is never sent) and the preprocessing, and builds the
// request with the code Send uses, so a batch request is the realtime one
// without streaming. What finishing needs travels in the Ticket. Finishing
// takes the batch's answer through the realtime path's end: schema
// validation, guardrail, cache store, cost, at the batch price. There are
// no re-asks: an answer that does not follow the schema fails the unit
// with schema_mismatch, which the caller may retry in realtime.

// BatchMode says whether a provider's batch API serves economy mode.
type BatchMode string

// Batch modes.
const (
	// BatchAuto uses the batch API of the vendor's own API (Anthropic's,
	// OpenAI's base URL) and none of a compatible server (vLLM, Ollama, LM
	// Studio), which has none.
	BatchAuto BatchMode = "auto"
	// BatchEnabled always uses it: for a server that serves the vendor's
	// batch API at another URL (a proxy, a fake).
	BatchEnabled BatchMode = "enabled"
	// BatchDisabled turns economy mode off for the provider.
	BatchDisabled BatchMode = "disabled"
)

// batchClient is a Client with a batch API.
type batchClient interface {
	Batcher
	// batchBody is a request as one line of a batch takes it.
	batchBody(r *Request) (json.RawMessage, error)
	// batchAnswer reads a succeeded request's answer; withSchema says
	// whether the request had one.
	batchAnswer(raw json.RawMessage, withSchema bool) (*Response, error)
	// batchAvailable reports whether the client talks to the vendor's
	// own API.
	batchAvailable() bool
}

// economy is a Pipeline's batch API and its prices.
type economy struct {
	client batchClient
	prices Prices
}

// newEconomy returns the pipeline's economy mode as cfg says, nil when it
// has none.
func newEconomy(cfg PipelineConfig, client Client) (*economy, error) {
	bc, has := client.(batchClient)
	switch cfg.Batch {
	case BatchDisabled:
		return nil, nil
	case "", BatchAuto:
		if !has || !bc.batchAvailable() {
			return nil, nil
		}
	case BatchEnabled:
		if !has {
			return nil, fmt.Errorf("provider: %s has no batch API: batch must be auto or disabled", client.Name())
		}
	default:
		return nil, fmt.Errorf("provider: %s: batch %q: want auto, enabled or disabled", client.Name(), cfg.Batch)
	}
	prices := make(Prices, len(cfg.Prices)+len(cfg.BatchPrices))
	for m, p := range cfg.Prices {
		prices[m] = Price{Input: p.Input / 2, Output: p.Output / 2}
	}
	for m, p := range cfg.BatchPrices {
		prices[m] = p
	}
	return &economy{client: bc, prices: prices}, nil
}

// economyTicket is what finishing a unit needs, stored with it while it
// waits: short keys, and the cache key and schema sum (SHA-256 in hex) as
// base64, since a batch holds up to 100,000 of them.
type economyTicket struct {
	Provider   string `json:"p"`
	Model      string `json:"m"`
	Key        hexSum `json:"k,omitempty"`
	SchemaSum  hexSum `json:"s,omitempty"`
	Resolution int    `json:"r,omitempty"`
	// InputTokens is the estimate, for servers that report no usage.
	InputTokens int64 `json:"i,omitempty"`
}

// Economy reports whether the pipeline has a batch API for economy mode.
func (p *Pipeline) Economy() bool { return p.economy != nil }

// Batcher returns the pipeline's batch API, if it has one.
func (p *Pipeline) Batcher() (Batcher, bool) {
	if p.economy == nil {
		return nil, false
	}
	return p.economy.client, true
}

// unsupported is the error of economy mode asked of a pipeline without it.
func (p *Pipeline) unsupported() error {
	return tasks.Errorf(tasks.CodeModeUnsupported, "%s has no batch API here (batch disabled, or a compatible server): economy mode is not available", p.Name())
}

// EstimateEconomy returns the expected tokens and cost of analyzing u in
// economy mode: the realtime estimate at the batch price.
func (p *Pipeline) EstimateEconomy(ctx context.Context, u tasks.Unit) (tasks.PageEstimate, error) {
	if p.economy == nil {
		return tasks.PageEstimate{}, p.unsupported()
	}
	e, err := p.Estimate(ctx, u)
	if err != nil {
		return e, err
	}
	e.CostUSD, _ = p.economy.prices.Cost(e.Model, int(e.InputTokens), int(e.OutputTokens))
	return e, nil
}

// PrepareEconomy prepares u for a provider batch: its result when the
// cache has it (Hit), else the request body of its batch line and the
// ticket that finishes its answer.
func (p *Pipeline) PrepareEconomy(ctx context.Context, u tasks.Unit) (tasks.EconomyPrep, error) {
	if p.economy == nil {
		return tasks.EconomyPrep{}, p.unsupported()
	}
	start := time.Now()
	pl, err := p.plan(ctx, u)
	if err != nil {
		return tasks.EconomyPrep{}, err
	}
	prep := tasks.EconomyPrep{Provider: p.Name(), Model: pl.model}
	t := economyTicket{Provider: p.Name(), Model: pl.model, SchemaSum: hexSum(pl.schemaSum()), Resolution: pl.resolution,
		InputTokens: pl.est.InputTokens}
	if c := p.cfg.Cache; c != nil {
		t.Key = hexSum(cacheKey(u.Data, p.Name(), pl.model, pl.resolution, pl.system, pl.prompt, pl.schemaSum()))
		a, err := c.get(ctx, string(t.Key))
		if err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("cache lookup failed; sending the unit")
		}
		if a != nil {
			m := tasks.Metrics{Provider: p.Name(), Model: pl.model, Resolution: pl.resolution, Cache: tasks.CacheHit,
				PreprocessMS: time.Since(start).Milliseconds()}
			an, err := p.finish(a, u, pl, m, 0, time.Now())
			prep.Hit = &an
			return prep, err
		}
	}
	req, err := p.request(ctx, u, pl)
	if err != nil {
		return tasks.EconomyPrep{}, err
	}
	if prep.Body, err = p.economy.client.batchBody(req); err != nil {
		return tasks.EconomyPrep{}, tasks.WrapError(tasks.CodeInternal, err, "the batch request could not be built")
	}
	prep.Ticket, _ = json.Marshal(t)
	prep.EstimateUSD, _ = p.economy.prices.Cost(pl.model, int(pl.est.InputTokens), int(pl.est.OutputTokens))
	return prep, nil
}

// FinishEconomy turns the outcome of u's batch request into u's result,
// as Analyze would have returned it: the answer validated against u's
// schema, checked by the guardrail, stored in the cache when it is valid,
// and priced at the batch price. u is the unit as it was prepared; its
// Data is not needed. An errored request returns its error; an expired or
// canceled one CodeProviderFailed or CodeCanceled.
func (p *Pipeline) FinishEconomy(ctx context.Context, u tasks.Unit, ticket json.RawMessage, o tasks.BatchOutcome) (tasks.Analysis, error) {
	post := time.Now()
	t, err := readTicket(ticket)
	if err != nil {
		return tasks.Analysis{}, err
	}
	if p.economy == nil || t.Provider != p.Name() {
		return tasks.Analysis{}, tasks.Errorf(tasks.CodeInternal, "a ticket of %q cannot be finished by %s", t.Provider, p.Name())
	}
	switch o.Result {
	case tasks.BatchSucceeded:
	case tasks.BatchErrored:
		if o.Err == nil {
			return tasks.Analysis{}, tasks.Errorf(tasks.CodeProviderFailed, "%s: the batch request errored", p.Name())
		}
		return tasks.Analysis{}, o.Err
	case tasks.BatchExpired:
		return tasks.Analysis{}, tasks.Errorf(tasks.CodeProviderFailed, "%s: the batch request expired before it was answered", p.Name())
	case tasks.BatchCanceled:
		return tasks.Analysis{}, tasks.Errorf(tasks.CodeCanceled, "%s: the batch request was canceled", p.Name())
	default:
		return tasks.Analysis{}, tasks.Errorf(tasks.CodeInternal, "%s: batch outcome %q", p.Name(), o.Result)
	}
	sch, err := p.compileSchema(u.Schema)
	if err != nil {
		return tasks.Analysis{}, err
	}
	if sum := (&plan{schema: sch}).schemaSum(); sum != string(t.SchemaSum) {
		return tasks.Analysis{}, tasks.Errorf(tasks.CodeInternal, "the unit's schema is not the one it was sent with")
	}
	resp, err := p.economy.client.batchAnswer(o.Response, sch != nil)
	if err != nil {
		return tasks.Analysis{}, tasks.WrapError(tasks.CodeProviderFailed, err, p.Name()+": the batch answer could not be parsed")
	}
	if !resp.UsageReported && resp.InputTokens == 0 {
		resp.InputTokens = int(t.InputTokens)
	}
	a := &answer{Text: resp.Text, StopReason: resp.StopReason, Model: cmpOr(resp.Model, t.Model),
		InputTokens: resp.InputTokens, OutputTokens: resp.OutputTokens}
	m := tasks.Metrics{Provider: p.Name(), Model: t.Model, Resolution: t.Resolution, ImageCount: 1}
	if c := p.cfg.Cache; c != nil && t.Key != "" {
		m.Cache = tasks.CacheMiss
		if sch == nil || sch.Validate([]byte(a.Text)) == nil {
			if err := c.put(context.WithoutCancel(ctx), string(t.Key), a); err != nil {
				zerolog.Ctx(ctx).Warn().Err(err).Msg("cache store failed")
			}
		}
	}
	return p.finish(a, u, &plan{model: t.Model, schema: sch}, m, p.economy.prices.answerCost(a, t.Model), post)
}

// hexSum is a hex string that goes in JSON as base64 when it is valid hex
// (64 hex characters become 43), as it is otherwise.
type hexSum string

func (h hexSum) MarshalJSON() ([]byte, error) {
	if b, err := hex.DecodeString(string(h)); err == nil {
		return json.Marshal("~" + base64.RawURLEncoding.EncodeToString(b))
	}
	return json.Marshal(string(h))
}

func (h *hexSum) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	if enc, ok := strings.CutPrefix(s, "~"); ok {
		b, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil {
			return err
		}
		s = hex.EncodeToString(b)
	}
	*h = hexSum(s)
	return nil
}

// readTicket decodes a ticket of PrepareEconomy.
func readTicket(b json.RawMessage) (economyTicket, error) {
	var t economyTicket
	if err := json.Unmarshal(b, &t); err != nil || t.Provider == "" || t.Model == "" {
		return t, tasks.Errorf(tasks.CodeInternal, "an economy ticket that does not read: %s", truncate(string(b), 200))
	}
	return t, nil
}
