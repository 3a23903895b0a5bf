package provider

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/mmq/mmq/schema"
	"github.com/mmq/mmq/tasks"
)

// Combining: a job of scope document gets, after its pages, one answer for
// the whole job, made by the model from the page answers (their data, or
// their text without a schema). The answers of a large job are combined in
// rounds: groups that fit CombineMaxInputTokens are combined into partial
// answers, which are combined in turn, until one call holds them all, so
// that no call exceeds the model's context.

// FollowsInstructions reports whether the provider a job choosing provider
// ("" for the default) starts with can follow a job's instructions and
// schema: a model provider can, the local analyzer cannot.
func (r *Router) FollowsInstructions(provider string) (bool, error) {
	name, err := r.Provider(provider)
	if err != nil {
		return false, err
	}
	_, ok := r.analyzers[name].(*Pipeline)
	return ok, nil
}

// Combine makes the answer of a job of scope document from its unit
// results (those not done are left out), with the job's provider chain:
// the next model provider is tried when one fails transiently. An answer
// that does not validate against the job's schema after the re-asks comes
// with a CodeSchemaMismatch error and the Analysis of the last try.
func (r *Router) Combine(ctx context.Context, job *tasks.Job, rs []tasks.PageResult) (tasks.Analysis, error) {
	items := combineItems(job.Kind, rs)
	if len(items) == 0 {
		return tasks.Analysis{}, tasks.Errorf(tasks.CodePagesFailed, "no page has an answer to combine")
	}
	chain, err := r.Chain(job.Options.Provider)
	if err != nil {
		return tasks.Analysis{}, err
	}
	var lastErr error = tasks.Errorf(tasks.CodeProviderRequired, "no model provider of this job can combine its answers")
	for _, name := range chain {
		p, ok := r.analyzers[name].(*Pipeline)
		if !ok {
			continue
		}
		an, err := p.combine(ctx, job, items)
		if err == nil || ctx.Err() != nil || tasks.IsPermanent(err) {
			return an, err
		}
		zerolog.Ctx(ctx).Warn().Err(err).Str("provider", name).Msg("combining failed; falling back")
		lastErr = err
	}
	return tasks.Analysis{}, lastErr
}

// EstimateCombine returns the calls that combine the answers of pages
// (their estimates, in page order) into one answer for a job with opts, in
// rounds: one estimate per call. A job of scope page makes none.
func (r *Router) EstimateCombine(ctx context.Context, opts tasks.Options, pages []tasks.PageEstimate) ([]tasks.PageEstimate, error) {
	if opts.Scope != tasks.ScopeDocument || len(pages) == 0 {
		return nil, nil
	}
	chain, err := r.Chain(opts.Provider)
	if err != nil {
		return nil, err
	}
	p, ok := r.analyzers[chain[0]].(*Pipeline)
	if !ok {
		return nil, nil
	}
	return p.estimateCombine(opts, pages)
}

// combineItem is one answer to combine: a unit's, or a partial combined one.
type combineItem struct {
	label, body string
}

func (it combineItem) tokens() int { return textTokens(it.label) + textTokens(it.body) + 8 }

