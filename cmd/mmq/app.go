package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mmq/mmq/analyzer"
	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/config"
	"github.com/mmq/mmq/internal/autopipe"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/metrics"
	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/webhook"
	"github.com/mmq/mmq/worker"
)

// App is one mmq process: the parts its configuration asks for, wired
// together. `mmq run` starts every part; `mmq api` and `mmq worker` one.
type App struct {
	Config *config.Config
	Log    zerolog.Logger
	// RunAPI and RunWorker choose the parts.
	RunAPI, RunWorker bool
	// AllowEmbedded lets an empty redis.addr start an in-memory Redis.
	AllowEmbedded bool
	// AllowOpen lets an API whose auth.keys is empty run without API keys
	// (`mmq run`); without it that configuration is refused.
	AllowOpen bool

	embedded *miniredis.Miniredis
	rdb      redis.UniversalClient
	// redisConf is redis.* with the embedded Redis's address filled in.
	redisConf config.Redis
	// redisTLS is redis.tls's configuration, nil for plain TCP.
	redisTLS *tls.Config
	store    *store.Redis
	queue    *asynq.Client
	worker   *worker.Worker
	http     *http.Server
	ln       net.Listener
	serveErr chan error
	// metrics is nil when neither metrics.enabled nor metrics.addr asks
	// for metrics; metricsHTTP serves them on metrics.addr.
	metrics     *metrics.Registry
	metricsHTTP *http.Server
	metricsLn   net.Listener
	// authOff says why the API runs without keys; empty when it needs them.
	authOff string
	// streamRDB and streamStore serve the API's event streams.
	streamRDB   redis.UniversalClient
	streamStore *store.Redis
	// monitor is asynqmon, which holds Redis connections of its own.
	monitor *asynqmon.HTTPHandler
}

// Start opens Redis and starts the chosen parts. On error, what was started
// is closed again.
func (a *App) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := a.openRedis(ctx); err != nil {
		return err
	}
	cfg := a.Config
	storeConf := store.Config{
		Prefix:              cfg.Store.Prefix,
		Retention:           cfg.Store.Retention,
		NotificationsMaxLen: cfg.Store.NotificationsMaxLen,
		NotificationsMaxAge: cfg.Store.NotificationsMaxAge,
		PasswordTTL:         cfg.Store.PasswordTTL,
		MaxPageResultBytes:  cfg.Store.MaxPageResultBytes,
		Quotas:              cfg.Quotas,
	}
	// The store deletes the inputs no job uses any more.
	blobs, err := a.openBlobs(ctx)
	if err != nil {
		return err
	}
	storeConf.Blobs = blobs
	if a.store, err = store.New(a.rdb, storeConf); err != nil {
		return err
	}
	// Jobs of a release before the status indexes are put into them once.
	if n, err := a.store.BackfillStatusIndexes(ctx); err != nil {
		return err
	} else if n > 0 {
		a.Log.Info().Int("jobs", n).Msg("indexed the stored jobs by status")
	}
	// So are their references to their inputs, which then go with them.
	if n, err := a.store.BackfillBlobRefs(ctx); err != nil {
		return err
	} else if n > 0 {
		a.Log.Info().Int("jobs", n).Msg("referenced the inputs of the stored jobs")
	}
	if a.RunAPI {
		// The API's event streams block in Redis: on a client of their
		// own, so that they never take a connection a request needs.
		a.streamRDB = newRedisClient(a.redisConf, a.redisTLS)
		if a.streamStore, err = store.New(a.streamRDB, storeConf); err != nil {
			return err
		}
	}
	a.openMetrics()
	if a.RunWorker {
		if err := a.startWorker(blobs); err != nil {
			return err
		}
	}
	if a.RunAPI {
		if err := a.startAPI(blobs); err != nil {
			return err
		}
	}
	return a.serveMetrics()
}

func (a *App) openRedis(ctx context.Context) error {
	rc := a.Config.Redis
	if rc.Addr == "" && rc.Mode() == config.RedisModeSingle {
		if !a.AllowEmbedded {
			return errors.New("redis.addr is not set (MMQ_REDIS_ADDR or --redis-addr); only `mmq run` may start an embedded Redis")
		}
		mr, err := miniredis.Run()
		if err != nil {
			return fmt.Errorf("start embedded redis: %w", err)
		}
		a.embedded = mr
		rc.Addr = mr.Addr()
	}
	a.redisConf = rc
	if a.embedded == nil {
		tc, err := redisTLS(rc.TLS)
		if err != nil {
			return err
		}
		a.redisTLS = tc
	}
	a.rdb = newRedisClient(rc, a.redisTLS)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.rdb.Ping(pctx).Err(); err != nil {
		return fmt.Errorf("redis at %s does not answer: %w", describeRedis(rc), err)
	}
	return nil
}

