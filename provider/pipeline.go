package provider

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mmq/mmq/schema"
	"github.com/mmq/mmq/tasks"
)

// DefaultTask is the task of a unit that names none.
const DefaultTask = "general_qa"

// PageInfo is what routing and estimates need to know of a PDF page.
type PageInfo struct {
	WidthPt, HeightPt float64
	// Images counts the raster images the page paints.
	Images int
	// TextChars is the length of the page's text, in characters.
	TextChars int
}

// InspectFunc reads a single-page PDF's PageInfo. cmd/mmq passes the local
// analyzer's reader.
type InspectFunc func(ctx context.Context, pdf []byte) (PageInfo, error)

// PipelineConfig configures a Pipeline. Model and Tasks are required.
type PipelineConfig struct {
	// Model is the model where Routes names none.
	Model string
	// Routes picks a model by task complexity and input kind.
	Routes Routes
	// Tasks are the analysis tasks units may name, by name.
	Tasks map[string]TaskConfig
	// Prices turn usage into cost. A model without a price costs 0.
	Prices Prices
	// ImageTokens estimates an image's tokens by resolution.
	ImageTokens ImageTokens
	// PDFPageTokens estimates the image part of a page sent as a PDF, which
	// the provider renders itself (its text is counted apart). Defaults to
	// 1550, what Claude counts for a page rendered within its 1.15
	// megapixel bound.
	PDFPageTokens int
	// Cache, if set, answers identical units from Redis.
	Cache *Cache
	// Limiter, if set, spaces the calls of every worker.
	Limiter *Limiter
	// Guardrail checks answers for personal data; nil checks nothing.
	Guardrail *Guardrail
	// Inspect reads a page's PageInfo for routing and estimates. Defaults
	// to a scan of the PDF's bytes for image objects, which knows no text.
	Inspect InspectFunc
	// Rasterizer renders pages for a client that takes no PDF.
	Rasterizer Rasterizer
	// SchemaRetries is how many more times a unit whose answer does not
	// validate against its job's schema is asked, with the validation
	// errors fed back, before it fails with CodeSchemaMismatch. Defaults
	// to 2; negative means none.
	SchemaRetries int
	// CombineMaxInputTokens bounds the input of one call that combines
	// page answers into a job's answer (scope document); more pages are
	// combined in rounds. Defaults to 60,000, well inside every supported
	// model's context.
	CombineMaxInputTokens int
	// CombineMaxTokens bounds a combined answer. Defaults to 4096.
	CombineMaxTokens int
	// Batch says whether economy mode sends units through the provider's
	// batch API (see pipeline_batch.go). Defaults to BatchAuto.
	Batch BatchMode
	// BatchPrices price the units answered through the batch API.
	// Defaults to half of Prices, model by model; an entry here replaces
	// its model's half price.
	BatchPrices Prices
}

// Defaults of PipelineConfig; the configuration's keys default to them
// too.
const (
	DefaultPDFPageTokens         = 1550
	DefaultSchemaRetries         = 2
	DefaultCombineMaxInputTokens = 60_000
	DefaultCombineMaxTokens      = 4096
)

func (c *PipelineConfig) setDefaults() {
	if c.PDFPageTokens == 0 {
		c.PDFPageTokens = DefaultPDFPageTokens
	}
	if c.Inspect == nil {
		c.Inspect = scanPage
	}
	switch {
	case c.SchemaRetries == 0:
		c.SchemaRetries = DefaultSchemaRetries
	case c.SchemaRetries < 0:
		c.SchemaRetries = 0
	}
	if c.CombineMaxInputTokens == 0 {
		c.CombineMaxInputTokens = DefaultCombineMaxInputTokens
	}
	if c.CombineMaxTokens == 0 {
		c.CombineMaxTokens = DefaultCombineMaxTokens
	}
}

// Pipeline analyzes units with one model client and the controls around
// it, in this order: route (task → model, resolution, prompts), cache
// lookup, preprocessing (render or downscale), rate limit, the call, cost,
// guardrail, cache store. It records every step in the result's Metrics.
type Pipeline struct {
	client  Client
	cfg     PipelineConfig
	tasks   map[string]*task
	schemas *schema.Cache
	// economy is the batch API of economy mode; nil when there is none.
	economy *economy
}

var _ Analyzer = (*Pipeline)(nil)

// Validate reports a PipelineConfig that cannot work.
func (c *PipelineConfig) Validate() error {
	if c.Model == "" {
		return errors.New("provider: pipeline has no model")
	}
	if err := c.Routes.validate(); err != nil {
		return err
	}
	if c.CombineMaxInputTokens < 1000 || c.CombineMaxTokens < 16 {
		return errors.New("provider: combine_max_input_tokens must be at least 1000 and combine_max_tokens 16")
	}
	return nil
}

