package api

import (
	"context"
	"errors"
	"net/http"
	"sync"
)

// redisCheck names the store's ping among the readiness checks.
const redisCheck = "redis"

// healthResponse is the body of /healthz and /readyz.
type healthResponse struct {
	Status string `json:"status"`
	// Checks maps each readiness check to "ok" or a few words of why not
	// (checkMessage's).
	Checks map[string]string `json:"checks,omitempty"`
}

// handleHealth answers as long as the process serves HTTP: GET /healthz.
func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, healthResponse{Status: "ok"})
}

// handleReady runs every readiness check at once under one ReadinessTimeout
// and answers 503 if any fails: GET /readyz. A check whose error wraps
// ErrDegraded is reported, and the status says "degraded", but the answer
// stays 200. Checks must return when their context ends.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	checks := make(map[string]func(context.Context) error, len(s.deps.Checks)+1)
	checks[redisCheck] = s.deps.Store.Ping
	for name, check := range s.deps.Checks {
		checks[name] = check
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadinessTimeout)
	defer cancel()

	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		results = make(map[string]string, len(checks))
		ready   = true
		// degraded says an optional part is missing.
		degraded bool
	)
	for name, check := range checks {
		wg.Go(func() {
			err := check(ctx)
			mu.Lock()
			defer mu.Unlock()
			results[name] = "ok"
			switch {
			case errors.Is(err, ErrDegraded):
				results[name] = checkMessage(name, err)
				degraded = true
				s.log.Debug().Str("check", name).Err(err).Msg("readiness check degraded")
			case err != nil:
				results[name] = checkMessage(name, err)
				ready = false
				s.log.Warn().Str("check", name).Err(err).Msg("readiness check failed")
			}
		})
	}
	wg.Wait()
	if !ready {
		writeJSON(w, http.StatusServiceUnavailable, healthResponse{Status: "unavailable", Checks: results})
		return
	}
	status := "ready"
	if degraded {
		status = "degraded"
	}
	writeJSON(w, http.StatusOK, healthResponse{Status: status, Checks: results})
}

// checkMessage is what /readyz, which anyone may ask, says of the check
// name that failed with err: a few words, never err's text, which names
// the Redis address ("dial tcp 10.0.0.7:6379"), paths or the blob store's
// URL. The cause goes to the log.
func checkMessage(name string, err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return name + " did not answer in time"
	}
	return name + " unavailable"
}

// ErrDegraded is wrapped by the error of a readiness check that finds an
// optional part missing (ffmpeg: videos fail, documents work): /readyz
// reports it without taking the server out of service.
var ErrDegraded = errors.New("degraded")
