package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/hibiken/asynq"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/metrics"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

// The metrics registry is what the worker and the API report to.
var (
	_ worker.Observer = (*metrics.Registry)(nil)
	_ api.Observer    = (*metrics.Registry)(nil)
)

// openMetrics makes the process's metrics registry when metrics.enabled or
// metrics.addr asks for one.
func (a *App) openMetrics() {
	if a.Config.Metrics.Enabled || a.Config.Metrics.Addr != "" {
		a.metrics = metrics.NewRegistry()
		a.metrics.LimitTenants(a.Config.Tenants())
	}
}

// apiObserver is the API's Observer: the registry, or nil (no metrics).
func (a *App) apiObserver() api.Observer {
	if a.metrics == nil {
		return nil
	}
	return a.metrics
}

// exportQueues adds the asynq queue metrics to the registry and serves
// /metrics on mux, the API's. Only the API process exports the queues: they
// live in the shared Redis, and every worker exporting them would multiply
// the series.
func (a *App) exportQueues(mux *http.ServeMux) error {
	if a.metrics == nil {
		return nil
	}
	queues := []string{tasks.WebhookQueue}
	for q := range tasks.Queues {
		queues = append(queues, q)
	}
	insp := asynq.NewInspectorFromRedisClient(a.rdb)
	onErr := func(err error) { a.Log.Warn().Err(err).Msg("metrics: could not read the queues") }
	if err := a.metrics.Register(metrics.NewQueueCollector(insp, queues, onErr)); err != nil {
		return err
	}
	if a.Config.Metrics.Enabled {
		mux.Handle("GET /metrics", a.metrics.Handler())
	}
	return nil
}

// serveMetrics serves /metrics on metrics.addr, if set.
func (a *App) serveMetrics() error {
	addr := a.Config.Metrics.Addr
	if addr == "" || a.metrics == nil {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics.addr: %w", err)
	}
	a.metricsLn = ln
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.Handler())
	a.metricsHTTP = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	srv := a.metricsHTTP
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Log.Error().Err(err).Msg("metrics server stopped")
		}
	}()
	a.Log.Info().Str("addr", ln.Addr().String()).Msg("serving /metrics")
	return nil
}

// apiAuth is the API's key configuration. It fails closed: an API with
// auth.enabled and no keys could answer nothing but 401, so it refuses to
// start, except that `mmq run` (AllowOpen) on a loopback address runs it
// open as a try-out that no other machine can reach, and says so in its
// banner. Only auth.enabled=false, said explicitly, opens a reachable API.
func (a *App) apiAuth() (api.AuthConfig, error) {
	c := a.Config.Auth
	auth := api.AuthConfig{Enabled: c.Enabled, Keys: c.Keys, RateLimit: c.RateLimit, Burst: c.Burst}
	switch {
	case !c.Enabled:
		a.authOff = "auth.enabled is false"
	case len(c.Keys) == 0 && a.AllowOpen && isLoopback(a.Config.API.Addr):
		auth.Enabled = false
		a.authOff = "auth.keys is empty; a try-out on a loopback address only"
	case len(c.Keys) == 0:
		return auth, fmt.Errorf("auth.enabled is true but auth.keys lists no key, and api.addr %s is reachable from other machines: "+
			"create a key with `mmq keys create` and put its hash in auth.keys (MMQ_AUTH_KEYS), "+
			"or serve on 127.0.0.1 to try mmq out, or set auth.enabled=false (MMQ_AUTH_ENABLED=false) to run the API open on a trusted network",
			a.Config.API.Addr)
	}
	if auth.Enabled {
		a.Log.Info().Int("keys", len(c.Keys)).Float64("rate_limit", c.RateLimit).Msg("API keys required")
	} else {
		a.Log.Warn().Str("why", a.authOff).Msg("API keys NOT required: anyone who reaches the API can use it")
	}
	return auth, nil
}

// isLoopback reports whether the listen address addr (host:port) accepts
// connections only from this machine: a loopback IP or "localhost". An
// empty host listens on every interface, so it is not.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// MetricsAddr returns the address /metrics is served on besides the API,
// or "".
func (a *App) MetricsAddr() string {
	if a.metricsLn == nil {
		return ""
	}
	return a.metricsLn.Addr().String()
}