// combineItems returns the answers of the done results, in order.
func combineItems(kind tasks.Kind, rs []tasks.PageResult) []combineItem {
	var items []combineItem
	for _, r := range rs {
		if r.Status != tasks.PageDone || len(r.Output) == 0 {
			continue
		}
		var out struct {
			Text string          `json:"text"`
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal(r.Output, &out) != nil {
			continue
		}
		body := out.Text
		if len(out.Data) > 0 && string(out.Data) != "null" {
			body = string(out.Data)
		}
		if strings.TrimSpace(body) == "" {
			continue
		}
		label := fmt.Sprintf("Page %d", r.Index)
		if kind == tasks.KindVideo {
			label = fmt.Sprintf("Frame %d at %.1fs", r.Index, r.Timestamp)
		}
		items = append(items, combineItem{label: label, body: body})
	}
	return items
}

// groups splits items of the given token sizes into consecutive groups of
// at most budget tokens each, every group holding at least two items
// (sizes must be at most budget/2) unless only one is left.
func groups(sizes []int, budget int) [][2]int {
	var out [][2]int
	start, sum := 0, 0
	for i, s := range sizes {
		if i > start+1 && sum+s > budget {
			out = append(out, [2]int{start, i})
			start, sum = i, 0
		}
		sum += s
	}
	return append(out, [2]int{start, len(sizes)})
}

// combineSetup is what every combining call of a job shares.
type combineSetup struct {
	task   *task
	model  string
	schema *schema.Schema
	system string
	// budget is the tokens one call's items may take.
	budget int
}

func (p *Pipeline) combineSetup(opts tasks.Options, kind tasks.Kind) (*combineSetup, error) {
	t, ok := p.tasks[cmp.Or(opts.Task, DefaultTask)]
	if !ok {
		return nil, tasks.Errorf(tasks.CodeInvalidRequest, "task %q has no prompt for %s", opts.Task, p.Name())
	}
	sch, err := p.compileSchema(opts.Schema)
	if err != nil {
		return nil, err
	}
	what := "pages of one document"
	if kind == tasks.KindVideo {
		what = "frames of one video"
	}
	c := &combineSetup{task: t, schema: sch,
		model:  p.cfg.Routes.Model(t.Complexity, false, p.cfg.Model),
		system: "You combine the answers extracted from the " + what + " into one answer for the whole.",
	}
	fixed := textTokens(c.system) + textTokens(combinePrompt(kind, opts.Instructions, sch != nil, true, nil)) + messageOverhead
	if sch != nil {
		fixed += textTokens(string(sch.Raw)) + schemaOverhead
	}
	c.budget = p.cfg.CombineMaxInputTokens - fixed
	if c.budget < 200 {
		return nil, tasks.Errorf(tasks.CodeInvalidRequest, "the schema and instructions leave no room to combine answers in %d tokens", p.cfg.CombineMaxInputTokens)
	}
	return c, nil
}

// combinePrompt is the user prompt of one combining call.
func combinePrompt(kind tasks.Kind, instructions string, withSchema, final bool, items []combineItem) string {
	unit, whole := "page", "document"
	if kind == tasks.KindVideo {
		unit, whole = "frame", "video"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The answers below were extracted from the %ss of one %s, in order", unit, whole)
	if !final {
		fmt.Fprintf(&b, "; they are a part of the %s, and your answer will be combined with those of the other parts", whole)
	}
	fmt.Fprintf(&b, ".\nCombine them into ONE answer for the whole: merge lists, keep each fact once, "+
		"take facts that span %ss (totals, parties, dates) from where they are stated, and never invent values.", unit)
	prompt := extractionPrompt(b.String(), instructions, withSchema)
	if !withSchema {
		prompt += "\n\nAnswer with JSON if the answers are JSON, else with text."
	}
	b.Reset()
	b.WriteString(prompt)
	for _, it := range items {
		fmt.Fprintf(&b, "\n\n<answer of=%q>\n%s\n</answer>", it.label, it.body)
	}
	return b.String()
}

// combine makes a job's answer from items, in rounds.
func (p *Pipeline) combine(ctx context.Context, job *tasks.Job, items []combineItem) (tasks.Analysis, error) {
	start := time.Now()
	c, err := p.combineSetup(job.Options, job.Kind)
	if err != nil {
		return tasks.Analysis{}, err
	}
	// Every group must hold two items: cut the few that are longer.
	for i := range items {
		items[i].body = truncateTokens(items[i].body, c.budget/2-textTokens(items[i].label)-8)
	}
	u := tasks.Unit{JobID: job.ID, Kind: job.Kind}
	m := tasks.Metrics{Provider: p.Name(), Model: c.model}
	var total answer
	for round := 1; ; round++ {
		sizes := make([]int, len(items))
		for i, it := range items {
			sizes[i] = it.tokens()
		}
		gs := groups(sizes, c.budget)
		final := len(gs) == 1
		var next []combineItem
		for _, g := range gs {
			part := items[g[0]:g[1]]
			req := &Request{Model: c.model, System: c.system, MaxTokens: p.cfg.CombineMaxTokens,
				Prompt: combinePrompt(job.Kind, job.Options.Instructions, c.schema != nil, final, part)}
			if c.schema != nil {
				req.Schema = c.schema.Raw
			}
			est := textTokens(req.System) + textTokens(req.Prompt) + len(req.Schema)/4 + p.cfg.CombineMaxTokens/4
			a, err := p.ask(ctx, u, req, c.schema, est, &m)
			m.SchemaRetries += a.reasks
			if err != nil {
				return tasks.Analysis{}, err
			}
			total.InputTokens += a.ans.InputTokens
			total.OutputTokens += a.ans.OutputTokens
			total.Model, total.Text, total.StopReason = a.ans.Model, a.ans.Text, a.ans.StopReason
			if final {
				break
			}
			if a.mismatch != nil {
				an := tasks.Analysis{Analyzer: p.Name(), Model: total.Model, InputTokens: total.InputTokens,
					OutputTokens: total.OutputTokens, CostUSD: p.cost(&total, c.model), Metrics: m}
				return an, mismatchError(a.mismatch, a.reasks+1)
			}
			next = append(next, combineItem{
				label: fmt.Sprintf("%s to %s (combined)", part[0].label, part[len(part)-1].label),
				body:  truncateTokens(a.ans.Text, c.budget/2-40),
			})
		}
		if final {
			m.InferenceMS = time.Since(start).Milliseconds() - m.ThrottledMS
			zerolog.Ctx(ctx).Debug().Int("rounds", round).Int("input_tokens", total.InputTokens).Msg("answers combined")
			pl := &plan{task: c.task, model: c.model, schema: c.schema}
			return p.finish(&total, u, pl, m, p.cost(&total, c.model), time.Now())
		}
		items = next
	}
}

// estimateCombine is combine's plan without the calls: every page answer
// is taken to be as long as its estimated output, every partial answer as
// long as the final one.
func (p *Pipeline) estimateCombine(opts tasks.Options, pages []tasks.PageEstimate) ([]tasks.PageEstimate, error) {
	c, err := p.combineSetup(opts, tasks.KindDocument)
	if err != nil {
		return nil, err
	}
	fixed := p.cfg.CombineMaxInputTokens - c.budget
	out := int64(c.task.OutputTokens)
	if c.schema != nil {
		out = int64(answerTokens(c.schema.Raw))
	}
	out = min(out, int64(p.cfg.CombineMaxTokens))
	sizes := make([]int, len(pages))
	for i, pe := range pages {
		sizes[i] = min(int(pe.OutputTokens)+12, c.budget/2)
	}
	var calls []tasks.PageEstimate
	for {
		gs := groups(sizes, c.budget)
		var next []int
		for _, g := range gs {
			in := int64(fixed)
			for _, s := range sizes[g[0]:g[1]] {
				in += int64(s)
			}
			e := tasks.PageEstimate{Index: len(calls) + 1, Model: c.model, InputTokens: in, OutputTokens: out}
			e.CostUSD, _ = p.cfg.Prices.Cost(c.model, int(e.InputTokens), int(e.OutputTokens))
			calls = append(calls, e)
			next = append(next, int(out)+20)
		}
		if len(gs) == 1 {
			return calls, nil
		}
		sizes = next
	}
}

// truncateTokens cuts s to about n tokens, on a rune boundary.
func truncateTokens(s string, n int) string {
	limit := max(n, 1) * 4
	if len(s) <= limit {
		return s
	}
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	return s[:limit] + "…"
}
