package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mmq/mmq/tasks"
)

// HTTPConfig configures the HTTP side of a Client. Zero values mean the
// documented defaults.
type HTTPConfig struct {
	// BaseURL is the API's root. Anthropic's defaults to
	// "https://api.anthropic.com"; OpenAI's to "https://api.openai.com/v1",
	// and any OpenAI-compatible server works by its own
	// ("http://localhost:11434/v1" for Ollama).
	BaseURL string
	// APIKey authenticates the calls. It is sent in a header and never
	// logged or put in an error.
	APIKey string
	// Timeout bounds one attempt, the whole streamed answer included.
	// Defaults to 120 s.
	Timeout time.Duration
	// MaxRetries is how many times a call that failed transiently (429,
	// 500, 502, 503, 504, 529, a network error, a garbled answer) is tried
	// again. Defaults to 4; negative means no retry.
	MaxRetries int
	// Backoff spaces the retries with full jitter: the n-th waits a random
	// time in [0, min(Cap, Base·2^n)], and never less than the provider's
	// Retry-After or rate-limit reset. Defaults to base 1 s, cap 30 s.
	Backoff tasks.Backoff
	// MaxRetryWait is the longest wait a Retry-After or reset header may
	// impose; a provider that asks for more ends the retries at once, so
	// the page can fall back or be retried later. Defaults to 60 s.
	MaxRetryWait time.Duration
	// HTTPClient sends the requests. Defaults to a client whose keep-alive
	// pool holds 32 connections per host, with 10 s dial and TLS timeouts
	// and a 60 s wait for response headers.
	HTTPClient *http.Client
}

// Defaults of HTTPConfig; the configuration's providers.* keys default to
// them too.
const (
	DefaultTimeout      = 120 * time.Second
	DefaultMaxRetries   = 4
	DefaultRetryBase    = time.Second
	DefaultRetryCap     = 30 * time.Second
	DefaultMaxRetryWait = time.Minute
)

func (c *HTTPConfig) setDefaults(baseURL string) {
	if c.BaseURL == "" {
		c.BaseURL = baseURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.Backoff.Base == 0 {
		c.Backoff.Base = DefaultRetryBase
	}
	if c.Backoff.Cap == 0 {
		c.Backoff.Cap = DefaultRetryCap
	}
	if c.MaxRetryWait == 0 {
		c.MaxRetryWait = DefaultMaxRetryWait
	}
	if c.HTTPClient == nil {
		c.HTTPClient = newHTTPClient()
	}
}

func (c *HTTPConfig) validate(name string) error {
	switch {
	case !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://"):
		return fmt.Errorf("provider: %s base URL %q is not an http(s) URL", name, c.BaseURL)
	case c.Timeout < 0 || c.MaxRetryWait < 0:
		return fmt.Errorf("provider: %s timeouts must not be negative", name)
	case c.Backoff.Base > c.Backoff.Cap:
		return fmt.Errorf("provider: %s backoff base %v exceeds its cap %v", name, c.Backoff.Base, c.Backoff.Cap)
	}
	return nil
}

// newHTTPClient returns a client for one provider: a pooled transport, and
// no overall timeout, since each attempt has its own context deadline.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 64
	t.MaxIdleConnsPerHost = 32
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{Transport: t}
}

