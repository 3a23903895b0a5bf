package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mmq/mmq/analyzer"
	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/config"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/provider"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

// modelWiring is what building the model providers needs of the app.
type modelWiring struct {
	cfg   *config.Config
	rdb   redis.UniversalClient
	store *store.Redis
	log   zerolog.Logger
	local *analyzer.Local
	// forWorker checks what only analysis needs (pdftoppm).
	forWorker bool
}

// buildRouter builds the provider router the configuration asks for: a
// pipeline (cache, rate limit, guardrail) around each model provider that
// analyzer.provider, analyzer.fallback or analyzer.allowed_providers name,
// and the local analyzer.
func buildRouter(w modelWiring) (*provider.Router, error) {
	cfg := w.cfg
	analyzers := map[string]provider.Analyzer{config.ProviderLocal: w.local}
	prices, err := provider.ParsePrices(cfg.Prices)
	if err != nil {
		return nil, fmt.Errorf("prices: %w", err)
	}
	taskConfigs := make(map[string]provider.TaskConfig, len(cfg.Analysis.Tasks))
	for name, t := range cfg.Analysis.Tasks {
		taskConfigs[name] = provider.TaskConfig{
			Complexity: provider.Complexity(t.Complexity), Resolution: t.Resolution, System: t.System, Prompt: t.Prompt,
			MaxTokens: t.MaxTokens, OutputTokens: t.OutputTokens, OutputTextRatio: t.OutputTextRatio,
		}
	}
	var cache *provider.Cache
	if cfg.Cache.Enabled {
		if cache, err = provider.NewCache(w.rdb, provider.CacheConfig{Prefix: cfg.Store.Prefix + ":cache:", TTL: cfg.Cache.TTL}); err != nil {
			return nil, err
		}
	}
	var guard *provider.Guardrail
	if cfg.Guardrails.Enabled {
		guard = &provider.Guardrail{Redact: cfg.Guardrails.Redact}
	}
	rasterizer := provider.Rasterizer{Path: cfg.Tools.PDFToPPM}

	for _, name := range []string{config.ProviderAnthropic, config.ProviderOpenAI} {
		if !cfg.Uses(name) {
			continue
		}
		pc := cfg.Providers.Anthropic
		if name == config.ProviderOpenAI {
			pc = cfg.Providers.OpenAI
		}
		hc := provider.HTTPConfig{
			BaseURL: pc.BaseURL, APIKey: pc.APIKey, Timeout: pc.Timeout, MaxRetries: pc.MaxRetries,
			Backoff: tasks.Backoff{Base: pc.RetryBase, Cap: pc.RetryCap}, MaxRetryWait: pc.MaxRetryWait,
		}
		if hc.MaxRetries == 0 {
			hc.MaxRetries = -1 // 0 in the config means none, not the default
		}
		var client provider.Client
		if name == config.ProviderAnthropic {
			client, err = provider.NewAnthropic(provider.AnthropicConfig{HTTP: hc})
		} else {
			client, err = provider.NewOpenAI(provider.OpenAIConfig{HTTP: hc})
			if err == nil && w.forWorker {
				err = rasterizer.Check()
			}
		}
		if err != nil {
			return nil, fmt.Errorf("providers.%s: %w", name, err)
		}
		imageTokens, err := pc.ImageTokensByResolution()
		if err != nil {
			return nil, fmt.Errorf("providers.%s.%w", name, err)
		}
		batchPrices, err := provider.ParsePrices(pc.BatchPrices)
		if err != nil {
			return nil, fmt.Errorf("providers.%s.batch_prices: %w", name, err)
		}
		pcfg := provider.PipelineConfig{
			Model: pc.Model, Routes: provider.Routes(pc.Routes), Tasks: taskConfigs, Prices: prices,
			ImageTokens: provider.ImageTokens(imageTokens), PDFPageTokens: pc.PDFPageTokens,
			Cache: cache, Guardrail: guard, Inspect: inspectPage, Rasterizer: rasterizer,
			SchemaRetries: cmp.Or(cfg.Analysis.SchemaRetries, -1), CombineMaxInputTokens: cfg.Analysis.CombineMaxInputTokens,
			CombineMaxTokens: cfg.Analysis.CombineMaxTokens, Batch: provider.BatchMode(pc.Batch), BatchPrices: batchPrices,
		}
		if pc.RequestsPerMinute > 0 || pc.TokensPerMinute > 0 {
			pcfg.Limiter, err = provider.NewLimiter(w.rdb, provider.LimiterConfig{
				Prefix: cfg.Store.Prefix + ":rate:", RequestsPerMinute: pc.RequestsPerMinute,
				TokensPerMinute: pc.TokensPerMinute, Burst: pc.Burst, OnThrottle: w.throttled,
			})
			if err != nil {
				return nil, fmt.Errorf("providers.%s: %w", name, err)
			}
		}
		p, err := provider.NewPipeline(pcfg, client)
		if err != nil {
			return nil, fmt.Errorf("providers.%s: %w", name, err)
		}
		for _, m := range p.Models() {
			if _, ok := prices[m]; !ok {
				w.log.Warn().Str("provider", name).Str("model", m).Msg("model has no price: its calls count as free and max_cost_usd cannot hold them")
			}
		}
		analyzers[name] = p
	}
	return provider.NewRouter(provider.RouterConfig{
		Default: cfg.Analyzer.Provider, Fallback: cfg.Analyzer.Fallback, Allowed: cfg.Analyzer.AllowedProviders,
	}, analyzers)
}

