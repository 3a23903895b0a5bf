// Command chaosworker is an mmq worker process for the chaos suite: the real
// worker, store and PDF splitter, with an analyzer that sleeps and then
// records each finished analysis in a log file the suite reads (outside
// Redis, so a Redis restart cannot lose the count).
//
// With -provider anthropic it analyzes with the real provider pipeline
// (client, retries, routing, prices) against the model API at
// -provider-url, a fake one the suite runs, and tags every HTTP request
// with the page it is for (header X-Chaos-Unit: "job page"). With
// -webhook-secret it delivers webhooks, as `mmq worker` does with
// webhooks.secret set.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mmq/mmq/config"
	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/provider"
	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/webhook"
	"github.com/mmq/mmq/worker"
)

// UnitHeader names the page a provider request is for: "job page".
const UnitHeader = "X-Chaos-Unit"

// countingAnalyzer appends "S job page" to its log when an analysis starts
// and "D job page" when it finishes; with an inner analyzer, "F job page"
// when that fails. Without one it sleeps its latency.
type countingAnalyzer struct {
	latency time.Duration
	inner   worker.Analyzer
	mu      sync.Mutex
	log     *os.File
}

type unitKey struct{}

func (a *countingAnalyzer) Analyze(ctx context.Context, u tasks.Unit) (tasks.Analysis, error) {
	if err := a.record("S", u); err != nil {
		return tasks.Analysis{}, err
	}
	if a.inner != nil {
		an, err := a.inner.Analyze(context.WithValue(ctx, unitKey{}, fmt.Sprintf("%s %d", u.JobID, u.Index)), u)
		what := "D"
		if err != nil {
			if ctx.Err() != nil {
				return an, err
			}
			what = "F"
		}
		if rerr := a.record(what, u); rerr != nil && err == nil {
			return tasks.Analysis{}, rerr
		}
		return an, err
	}
	t := time.NewTimer(a.latency)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return tasks.Analysis{}, ctx.Err()
	case <-t.C:
	}
	if err := a.record("D", u); err != nil {
		return tasks.Analysis{}, err
	}
	out, _ := json.Marshal(map[string]int{"page": u.Index, "bytes": len(u.Data)})
	return tasks.Analysis{Output: out, Analyzer: "chaos"}, nil
}

// record writes one line with one write(2) on an O_APPEND file, so a
// SIGKILL loses no line that was written.
func (a *countingAnalyzer) record(what string, u tasks.Unit) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err := fmt.Fprintf(a.log, "%s %s %d\n", what, u.JobID, u.Index)
	return err
}

// tagging adds UnitHeader to the requests made for a page.
type tagging struct{ next http.RoundTripper }

func (t tagging) RoundTrip(r *http.Request) (*http.Response, error) {
	if v, ok := r.Context().Value(unitKey{}).(string); ok {
		r = r.Clone(r.Context())
		r.Header.Set(UnitHeader, v)
	}
	return t.next.RoundTrip(r)
}

// providerFlags configure the real provider pipeline.
type providerFlags struct {
	name, url, key, model string
	timeout, base, cap    time.Duration
	retries               int
}