// NewPipeline returns a Pipeline around client.
func NewPipeline(cfg PipelineConfig, client Client) (*Pipeline, error) {
	if client == nil {
		return nil, errors.New("provider: pipeline needs a client")
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", client.Name(), err)
	}
	p := &Pipeline{client: client, cfg: cfg, tasks: map[string]*task{},
		schemas: &schema.Cache{MaxBytes: tasks.MaxSchemaBytes}}
	for name, tc := range cfg.Tasks {
		t, err := newTask(name, tc)
		if err != nil {
			return nil, err
		}
		p.tasks[name] = t
	}
	if len(p.tasks) == 0 {
		return nil, errors.New("provider: pipeline has no tasks")
	}
	var err error
	if p.economy, err = newEconomy(cfg, client); err != nil {
		return nil, err
	}
	return p, nil
}

// Name returns the client's name.
func (p *Pipeline) Name() string { return p.client.Name() }

// Models returns the models the pipeline may call.
func (p *Pipeline) Models() []string {
	ms := []string{p.cfg.Model}
	for _, m := range p.cfg.Routes {
		if m != "" && !slices.Contains(ms, m) {
			ms = append(ms, m)
		}
	}
	return ms
}

// plan is what a unit will be sent as, decided before any costly step.
type plan struct {
	task           *task
	model          string
	resolution     int
	system, prompt string
	schema         *schema.Schema
	info           PageInfo
	hasImage       bool
	est            tasks.PageEstimate
}

func (p *Pipeline) plan(ctx context.Context, u tasks.Unit) (*plan, error) {
	name := u.Task
	if name == "" {
		name = DefaultTask
	}
	t, ok := p.tasks[name]
	if !ok {
		return nil, tasks.Errorf(tasks.CodeInvalidRequest, "task %q has no prompt for %s", name, p.Name())
	}
	u.Task = name
	pl := &plan{task: t}
	switch u.Kind {
	case tasks.KindVideo:
		pl.hasImage = true
		pl.resolution = t.Resolution
	case tasks.KindDocument:
		if len(u.Data) == 0 {
			return nil, tasks.Errorf(tasks.CodeInvalidRequest, "page %d has no data", u.Index)
		}
		info, err := p.cfg.Inspect(ctx, u.Data)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// Routing can do without: the page is taken to hold images.
			zerolog.Ctx(ctx).Debug().Err(err).Int("page", u.Index).Msg("page inspection failed; routing as an image page")
			info.Images = 1
		}
		pl.info, pl.hasImage = info, info.Images > 0
		if !p.client.AcceptsPDF() {
			pl.resolution = t.Resolution
		}
	default:
		return nil, tasks.Errorf(tasks.CodeInvalidRequest, "unit %d has unknown kind %q", u.Index, u.Kind)
	}
	pl.model = p.cfg.Routes.Model(t.Complexity, pl.hasImage, p.cfg.Model)
	var err error
	if pl.system, pl.prompt, err = t.render(u); err != nil {
		return nil, tasks.WrapError(tasks.CodeInternal, err, "the prompt template failed")
	}
	if pl.schema, err = p.compileSchema(u.Schema); err != nil {
		return nil, err
	}
	pl.prompt = extractionPrompt(pl.prompt, u.Instructions, pl.schema != nil)
	pl.est = p.estimate(u, pl)
	return pl, nil
}

// estimate counts the tokens a plan should use and what they cost.
func (p *Pipeline) estimate(u tasks.Unit, pl *plan) tasks.PageEstimate {
	e := tasks.PageEstimate{Index: u.Index, Model: pl.model}
	text := 0
	switch {
	case u.Kind == tasks.KindVideo || !p.client.AcceptsPDF():
		e.ImageTokens = int64(p.cfg.ImageTokens.At(pl.resolution))
	default:
		e.ImageTokens = int64(p.cfg.PDFPageTokens)
		// The provider extracts the page's text and counts it as input.
		text = charTokens(pl.info.TextChars)
	}
	e.InputTokens = int64(textTokens(pl.system)+textTokens(pl.prompt)+messageOverhead+text) + e.ImageTokens
	out := float64(pl.task.OutputTokens) + pl.task.OutputTextRatio*float64(charTokens(pl.info.TextChars))
	if pl.schema != nil {
		// The schema travels with the request; the answer is shaped by it.
		e.InputTokens += int64(textTokens(string(pl.schema.Raw)) + schemaOverhead)
		out = float64(answerTokens(pl.schema.Raw))
	}
	e.OutputTokens = int64(min(out, float64(pl.task.MaxTokens)))
	e.CostUSD, _ = p.cfg.Prices.Cost(pl.model, int(e.InputTokens), int(e.OutputTokens))
	return e
}

