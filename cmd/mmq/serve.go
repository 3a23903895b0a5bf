package main

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mmq/mmq/config"
	"github.com/mmq/mmq/ssrf"
)

func newRunCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run API, worker and asynqmon in one process (embedded Redis when none is configured)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd, &App{RunAPI: true, RunWorker: true, AllowEmbedded: true, AllowOpen: true})
		},
	}
}

func newAPICmd() *cobra.Command {
	return &cobra.Command{
		Use:   "api",
		Short: "Run the HTTP API and asynqmon (needs redis.addr)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd, &App{RunAPI: true})
		},
	}
}

func newWorkerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Run a worker process (needs redis.addr); add more for more throughput",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd, &App{RunWorker: true})
		},
	}
}

// serve starts app and runs until a signal (or the API server failing).
func serve(cmd *cobra.Command, app *App) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	app.Config = cfg
	app.Log, err = newLogger(cfg.Log, os.Stderr)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if err := app.Start(ctx); err != nil {
		return err
	}
	banner(cmd.OutOrStdout(), app)
	select {
	case <-ctx.Done():
		app.Log.Info().Msg("shutting down: finishing in-flight pages")
	case err = <-app.ServeErr():
	}
	if cerr := app.Close(); err == nil {
		err = cerr
	}
	app.Log.Info().Msg("stopped")
	return err
}

// banner tells a person what runs where.
func banner(w io.Writer, app *App) {
	var b strings.Builder
	b.WriteString("\nmmq is running\n")
	if app.Embedded() {
		b.WriteString("  redis:      EMBEDDED in-memory Redis (miniredis): nothing survives a restart.\n" +
			"              For real use set MMQ_REDIS_ADDR (or redis.addr in the config file).\n")
	} else {
		fmt.Fprintf(&b, "  redis:      %s\n", describeRedis(app.Config.Redis))
	}
	if addr := app.Addr(); addr != "" {
		fmt.Fprintf(&b, "  api:        http://%s/v1/jobs\n", addr)
		if app.Config.Monitor.Enabled {
			fmt.Fprintf(&b, "  asynqmon:   http://%s%s\n", addr, app.Config.Monitor.Path)
		}
		if app.Config.Metrics.Enabled {
			fmt.Fprintf(&b, "  metrics:    http://%s/metrics\n", addr)
		}
		if app.authOff != "" {
			fmt.Fprintf(&b, "  auth:       OFF (%s): anyone who reaches the API can use it.\n"+
				"              For real use run `mmq keys create` and set auth.keys (MMQ_AUTH_KEYS).\n", app.authOff)
		} else {
			fmt.Fprintf(&b, "  auth:       API key required (%d keys); the CLI reads MMQ_API_KEY\n", len(app.Config.Auth.Keys))
		}
		fmt.Fprintf(&b, "  try:        go run ./cmd/mmq submit --server http://%s FILE.pdf --wait\n", addr)
	}
	if addr := app.MetricsAddr(); addr != "" {
		fmt.Fprintf(&b, "  metrics:    http://%s/metrics\n", addr)
	}
	if app.RunWorker {
		fmt.Fprintf(&b, "  worker:     %d jobs at once, %d pages per job, %d pages per process\n",
			app.Config.Worker.Concurrency, app.Config.Worker.PageConcurrency, app.Config.Worker.ProcessPageConcurrency)
	}
	b.WriteString("\n")
	fmt.Fprint(w, b.String())
}

// newLogger builds the process logger: JSON, or console lines when the
// format is console or auto on a terminal.
//
// It also makes every error any logger of the process logs pass through
// ssrf.RedactText (zerolog.ErrorMarshalFunc is process-wide): errors from
// the network name internal addresses and the resolver's, and an
// *url.Error the whole URL with its query string, where presigned URLs
// and callback URLs keep their secrets. No package has to remember to.
func newLogger(c config.Log, w *os.File) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		return zerolog.Logger{}, fmt.Errorf("log.level: %w", err)
	}
	redactErrorsOnce.Do(func() { zerolog.ErrorMarshalFunc = redactedError })
	var out io.Writer = w
	if c.Format == "console" || (c.Format == "auto" && term.IsTerminal(int(w.Fd()))) {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(out).Level(level).With().Timestamp().Logger(), nil
}

// redactErrorsOnce sets zerolog.ErrorMarshalFunc once: loggers may already
// be logging when another is built.
var redactErrorsOnce sync.Once

// redactedError is the process's zerolog.ErrorMarshalFunc. Like zerolog's
// own, it logs nothing for a nil error, typed or not.
func redactedError(err error) any {
	if v := reflect.ValueOf(err); err == nil || v.Kind() == reflect.Pointer && v.IsNil() {
		return nil
	}
	return ssrf.Redact(err)
}