// newProvider builds the pipeline the way cmd/mmq does for
// analyzer.provider=anthropic (or openai), with the default configuration's
// tasks, prices, routes and token tables, without cache, rate limiter or
// guardrail, behind the provider router.
func newProvider(pf providerFlags) (worker.Analyzer, error) {
	cfg, err := config.Load("", nil)
	if err != nil {
		return nil, err
	}
	pc := cfg.Providers.Anthropic
	if pf.name == config.ProviderOpenAI {
		pc = cfg.Providers.OpenAI
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	hc := provider.HTTPConfig{
		BaseURL: pf.url, APIKey: pf.key, Timeout: pf.timeout, MaxRetries: pf.retries,
		Backoff: tasks.Backoff{Base: pf.base, Cap: pf.cap}, MaxRetryWait: 10 * time.Second,
		HTTPClient: &http.Client{Transport: tagging{t}},
	}
	var client provider.Client
	switch pf.name {
	case config.ProviderAnthropic:
		client, err = provider.NewAnthropic(provider.AnthropicConfig{HTTP: hc})
	case config.ProviderOpenAI:
		client, err = provider.NewOpenAI(provider.OpenAIConfig{HTTP: hc})
	default:
		err = fmt.Errorf("unknown provider %q", pf.name)
	}
	if err != nil {
		return nil, err
	}
	prices, err := provider.ParsePrices(cfg.Prices)
	if err != nil {
		return nil, err
	}
	taskConfigs := make(map[string]provider.TaskConfig, len(cfg.Analysis.Tasks))
	for name, t := range cfg.Analysis.Tasks {
		taskConfigs[name] = provider.TaskConfig{
			Complexity: provider.Complexity(t.Complexity), Resolution: t.Resolution, System: t.System, Prompt: t.Prompt,
			MaxTokens: t.MaxTokens, OutputTokens: t.OutputTokens, OutputTextRatio: t.OutputTextRatio,
		}
	}
	imageTokens, err := pc.ImageTokensByResolution()
	if err != nil {
		return nil, err
	}
	model := pc.Model
	if pf.model != "" {
		model = pf.model
	}
	p, err := provider.NewPipeline(provider.PipelineConfig{
		Model: model, Routes: provider.Routes(pc.Routes), Tasks: taskConfigs, Prices: prices,
		ImageTokens: provider.ImageTokens(imageTokens), PDFPageTokens: pc.PDFPageTokens,
	}, client)
	if err != nil {
		return nil, err
	}
	return provider.NewRouter(provider.RouterConfig{Default: pf.name}, map[string]provider.Analyzer{pf.name: p})
}

func main() {
	addr := flag.String("redis", "127.0.0.1:6379", "Redis address")
	db := flag.Int("db", 0, "Redis DB")
	blobs := flag.String("blobs", "", "blob directory")
	logPath := flag.String("log", "", "analysis log file")
	latency := flag.Duration("latency", 20*time.Millisecond, "analysis latency (without -provider)")
	shutdown := flag.Duration("shutdown-timeout", 10*time.Second, "graceful shutdown timeout")
	pageAttempts := flag.Int("page-attempts", 3, "tries per page (worker.page_attempts)")
	var pf providerFlags
	flag.StringVar(&pf.name, "provider", "", "analyze with this model provider's pipeline: anthropic or openai (default: a sleeping analyzer)")
	flag.StringVar(&pf.url, "provider-url", "", "the provider's base URL")
	flag.StringVar(&pf.key, "provider-key", "chaos-key", "the provider's API key")
	flag.StringVar(&pf.model, "provider-model", "", "the provider's default model (default: the configuration's)")
	flag.DurationVar(&pf.timeout, "provider-timeout", 300*time.Millisecond, "limit on one provider call attempt")
	flag.IntVar(&pf.retries, "provider-retries", 3, "provider retries of a call (max_retries)")
	flag.DurationVar(&pf.base, "provider-retry-base", 20*time.Millisecond, "provider retry backoff base")
	flag.DurationVar(&pf.cap, "provider-retry-cap", 200*time.Millisecond, "provider retry backoff cap")
	whSecret := flag.String("webhook-secret", "", "deliver webhooks signed with this secret (webhooks.secret)")
	whSchedule := flag.String("webhook-schedule", "0s,1s,2s,2s,2s,2s,2s,2s", "webhooks.schedule")
	whTimeout := flag.Duration("webhook-timeout", 2*time.Second, "webhooks.timeout")
	allowPrivate := flag.Bool("allow-private", false, "ssrf.allow_private_networks")
	flag.Parse()

	logger := zerolog.New(os.Stderr).With().Timestamp().Int("pid", os.Getpid()).Logger().Level(zerolog.WarnLevel)
	f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		logger.Fatal().Err(err).Msg("open log")
	}
	rdb := redis.NewClient(&redis.Options{Addr: *addr, DB: *db})
	st, err := store.New(rdb, store.Config{Prefix: "chaos"})
	if err != nil {
		logger.Fatal().Err(err).Msg("store")
	}
	lb, err := fsblob.New(*blobs)
	if err != nil {
		logger.Fatal().Err(err).Msg("blobs")
	}
	open := func(ctx context.Context, data []byte, password string) (worker.Document, error) {
		return media.OpenPDF(ctx, data, media.PDFOptions{Password: password})
	}
	an := &countingAnalyzer{latency: *latency, log: f}
	if pf.name != "" {
		if an.inner, err = newProvider(pf); err != nil {
			logger.Fatal().Err(err).Msg("provider")
		}
	}
	deps := worker.Deps{Store: st, Blobs: lb, Analyzer: an, OpenPDF: open, Logger: logger}
	cfg := worker.Config{
		Concurrency:            8,
		PageConcurrency:        4,
		ProcessPageConcurrency: 16,
		PageAttempts:           *pageAttempts,
		PageBackoff:            tasks.Backoff{Base: 50 * time.Millisecond, Cap: time.Second},
		TaskBackoff:            tasks.Backoff{Base: 200 * time.Millisecond, Cap: 2 * time.Second},
		ShutdownTimeout:        *shutdown,
	}
	if *whSecret != "" {
		sched, err := tasks.ParseSchedule(*whSchedule)
		if err != nil {
			logger.Fatal().Err(err).Msg("webhook schedule")
		}
		d, err := webhook.New(webhook.Config{Secret: *whSecret, Timeout: *whTimeout,
			SSRF: ssrf.Config{AllowPrivateNetworks: *allowPrivate}})
		if err != nil {
			logger.Fatal().Err(err).Msg("webhooks")
		}
		deps.Queue, deps.Deliverer = asynq.NewClientFromRedisClient(rdb), d
		cfg.Webhooks = tasks.WebhookTaskConfig{Schedule: sched, Timeout: *whTimeout + 15*time.Second, Retention: time.Hour}
	}
	w, err := worker.New(cfg, deps, rdb)
	if err != nil {
		logger.Fatal().Err(err).Msg("worker")
	}
	if err := w.Start(); err != nil {
		logger.Fatal().Err(err).Msg("start")
	}
	fmt.Println("ready")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	<-ctx.Done()
	stop()
	w.Shutdown()
	f.Close()
}
