package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
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
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
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

	embedded *miniredis.Miniredis
	rdb      redis.UniversalClient
	store    *store.Redis
	queue    *asynq.Client
	worker   *worker.Worker
	http     *http.Server
	ln       net.Listener
	serveErr chan error
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
	if a.store, err = store.New(a.rdb, store.Config{
		Prefix:              cfg.Store.Prefix,
		Retention:           cfg.Store.Retention,
		NotificationsMaxLen: cfg.Store.NotificationsMaxLen,
	}); err != nil {
		return err
	}
	blobs, err := store.NewLocalBlobs(cfg.Blobs.Dir)
	if err != nil {
		return err
	}
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
	return nil
}

func (a *App) openRedis(ctx context.Context) error {
	rc := a.Config.Redis
	if rc.Addr == "" {
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
	a.rdb = redis.NewClient(&redis.Options{Addr: rc.Addr, Username: rc.Username, Password: rc.Password, DB: rc.DB})
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.rdb.Ping(pctx).Err(); err != nil {
		return fmt.Errorf("redis at %s does not answer: %w", rc.Addr, err)
	}
	return nil
}

// Embedded reports whether the app runs on its own in-memory Redis.
func (a *App) Embedded() bool { return a.embedded != nil }

func (a *App) startWorker(blobs *store.LocalBlobs) error {
	cfg := a.Config
	local, err := analyzer.NewLocal(analyzer.LocalConfig{PDFToTextPath: cfg.Tools.PDFToText})
	if err != nil {
		return err
	}
	openPDF := func(ctx context.Context, data []byte, password string) (worker.Document, error) {
		return media.OpenPDF(ctx, data, media.PDFOptions{Password: password, Repair: cfg.Worker.RepairPDF, QPDFPath: cfg.Tools.QPDF})
	}
	a.worker, err = worker.New(worker.Config{
		Concurrency:              cfg.Worker.Concurrency,
		PageConcurrency:          cfg.Worker.PageConcurrency,
		ProcessPageConcurrency:   cfg.Worker.ProcessPageConcurrency,
		PageAttempts:             cfg.Worker.PageAttempts,
		PageBackoff:              tasks.Backoff{Base: cfg.Worker.PageBackoffBase, Cap: cfg.Worker.PageBackoffCap},
		TaskBackoff:              tasks.Backoff{Base: cfg.Tasks.RetryBase, Cap: cfg.Tasks.RetryCap},
		TaskCheckInterval:        cfg.Worker.TaskCheckInterval,
		DelayedTaskCheckInterval: cfg.Worker.DelayedTaskCheckInterval,
		ShutdownTimeout:          cfg.Worker.ShutdownTimeout,
		MaxPages:                 cfg.Limits.MaxPages,
		Repair:                   cfg.Worker.RepairPDF,
		Fetch:                    worker.FetchConfig{Timeout: cfg.Worker.FetchTimeout, MaxBytes: cfg.Limits.MaxUploadBytes},
	}, worker.Deps{Store: a.store, Blobs: blobs, Analyzer: local, OpenPDF: openPDF, Logger: a.Log}, a.rdb)
	if err != nil {
		return err
	}
	a.Log.Info().Str("text_extractor", local.TextExtractor()).Int("concurrency", cfg.Worker.Concurrency).
		Int("page_concurrency", cfg.Worker.PageConcurrency).Msg("worker starting")
	return a.worker.Start()
}

func (a *App) startAPI(blobs *store.LocalBlobs) error {
	cfg := a.Config
	a.queue = asynq.NewClientFromRedisClient(a.rdb)
	srv, err := api.New(api.Config{
		MaxUploadBytes: cfg.Limits.MaxUploadBytes,
		MaxPages:       cfg.Limits.MaxPages,
		Enqueue:        tasks.EnqueueConfig{Timeout: cfg.Tasks.Timeout, MaxRetry: cfg.Tasks.MaxRetry, Retention: cfg.Tasks.Retention},
	}, api.Deps{
		Store:  a.store,
		Blobs:  blobs,
		Queue:  a.queue,
		Tasks:  asynq.NewInspectorFromRedisClient(a.rdb),
		Sniff:  media.SniffKind,
		Logger: a.Log,
		InspectPDF: func(ctx context.Context, data []byte, password string, maxPages int) (int, error) {
			d, err := media.OpenPDF(ctx, data, media.PDFOptions{Password: password, MaxPages: maxPages, Repair: cfg.Worker.RepairPDF, QPDFPath: cfg.Tools.QPDF})
			if err != nil {
				return 0, err
			}
			return d.PageCount(), nil
		},
		Checks: map[string]func(context.Context) error{
			"pdftotext": func(context.Context) error { _, err := exec.LookPath(cfg.Tools.PDFToText); return err },
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
			RootPath:     root,
			RedisConnOpt: redisConnOpt(a.rdb),
			ReadOnly:     cfg.Monitor.ReadOnly,
		})
		mux.Handle(root+"/", mon)
	}
	a.ln, err = net.Listen("tcp", cfg.API.Addr)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	a.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	a.serveErr = make(chan error, 1)
	go func() { a.serveErr <- a.http.Serve(a.ln) }()
	return nil
}

// redisConnOpt describes client's connection for asynqmon, which opens its own.
func redisConnOpt(c redis.UniversalClient) asynq.RedisConnOpt {
	o := c.(*redis.Client).Options()
	return asynq.RedisClientOpt{Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB}
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
	if a.worker != nil {
		a.worker.Shutdown()
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