// throttled records on the job that a page waits for the rate limiter.
func (w modelWiring) throttled(ctx context.Context, u tasks.Unit, wait time.Duration) {
	if w.store == nil || u.JobID == "" {
		return
	}
	if err := w.store.ThrottlePage(context.WithoutCancel(ctx), u.JobID, u.Index, wait); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("could not record a throttled page")
	}
}

// inspectPage reads a page's shape with the local analyzer's PDF reader.
func inspectPage(ctx context.Context, pdf []byte) (provider.PageInfo, error) {
	s, err := analyzer.InspectPage(ctx, pdf)
	return provider.PageInfo{WidthPt: s.WidthPt, HeightPt: s.HeightPt, Images: s.Images, TextChars: s.TextChars}, err
}

// workerAnalyzer is what the worker analyzes with: the local analyzer
// alone when the configuration uses no model provider, else the router,
// with the local analyzer's video summaries.
func workerAnalyzer(w modelWiring) (worker.Analyzer, error) {
	cfg := w.cfg
	if cfg.Analyzer.Provider == config.ProviderLocal && !cfg.Uses(config.ProviderAnthropic) && !cfg.Uses(config.ProviderOpenAI) {
		return w.local, nil
	}
	w.forWorker = true
	r, err := buildRouter(w)
	if err != nil {
		return nil, err
	}
	w.log.Info().Str("provider", cfg.Analyzer.Provider).Strs("fallback", cfg.Analyzer.Fallback).
		Bool("cache", cfg.Cache.Enabled).Bool("guardrails", cfg.Guardrails.Enabled).Msg("model providers ready")
	return routedAnalyzer{Router: r, local: w.local}, nil
}

// routedAnalyzer is the provider router with the local analyzer's video
// summaries (scenes, near-duplicates), which tolerate model outputs.
type routedAnalyzer struct {
	*provider.Router
	local *analyzer.Local
}

var (
	_ worker.CostEstimator   = routedAnalyzer{}
	_ worker.FrameSummarizer = routedAnalyzer{}
)

func (r routedAnalyzer) SummarizeFrames(ctx context.Context, job *tasks.Job, rs []tasks.PageResult) (json.RawMessage, error) {
	return r.local.SummarizeFrames(ctx, job, rs)
}

// apiModels answers the API's estimates and provider checks with the
// router.
type apiModels struct {
	router *provider.Router
	cfg    *config.Config
}

var _ api.Models = apiModels{}

func (m apiModels) CheckProvider(name string) error {
	_, err := m.router.Chain(name)
	return err
}

func (m apiModels) FollowsInstructions(name string) (bool, error) {
	return m.router.FollowsInstructions(name)
}

// Estimate splits the PDF as the worker would and sums the estimates of
// its pages.
func (m apiModels) Estimate(ctx context.Context, data []byte, password string, opts tasks.Options) (*tasks.Estimate, error) {
	name, err := m.router.Provider(opts.Provider)
	if err != nil {
		return nil, err
	}
	doc, err := media.OpenDocument(ctx, data, documentOptions(m.cfg, password, opts.OpenLimit()))
	if err != nil {
		return nil, err
	}
	sel, _, err := opts.SelectPages(doc.PageCount())
	if err != nil {
		return nil, err
	}
	est := &tasks.Estimate{Provider: name, Task: cmp.Or(opts.Task, provider.DefaultTask), Models: []string{}}
	economy := m.router.SupportsEconomy(opts.Provider) == nil
	var economyCost float64
	for n := range sel.Pages(doc.PageCount()) {
		page, err := doc.Page(ctx, n)
		if err != nil {
			return nil, err
		}
		u := tasks.Unit{Kind: tasks.KindDocument, Index: n, Data: page, MIME: "application/pdf", Task: est.Task,
			Provider: opts.Provider, Instructions: opts.Instructions, Schema: opts.Schema}
		pe, err := m.router.Estimate(ctx, u)
		if err != nil {
			return nil, err
		}
		est.Add(pe)
		if economy {
			ee, err := m.router.EstimateEconomy(ctx, u)
			if err != nil {
				return nil, err
			}
			economyCost += ee.CostUSD
		}
	}
	calls, err := m.router.EstimateCombine(ctx, opts, est.PerPage)
	if err != nil {
		return nil, err
	}
	for _, c := range calls {
		est.AddCombine(c)
		economyCost += c.CostUSD
	}
	if economy {
		est.EconomyCostUSD = &economyCost
	}
	return est, nil
}

// apiModels builds the API's estimator: the router without what only
// analysis needs.
func (a *App) apiModels() (api.Models, error) {
	local, err := analyzer.NewLocal(analyzer.LocalConfig{PDFToTextPath: a.Config.Tools.PDFToText})
	if err != nil {
		return nil, err
	}
	r, err := buildRouter(modelWiring{cfg: a.Config, rdb: a.rdb, store: a.store, log: a.Log, local: local})
	if err != nil {
		return nil, err
	}
	return apiModels{router: r, cfg: a.Config}, nil
}

// documentOptions are the options a document (a PDF or an image) is opened
// with, in the worker, at submit and for an estimate alike.
func documentOptions(cfg *config.Config, password string, maxPages int) media.DocumentOptions {
	return media.DocumentOptions{
		PDF:   media.PDFOptions{Password: password, MaxPages: maxPages, Repair: cfg.Worker.RepairPDF, QPDFPath: cfg.Tools.QPDF},
		Image: media.ImageOptions{MaxPixels: cfg.Limits.MaxImagePixels},
	}
}
