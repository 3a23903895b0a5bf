package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/tasks"
)

// Config configures a Deliverer. Zero values mean the documented defaults.
type Config struct {
	// Secret signs every message but those of the tenants in
	// TenantSecrets: "whsec_" + base64 of 24 to 64 random bytes (NewSecret
	// makes one). Required.
	Secret string
	// PreviousSecrets sign too, while receivers move to Secret: each
	// request then carries one signature per secret.
	PreviousSecrets []string
	// TenantSecrets maps a tenant to its own secrets, the current one
	// first, then those being rotated out. A message of a tenant named here
	// (tasks.WebhookPayload.Tenant) is signed with these alone, never with
	// Secret or another tenant's, so that a receiver holding the
	// deployment's secret cannot forge this tenant's webhooks; any other
	// message is signed with Secret and PreviousSecrets. Defaults to none.
	TenantSecrets map[string][]string
	// Timeout bounds one attempt: connecting, sending, and reading the
	// answer. Defaults to 15 s.
	Timeout time.Duration
	// SSRF says which addresses receivers may have. Redirects are never
	// followed, whatever its MaxRedirects: a 3xx is a failed attempt.
	SSRF ssrf.Config
	// UserAgent is sent with every request. Defaults to "mmq-webhooks/1".
	UserAgent string
}

// DefaultTimeout is Config.Timeout's default.
const DefaultTimeout = 15 * time.Second

func (c *Config) setDefaults() {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.UserAgent == "" {
		c.UserAgent = "mmq-webhooks/1"
	}
	c.SSRF.MaxRedirects = -1
}

// Validate reports a Config that cannot work.
func (c Config) Validate() error {
	_, _, err := c.signers()
	return err
}

// ErrBadTenant is wrapped by the error about a TenantSecrets entry whose
// tenant is not a valid tenant name (tasks.ValidTenant).
var ErrBadTenant = errors.New("webhook: bad tenant name")

// signers returns the deployment's signer and each tenant's. The errors
// name the tenant, never a secret.
func (c Config) signers() (*Signer, map[string]*Signer, error) {
	signer, err := NewSigner(c.Secret, c.PreviousSecrets...)
	if err != nil {
		return nil, nil, err
	}
	tenants := make(map[string]*Signer, len(c.TenantSecrets))
	var errs []error
	for _, tenant := range slices.Sorted(maps.Keys(c.TenantSecrets)) {
		secrets := c.TenantSecrets[tenant]
		switch {
		case !tasks.ValidTenant(tenant):
			// It may be a secret pasted in its place: show little of it.
			if r := []rune(tenant); strings.HasPrefix(tenant, secretPrefix) {
				tenant = secretPrefix + "…"
			} else if len(r) > 16 {
				tenant = string(r[:16]) + "…"
			}
			errs = append(errs, fmt.Errorf("%w %q: want 1 to 63 of a-z, 0-9, _ and -, starting with a letter or digit", ErrBadTenant, tenant))
			continue
		case len(secrets) == 0:
			errs = append(errs, fmt.Errorf("tenant %s: %w: none given", tenant, ErrBadSecret))
			continue
		}
		s, err := NewSigner(secrets[0], secrets[1:]...)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", tenant, err))
			continue
		}
		tenants[tenant] = s
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return signer, tenants, nil
}

// Deliverer sends webhooks. It is safe for concurrent use.
type Deliverer struct {
	cfg    Config
	signer *Signer
	// tenants are the signers of the tenants that have secrets of their
	// own; read only after New.
	tenants map[string]*Signer
	client  *http.Client
}

// New returns a Deliverer, or an error for a missing or malformed secret
// or a bad tenant name.
func New(cfg Config) (*Deliverer, error) {
	cfg.setDefaults()
	signer, tenants, err := cfg.signers()
	if err != nil {
		return nil, err
	}
	client := ssrf.NewClient(cfg.SSRF)
	client.Timeout = cfg.Timeout
	return &Deliverer{cfg: cfg, signer: signer, tenants: tenants, client: client}, nil
}

// Signer returns the signer of the messages of tenants without secrets of
// their own.
func (d *Deliverer) Signer() *Signer { return d.signer }

// SignerFor returns the signer of tenant's messages: its own when
// Config.TenantSecrets names it, else the deployment's.
func (d *Deliverer) SignerFor(tenant string) *Signer {
	if s, ok := d.tenants[tenant]; ok {
		return s
	}
	return d.signer
}

// Errors of an attempt that the caller may look for.
var (
	// ErrGone: the receiver answered 410 Gone. Such errors also wrap
	// asynq.SkipRetry.
	ErrGone = errors.New("webhook: receiver answered 410 Gone")
	// ErrStatus: the receiver answered neither 2xx nor 410.
	ErrStatus = errors.New("webhook: receiver did not answer 2xx")
)