// Estimate returns the expected tokens and cost of analyzing u.
func (p *Pipeline) Estimate(ctx context.Context, u tasks.Unit) (tasks.PageEstimate, error) {
	pl, err := p.plan(ctx, u)
	if err != nil {
		return tasks.PageEstimate{}, err
	}
	return pl.est, nil
}

// EstimateCost returns the expected cost of analyzing u, in USD; the
// worker reserves it against a job's budget.
func (p *Pipeline) EstimateCost(ctx context.Context, u tasks.Unit) (float64, error) {
	e, err := p.Estimate(ctx, u)
	return e.CostUSD, err
}

// Analyze runs u through the pipeline.
func (p *Pipeline) Analyze(ctx context.Context, u tasks.Unit) (tasks.Analysis, error) {
	start := time.Now()
	var m tasks.Metrics
	m.Provider = p.Name()
	pl, err := p.plan(ctx, u)
	if err != nil {
		return tasks.Analysis{}, err
	}
	m.Model, m.Resolution = pl.model, pl.resolution

	var key string
	var f *flight
	if c := p.cfg.Cache; c != nil {
		key = cacheKey(u.Data, p.Name(), pl.model, pl.resolution, pl.system, pl.prompt, pl.schemaSum())
		a, err := c.get(ctx, key)
		if err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("cache lookup failed; calling the model")
		}
		for a == nil {
			var leader bool
			if f, leader = c.join(key); leader {
				break
			}
			// An identical unit is being analyzed: take its answer.
			select {
			case <-f.done:
			case <-ctx.Done():
				return tasks.Analysis{}, ctx.Err()
			}
			switch {
			case errors.Is(f.err, context.Canceled), errors.Is(f.err, context.DeadlineExceeded):
				// The leader's task was stopped, not this one's: lead now.
				f = nil
			case f.err != nil:
				return tasks.Analysis{}, f.err
			default:
				a, f = f.ans, nil
			}
		}
		if a != nil {
			m.Cache = tasks.CacheHit
			m.PreprocessMS = time.Since(start).Milliseconds()
			return p.finish(a, u, pl, m, 0, time.Now())
		}
		m.Cache = tasks.CacheMiss
	}

	a, m, err := p.call(ctx, u, pl, m, start)
	post := time.Now()
	var mismatch error
	if err == nil && a.mismatch != nil {
		// Never cached, never stored as valid: the page fails (in finish),
		// its last answer kept for inspection.
		mismatch = mismatchError(a.mismatch, a.reasks+1)
	}
	if err == nil && mismatch == nil && p.cfg.Cache != nil {
		// Store before the flight lands: a caller arriving in between
		// must find the answer in Redis, not start a second call.
		if err := p.cfg.Cache.put(context.WithoutCancel(ctx), key, a.ans); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("cache store failed")
		}
	}
	if f != nil {
		p.cfg.Cache.land(key, f, a.answerOrNil(), cmp.Or(err, mismatch))
	}
	if err != nil {
		return tasks.Analysis{}, err
	}
	return p.finish(a.ans, u, pl, m, p.cost(a.ans, pl.model), post)
}

// cost prices a's usage at the model that answered, or the planned one.
func (p *Pipeline) cost(a *answer, planned string) float64 {
	return p.cfg.Prices.answerCost(a, planned)
}

func (pl *plan) schemaSum() string {
	if pl.schema == nil {
		return ""
	}
	return pl.schema.Sum
}

// call preprocesses u, waits for the limiter and calls the model, asking
// again while the answer does not follow the unit's schema.
func (p *Pipeline) call(ctx context.Context, u tasks.Unit, pl *plan, m tasks.Metrics, start time.Time) (asked, tasks.Metrics, error) {
	req, err := p.request(ctx, u, pl)
	if err != nil {
		return asked{}, m, err
	}
	m.ImageCount = 1
	m.PreprocessMS = time.Since(start).Milliseconds()

	sent := time.Now()
	a, err := p.ask(ctx, u, req, pl.schema, int(pl.est.InputTokens+pl.est.OutputTokens), &m)
	m.InferenceMS = time.Since(sent).Milliseconds() - m.ThrottledMS
	m.SchemaRetries = a.reasks
	return a, m, err
}

// request is the request u is sent as, realtime or in a provider batch.
func (p *Pipeline) request(ctx context.Context, u tasks.Unit, pl *plan) (*Request, error) {
	req := &Request{Model: pl.model, System: pl.system, Prompt: pl.prompt, MaxTokens: pl.task.MaxTokens}
	if pl.schema != nil {
		req.Schema = pl.schema.Raw
	}
	part, err := p.preprocess(ctx, u, pl)
	if err != nil {
		return nil, err
	}
	req.Parts = []Part{part}
	return req, nil
}