// Embedded reports whether the app runs on its own in-memory Redis.
func (a *App) Embedded() bool { return a.embedded != nil }

func (a *App) startWorker(blobs blobStore) error {
	cfg := a.Config
	local, err := analyzer.NewLocal(analyzer.LocalConfig{PDFToTextPath: cfg.Tools.PDFToText})
	if err != nil {
		return err
	}
	openPDF := func(ctx context.Context, data []byte, password string) (worker.Document, error) {
		return media.OpenDocument(ctx, data, documentOptions(cfg, password, 0))
	}
	guard, whTasks, err := a.outgoing()
	if err != nil {
		return err
	}
	videos, err := a.videos()
	if err != nil {
		return err
	}
	an, err := workerAnalyzer(modelWiring{cfg: cfg, rdb: a.rdb, store: a.store, log: a.Log, local: local})
	if err != nil {
		return err
	}
	deps := worker.Deps{Store: a.store, Blobs: blobs, Analyzer: an, OpenPDF: openPDF, Logger: a.Log,
		OpenVideo: openVideo(videos), Sniff: media.SniffKind, Sweeper: a.store}
	if a.metrics != nil {
		deps.Observer = a.metrics
	}
	if cfg.Webhooks.Secret != "" {
		d, err := webhook.New(webhook.Config{Secret: cfg.Webhooks.Secret, PreviousSecrets: cfg.Webhooks.PreviousSecrets,
			TenantSecrets: cfg.Webhooks.SecretsByTenant(), Timeout: cfg.Webhooks.Timeout, SSRF: guard})
		if err != nil {
			return fmt.Errorf("webhooks.secret: %w", err)
		}
		a.openQueue()
		deps.Queue, deps.Deliverer = a.queue, d
	} else {
		a.Log.Info().Msg("webhooks off: webhooks.secret (MMQ_WEBHOOKS_SECRET) is not set")
	}
	if deps.Economy = workerEconomy(an); deps.Economy != nil && deps.Queue == nil {
		// The economy tasks (gather, poll) are enqueued by the worker.
		a.openQueue()
		deps.Queue = a.queue
	}
	setGCPercent(a.Log, cfg.Worker.GCPercent)
	a.worker, err = worker.New(worker.Config{
		Concurrency:              cfg.Worker.Concurrency,
		PageConcurrency:          cfg.Worker.PageConcurrency,
		ProcessPageConcurrency:   cfg.Worker.ProcessPageConcurrency,
		PageAttempts:             cfg.Worker.PageAttempts,
		PageBackoff:              tasks.Backoff{Base: cfg.Worker.PageBackoffBase, Cap: cfg.Worker.PageBackoffCap},
		TaskBackoff:              tasks.Backoff{Base: cfg.Tasks.RetryBase, Cap: cfg.Tasks.RetryCap},
		TaskCheckInterval:        cfg.Worker.TaskCheckInterval,
		DelayedTaskCheckInterval: cfg.Worker.DelayedTaskCheckInterval,
		BlobSweepInterval:        cfg.Worker.BlobSweepInterval,
		ShutdownTimeout:          cfg.Worker.ShutdownTimeout,
		MaxPages:                 cfg.Limits.MaxPages,
		Fetch:                    worker.FetchConfig{Timeout: cfg.Worker.FetchTimeout, MaxBytes: cfg.Limits.MaxUploadBytes, SSRF: guard},
		Webhooks:                 whTasks,
		WebhookConcurrency:       cfg.Webhooks.Concurrency,
		Economy:                  a.economyConfig(),
	}, deps, a.rdb)
	if err != nil {
		return err
	}
	if a.metrics != nil {
		h := a.worker.Handler()
		if err := a.metrics.WatchPages(h.PagesInFlight, h.PageSlots()); err != nil {
			return err
		}
	}
	if err := local.Available(); err != nil && cfg.Uses(config.ProviderLocal) {
		a.Log.Warn().Err(err).Msg("pages analyzed locally will fail with pdftotext_unavailable")
	}
	a.Log.Info().Int("concurrency", cfg.Worker.Concurrency).
		Int("page_concurrency", cfg.Worker.PageConcurrency).Msg("worker starting")
	return a.worker.Start()
}