// Limits of what is read from a receiver's answer.
const (
	// keepResponseBytes is how much of the answer the attempt log keeps.
	keepResponseBytes = 512
	// drainBytes is how much is read at most, so that the connection can
	// be reused.
	drainBytes = 64 << 10
	// maxRetryAfter bounds the wait a receiver may ask for.
	maxRetryAfter = 24 * time.Hour
)

// Deliver makes one attempt to deliver p and returns its log entry, with
// everything but Attempt and Outcome filled in, and its error: nil when the
// receiver answered 2xx; one wrapping asynq.SkipRetry when no retry may
// follow (410 Gone, a URL the SSRF guard refuses); a *tasks.RetryAfterError
// when the receiver said when to come back; the context's own error,
// unwrapped, when ctx ended first. Any other error is worth a retry.
//
// The entry's Error and the error's text name no IP address and no query
// string (ssrf.RedactText): clients read the entry through the API, and a
// failed connection says what failed (classifyNetError), not where to.
func (d *Deliverer) Deliver(ctx context.Context, p tasks.WebhookPayload) (tasks.DeliveryAttempt, error) {
	now := time.Now()
	att := tasks.DeliveryAttempt{WebhookID: p.WebhookID, Event: p.Event, JobID: p.JobID, BatchID: p.BatchID, URL: p.URL, Time: now.UTC()}
	fail := func(err error) (tasks.DeliveryAttempt, error) {
		// Clients read the log through the API, and the error is logged:
		// redacted, in case a message repeats an address or the URL's
		// query. It still wraps its cause.
		err = ssrf.RedactError(err)
		att.Error = err.Error()
		return att, err
	}
	if _, err := d.cfg.SSRF.CheckURL(p.URL); err != nil {
		return fail(fmt.Errorf("webhook: callback URL: %w: %w", err, asynq.SkipRetry))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(p.Body))
	if err != nil {
		return fail(fmt.Errorf("webhook: callback URL: %w: %w", err, asynq.SkipRetry))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", d.cfg.UserAgent)
	if err := d.SignerFor(p.Tenant).SetHeaders(req.Header, p.WebhookID, now, p.Body); err != nil {
		return fail(err)
	}

	resp, err := d.client.Do(req)
	if err != nil {
		att.LatencyMS = time.Since(now).Milliseconds()
		if ctx.Err() != nil {
			// Interrupted (the worker is stopping): not an attempt.
			return att, ctx.Err()
		}
		nerr := error(&netError{reason: classifyNetError(err, d.cfg.Timeout), err: err})
		if errors.Is(err, ssrf.ErrRefused) {
			nerr = fmt.Errorf("%w: %w", nerr, asynq.SkipRetry)
		}
		return fail(nerr)
	}
	head, readErr := readAnswer(resp.Body)
	resp.Body.Close()
	att.LatencyMS = time.Since(now).Milliseconds()
	att.StatusCode = resp.StatusCode
	att.Response = head
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		// Delivered, even when reading the rest of the answer failed.
		return att, nil
	case resp.StatusCode == http.StatusGone:
		return fail(fmt.Errorf("%w: %w", ErrGone, asynq.SkipRetry))
	}
	err = fmt.Errorf("%w: HTTP %d", ErrStatus, resp.StatusCode)
	if readErr != nil && ctx.Err() == nil {
		err = fmt.Errorf("%w (reading the answer: %s)", err, ssrf.PublicError(readErr))
	}
	if wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		err = &tasks.RetryAfterError{Wait: min(wait, maxRetryAfter), Err: err}
	}
	return fail(err)
}

// netError is an attempt that got no answer: the connection, the TLS
// handshake or the request failed, or the SSRF guard refused the address.
// Its text is reason alone (classifyNetError's), because the attempt log
// that keeps it is shown to clients, and Go's own messages name the
// address connected to (an internal one, where the guard lets it through)
// and the resolver asked. err is the cause, for errors.Is and errors.As.
type netError struct {
	reason string
	err    error
}

func (e *netError) Error() string { return "webhook: " + e.reason }
func (e *netError) Unwrap() error { return e.err }

// classifyNetError names a failed request's cause in a few words a client
// may read (ssrf.PublicError's), a timeout with the attempt's bound.
func classifyNetError(err error, timeout time.Duration) string {
	var ne interface{ Timeout() bool }
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("no answer within %v", timeout)
	}
	return ssrf.PublicError(err)
}

// readAnswer reads up to drainBytes of an answer and returns its start as
// text for the log.
func readAnswer(body io.Reader) (string, error) {
	var buf bytes.Buffer
	_, err := io.Copy(&buf, io.LimitReader(body, drainBytes))
	b := buf.Bytes()
	return strings.ToValidUTF8(string(b[:min(len(b), keepResponseBytes)]), "\uFFFD"), err
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