// preprocess returns the part u is sent as: the PDF page itself, the page
// rendered at the plan's resolution, or the frame downscaled to it.
func (p *Pipeline) preprocess(ctx context.Context, u tasks.Unit, pl *plan) (Part, error) {
	if u.Kind == tasks.KindDocument {
		if p.client.AcceptsPDF() {
			return Part{MIME: "application/pdf", Data: u.Data}, nil
		}
		png, err := p.cfg.Rasterizer.Rasterize(ctx, u.Data, pl.resolution)
		if err != nil {
			return Part{}, err
		}
		return Part{MIME: "image/png", Data: png}, nil
	}
	data, mime, _, _, err := Downscale(u.Data, pl.resolution)
	if err != nil {
		return Part{}, err
	}
	return Part{MIME: mime, Data: data}, nil
}

// Output is the stored result of a model-analyzed unit.
type Output struct {
	// Text is the model's answer, redacted if the guardrail redacts.
	Text string `json:"text"`
	// Data is the answer parsed, when it is a JSON value (bare or in a
	// fenced block).
	Data       json.RawMessage `json:"data,omitempty"`
	StopReason string          `json:"stop_reason,omitempty"`
	// GuardrailFlags lists the personal data found in the answer.
	GuardrailFlags []Flag `json:"guardrail_flags,omitempty"`
	Redacted       bool   `json:"redacted,omitempty"`
	// SchemaErrors says why an answer does not validate against the job's
	// schema; set only on a failed unit, whose Text is the last answer.
	SchemaErrors []schema.Issue `json:"schema_errors,omitempty"`
}

// finish post-processes an answer into the unit's Analysis. A cached
// answer costs nothing and reports no tokens. An answer that does not
// validate against the unit's schema (after the re-asks, or once the
// guardrail redacted it) comes with a CodeSchemaMismatch error, and the
// Analysis keeps it, with its cost, for the failed page's record.
func (p *Pipeline) finish(a *answer, u tasks.Unit, pl *plan, m tasks.Metrics, cost float64, post time.Time) (tasks.Analysis, error) {
	out := Output{Text: a.Text, StopReason: a.StopReason}
	if g := p.cfg.Guardrail; g != nil {
		out.GuardrailFlags, out.Text = g.Check(a.Text)
		out.Redacted = g.Redact && len(out.GuardrailFlags) > 0
	}
	if pl.schema == nil {
		out.Data = jsonAnswer(out.Text)
	} else if data, mm := schemaData(out.Text, pl.schema); mm == nil {
		out.Data = data
	} else {
		out.SchemaErrors = mm.Issues
	}
	b, _ := json.Marshal(out)
	an := tasks.Analysis{Output: b, Analyzer: p.Name(), Model: a.Model}
	if m.Cache != tasks.CacheHit {
		an.InputTokens, an.OutputTokens, an.CostUSD = a.InputTokens, a.OutputTokens, cost
	}
	m.PostprocessMS = time.Since(post).Milliseconds()
	m.GuardrailFlags = len(out.GuardrailFlags)
	an.Metrics = m
	if len(out.SchemaErrors) > 0 {
		an.Metrics.Error = tasks.CodeSchemaMismatch
		return an, mismatchError(&schema.MismatchError{Issues: out.SchemaErrors}, m.SchemaRetries+1)
	}
	return an, nil
}

// jsonAnswer returns text as JSON if it is a JSON object or array, bare or
// in a ``` fenced block; nil otherwise.
func jsonAnswer(text string) json.RawMessage {
	s := strings.TrimSpace(text)
	if strings.HasPrefix(s, "```") {
		s = strings.TrimPrefix(s, "```json")
		s = strings.TrimPrefix(s, "```")
		s = strings.TrimSuffix(strings.TrimSpace(s), "```")
		s = strings.TrimSpace(s)
	}
	if s == "" || (s[0] != '{' && s[0] != '[') || !json.Valid([]byte(s)) {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, []byte(s)) != nil {
		return nil
	}
	return buf.Bytes()
}

// scanPage is the default InspectFunc: it counts image XObjects in the
// PDF's bytes. It sees no text, and no image inside a compressed object
// stream.
func scanPage(_ context.Context, pdf []byte) (PageInfo, error) {
	n := bytes.Count(pdf, []byte("/Subtype/Image")) + bytes.Count(pdf, []byte("/Subtype /Image"))
	return PageInfo{Images: n}, nil
}