// pdftotextCheck is the "pdftotext" readiness check. The local analyzer
// reads page text with pdftotext: without it the service is unready when
// the configuration uses the local analyzer (its pages would all fail with
// pdftotext_unavailable), and only degraded when jobs go to model
// providers alone.
func pdftotextCheck(cfg *config.Config) func(context.Context) error {
	return func(context.Context) error {
		_, err := exec.LookPath(cfg.Tools.PDFToText)
		switch {
		case err == nil:
			return nil
		case cfg.Uses(config.ProviderLocal):
			return fmt.Errorf("%s: %w", tasks.CodePDFToTextUnavailable, err)
		default:
			return fmt.Errorf("%w: %s: %v", api.ErrDegraded, tasks.CodePDFToTextUnavailable, err)
		}
	}
}

func (a *App) startAPI(blobs blobStore) error {
	cfg := a.Config
	a.openQueue()
	guard, whTasks, err := a.outgoing()
	if err != nil {
		return err
	}
	videos, err := a.videos()
	if err != nil {
		return err
	}
	models, err := a.apiModels()
	if err != nil {
		return err
	}
	auth, err := a.apiAuth()
	if err != nil {
		return err
	}
	srv, err := api.New(api.Config{
		MaxUploadBytes:         cfg.Limits.MaxUploadBytes,
		MaxPages:               cfg.Limits.MaxPages,
		MaxFrames:              cfg.Limits.MaxFrames,
		MaxBatchJobs:           cfg.Limits.MaxBatchJobs,
		MaxBatchUploadBytes:    cfg.Limits.MaxBatchUploadBytes,
		Auth:                   auth,
		BodyMinRate:            cfg.API.BodyMinRate,
		BodyGrace:              cfg.API.BodyGrace,
		MaxUploadBytesInFlight: cfg.API.MaxUploadBytesInFlight,
		SpoolDir:               a.spoolDir(),
		Streams:                api.StreamConfig{Max: cfg.API.MaxStreams, MaxPerKey: cfg.API.MaxStreamsPerKey},
		Enqueue:                tasks.EnqueueConfig{Timeout: cfg.Tasks.Timeout, MaxRetry: cfg.Tasks.MaxRetry, Retention: cfg.Tasks.Retention},
		SSRF:                   guard,
		RefuseCallbacks:        cfg.Webhooks.Secret == "",
		Webhooks:               whTasks,
	}, api.Deps{
		Store:      a.store,
		Blobs:      blobs,
		Queue:      a.queue,
		Tasks:      asynq.NewInspectorFromRedisClient(a.rdb),
		Sniff:      media.SniffKind,
		Logger:     a.Log,
		Observer:   a.apiObserver(),
		Streams:    a.streamStore,
		KeyLimiter: keyLimiter(a.rdb, cfg.Store.Prefix, auth),
		InspectPDF: func(ctx context.Context, data []byte, password string, maxPages int) (int, error) {
			d, err := media.OpenDocument(ctx, data, documentOptions(cfg, password, maxPages))
			if err != nil {
				return 0, err
			}
			return d.PageCount(), nil
		},
		InspectVideo: inspectVideo(videos),
		Models:       models,
		Checks: map[string]func(context.Context) error{
			"pdftotext": pdftotextCheck(cfg),
			"ffmpeg":    ffmpegCheck(videos),
			"blobs":     blobsCheck(blobs),
		},
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	if cfg.Monitor.Enabled {
		root := strings.TrimSuffix(cfg.Monitor.Path, "/")
		mon := asynqmon.New(asynqmon.Options{
			RootPath:          root,
			RedisConnOpt:      asynqConnOpt(a.redisConf, a.redisTLS),
			ReadOnly:          cfg.Monitor.ReadOnly,
			PrometheusAddress: cfg.Monitor.PrometheusAddr,
		})
		a.monitor = mon
		// Admin keys only, a browser with a login prompt; read-only
		// unless configured otherwise, changes same-origin only.
		mux.Handle(root+"/", srv.Monitoring(mon, cfg.Monitor.ReadOnly))
	}
	if err := a.exportQueues(mux); err != nil {
		return err
	}
	a.ln, err = net.Listen("tcp", cfg.API.Addr)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	a.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: cfg.API.ReadHeaderTimeout,
		IdleTimeout:       cfg.API.IdleTimeout,
		// No ReadTimeout or WriteTimeout: they would cut off event streams
		// and large uploads on slow links. Bodies are bounded by a minimum
		// rate instead (api.body_min_rate).
		MaxHeaderBytes: 64 << 10,
	}
	a.serveErr = make(chan error, 1)
	if c := cfg.API; c.TLSCertFile != "" {
		go func() { a.serveErr <- a.http.ServeTLS(a.ln, c.TLSCertFile, c.TLSKeyFile) }()
	} else {
		go func() { a.serveErr <- a.http.Serve(a.ln) }()
	}
	return nil
}

// openQueue makes the asynq client that the API and the worker (for
// webhooks) enqueue with, once. It rides the Redis client's autopipeliner:
// enqueues issued at the same time (a batch's, fanned out) go to Redis as
// one pipeline instead of one round trip each. Closing a.rdb stops it.
func (a *App) openQueue() {
	if a.queue != nil {
		return
	}
	ap, err := autopipe.Client(a.rdb)
	if err != nil {
		// Only a closed client or invalid options get here; enqueue one
		// round trip at a time rather than not at all.
		a.Log.Warn().Err(err).Msg("queue: no autopipelining; enqueues go one round trip each")
		a.queue = asynq.NewClientFromRedisClient(a.rdb)
		return
	}
	a.queue = asynq.NewClientFromRedisClient(ap)
}

// outgoing returns the SSRF guard of input downloads and webhooks, and the
// options of webhook:deliver tasks, which the API and the worker share.
func (a *App) outgoing() (ssrf.Config, tasks.WebhookTaskConfig, error) {
	cfg := a.Config
	nets, err := ssrf.ParseNetworks(cfg.SSRF.AllowedNetworks)
	if err != nil {
		return ssrf.Config{}, tasks.WebhookTaskConfig{}, err
	}
	sched, err := cfg.WebhookSchedule()
	if err != nil {
		return ssrf.Config{}, tasks.WebhookTaskConfig{}, err
	}
	guard := ssrf.Config{AllowPrivateNetworks: cfg.SSRF.AllowPrivateNetworks, AllowedNetworks: nets}
	// A task run is one attempt: its timeout leaves the attempt's own room
	// to end first. Retention keeps a delivered message's task id taken,
	// so that announcing the same end again sends nothing.
	wh := tasks.WebhookTaskConfig{Schedule: sched, Timeout: cfg.Webhooks.Timeout + 15*time.Second, Retention: cfg.Tasks.Retention}
	return guard, wh, nil
}

// Addr returns the API's listen address, or "" without an API.
func (a *App) Addr() string {
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// ServeErr reports the API server's end; nil channel without an API.
func (a *App) ServeErr() <-chan error { return a.serveErr }

// Close stops the parts in order: the API stops taking requests, the worker
// lets in-flight pages finish (worker.shutdown_timeout) and hands the rest
// back to the queue, then Redis closes. Safe to call twice.
func (a *App) Close() error {
	var errs []error
	if a.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), a.Config.API.ShutdownTimeout)
		errs = append(errs, a.http.Shutdown(ctx))
		cancel()
	}
	if a.metricsHTTP != nil {
		ctx, cancel := context.WithTimeout(context.Background(), a.Config.API.ShutdownTimeout)
		errs = append(errs, a.metricsHTTP.Shutdown(ctx))
		cancel()
		a.metricsHTTP = nil
	}
	if a.worker != nil {
		a.worker.Shutdown()
	}
	if a.monitor != nil {
		_ = a.monitor.Close()
		a.monitor = nil
	}
	if a.streamRDB != nil {
		_ = a.streamRDB.Close()
		a.streamRDB = nil
	}
	if a.rdb != nil {
		_ = a.rdb.Close()
		a.rdb = nil
	}
	if a.embedded != nil {
		a.embedded.Close()
		a.embedded = nil
	}
	return errors.Join(errs...)
}

// setGCPercent sets Go's GC target of a process that runs the worker to
// worker.gc_percent, unless the GOGC environment variable sets it: PDF
// parsing makes short-lived garbage several times a document's size, and
// a lower target keeps the heap's peak near 2.5x the document instead of
// 3.5x, at no measurable cost in speed (media's BenchmarkSplit).
func setGCPercent(log zerolog.Logger, percent int) {
	if _, ok := os.LookupEnv("GOGC"); ok || percent == -1 {
		return
	}
	debug.SetGCPercent(percent)
	log.Debug().Int("gc_percent", percent).Msg("Go GC target set")
}

// keyLimiter returns the per-key rate limit shared by every API process,
// or nil when there is none.
func keyLimiter(rdb redis.UniversalClient, prefix string, auth api.AuthConfig) api.KeyLimiter {
	if auth.RateLimit <= 0 {
		return nil
	}
	burst := auth.Burst
	if burst == 0 {
		burst = max(int(math.Ceil(2*auth.RateLimit)), 1)
	}
	return store.NewKeyLimiter(rdb, prefix, auth.RateLimit, burst)
}