// APIError is an error the provider reported, as an HTTP status or as an
// error event inside a stream.
type APIError struct {
	Provider string
	// Status is the HTTP status; 0 for an error event in a stream.
	Status int
	// Type is the provider's error type ("overloaded_error",
	// "rate_limit_error", "invalid_request_error", ...) and Code OpenAI's
	// error code, if any.
	Type    string
	Code    string
	Message string
	// RetryAfter is how long the provider asked to wait, from Retry-After
	// or its rate-limit reset headers; 0 if it did not say.
	RetryAfter time.Duration
	// RequestID is the provider's id of the request, for its support.
	RequestID string
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Type != "" {
		b.WriteString(": " + e.Type)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Temporary reports whether trying again may succeed: 408, 429, 500, 502,
// 503, 504 and 529 (Anthropic's "overloaded"), and error events in a
// stream of those kinds. Other 4xx (400, 401, 403, 404, 413, ...) are the
// request's fault.
func (e *APIError) Temporary() bool {
	switch e.Status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, 529:
		return true
	case 0:
		switch e.Type {
		case "overloaded_error", "api_error", "rate_limit_error", "server_error", "timeout_error":
			return true
		}
	}
	return false
}

// errGarbled marks an answer that could not be parsed: a transient fault of
// the provider or of the network, retried like one.
var errGarbled = errors.New("provider: garbled answer")

// caller runs one provider's calls with mmq's retry policy; the SDKs' own
// retries are off, so this is the one place that decides.
type caller struct {
	name string
	cfg  HTTPConfig
	// apiError turns an SDK error into an *APIError when the provider
	// answered; raw is the attempt's response, when there was one.
	apiError func(err error, raw *http.Response) error
}

// call makes attempts until one succeeds, fails permanently, or the retries
// are spent. attempt makes one call under its own timeout.
func (c *caller) call(ctx context.Context, attempt func(ctx context.Context) (*Response, error)) (*Response, error) {
	var resp *Response
	n, last, err := c.do(ctx, c.cfg.Timeout, anyTransient, func(ctx context.Context) (err error) {
		resp, err = attempt(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	resp.Retries, resp.LastError = n, last
	return resp, nil
}

// do makes attempts, each under timeout (none when 0), until one
// succeeds, fails permanently, or the retries are spent; retryable says
// which transient failures (an APIError that is Temporary, a network
// error, a garbled answer) may be tried again. It returns the retries
// made and the last error a retry got past.
func (c *caller) do(ctx context.Context, timeout time.Duration, retryable func(error) bool, attempt func(ctx context.Context) error) (int, error, error) {
	var last error
	for n := 0; ; n++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, timeout)
		}
		err := attempt(actx)
		cancel()
		if err == nil {
			return n, last, nil
		}
		if ctx.Err() != nil {
			return n, last, fmt.Errorf("provider: %s: %w", c.name, ctx.Err())
		}
		var ae *APIError
		isAPI := errors.As(err, &ae)
		if isAPI && !ae.Temporary() {
			return n, last, tasks.WrapError(tasks.CodeProviderRefused, err, ae.Error())
		}
		if !retryable(err) || n >= c.cfg.MaxRetries {
			return n, last, tasks.WrapError(tasks.CodeProviderFailed, err, fmt.Sprintf("%s (after %d attempts)", clientMessage(c.name, err), n+1))
		}
		wait := c.cfg.Backoff.Delay(n)
		if isAPI && ae.RetryAfter > 0 {
			if ae.RetryAfter > c.cfg.MaxRetryWait {
				return n, last, tasks.WrapError(tasks.CodeProviderFailed, err,
					fmt.Sprintf("%s (asked to wait %v, more than %v)", clientMessage(c.name, err), ae.RetryAfter, c.cfg.MaxRetryWait))
			}
			wait = max(wait, ae.RetryAfter)
		}
		last = err
		if err := sleep(ctx, wait); err != nil {
			return n, last, fmt.Errorf("provider: %s: %w", c.name, err)
		}
	}
}

// anyTransient retries every transient failure: what an idempotent call
// may do.
func anyTransient(error) bool { return true }

// garbledOr returns err as errGarbled when it is a JSON decoding error of
// an answer (a broken stream event), else as it is: a network error, a
// timeout.
func garbledOr(err error) error {
	var se *json.SyntaxError
	var ue *json.UnmarshalTypeError
	if errors.As(err, &se) || errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %v", errGarbled, err)
	}
	return err
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// clientMessage is what a page's error says: the provider's own words for
// an APIError, a generic phrase for a network or parse failure.
func clientMessage(name string, err error) string {
	var ae *APIError
	switch {
	case errors.As(err, &ae):
		return ae.Error()
	case errors.Is(err, errGarbled):
		return name + ": the answer could not be parsed"
	case errors.Is(err, context.DeadlineExceeded):
		return name + ": the call timed out"
	}
	return name + ": the provider could not be reached"
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryAfter reads Retry-After (seconds or an HTTP date) and the
// non-standard retry-after-ms; 0 if neither is there.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("retry-after-ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return max(time.Duration(s*float64(time.Second)), 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
