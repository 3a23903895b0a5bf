package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/mmq/mmq/tasks"
)

// AuthConfig configures API keys. A key is a random secret that only its
// holder knows; the server keeps only its SHA-256 digest.
type AuthConfig struct {
	// Enabled requires a known key on every /v1 route and on the handlers
	// wrapped with Server.Protect. Defaults to false: the API is open.
	Enabled bool
	// Keys are the accepted keys, as `mmq keys create` prints them: the
	// hex SHA-256 of a key (HashKey), then optionally ":<tenant>" and
	// ":admin" (see tasks.ParseKeyEntry). A key without a tenant is a
	// tenant of its own. Enabled needs at least one.
	Keys []string
	// RateLimit is the requests per second each key may make, sustained;
	// more are refused with 429 rate_limited. 0 means no limit. With
	// Deps.KeyLimiter the limit holds across every API process; without
	// it each process limits on its own.
	RateLimit float64
	// Burst is how many requests a key may make at once after a quiet
	// spell. Defaults to twice RateLimit, at least 1.
	Burst int
}

// APIKeyHeader carries an API key, as an alternative to
// "Authorization: Bearer <key>".
const APIKeyHeader = "X-API-Key"

// keyPrefix starts every key NewKey makes, so that a leaked key is easy to
// recognize (and for secret scanners to find).
const keyPrefix = "mmq_"

// NewKey returns a new API key: "mmq_" and 32 random bytes in base64url.
func NewKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("api: new key: %w", err)
	}
	return keyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// HashKey returns the hex SHA-256 digest of key: what AuthConfig.KeyHashes
// lists. A digest is enough because keys are random: there is nothing to
// guess that a slow hash would protect.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func (c *AuthConfig) setDefaults() {
	if c.Burst == 0 {
		c.Burst = max(int(math.Ceil(2*c.RateLimit)), 1)
	}
}

// Validate reports an AuthConfig that cannot work.
func (c *AuthConfig) Validate() error {
	if c.Enabled && len(c.Keys) == 0 {
		return fmt.Errorf("api: auth is enabled but lists no key hash (create a key with `mmq keys create`)")
	}
	seen := map[string]bool{}
	for _, k := range c.Keys {
		e, err := tasks.ParseKeyEntry(k)
		if err != nil {
			return fmt.Errorf("api: auth key %w", err)
		}
		if seen[e.Hash] {
			return fmt.Errorf("api: auth key %s… is listed twice", e.Hash[:12])
		}
		seen[e.Hash] = true
	}
	if c.RateLimit < 0 || c.Burst < 0 {
		return fmt.Errorf("api: auth rate limit %v and burst %d must not be negative", c.RateLimit, c.Burst)
	}
	return nil
}

// keyring holds the known keys, their callers and rate limiters. It is
// built once: the map never grows, so unknown keys cost nothing to
// remember.
type keyring struct {
	enabled bool
	keys    map[[sha256.Size]byte]keyState
}

type keyState struct {
	caller Caller
	lim    *rate.Limiter
}

func newKeyring(c AuthConfig) *keyring {
	k := &keyring{enabled: c.Enabled, keys: make(map[[sha256.Size]byte]keyState, len(c.Keys))}
	for _, entry := range c.Keys {
		// Validate checked the form.
		e, _ := tasks.ParseKeyEntry(entry)
		var sum [sha256.Size]byte
		_, _ = hex.Decode(sum[:], []byte(e.Hash))
		var lim *rate.Limiter
		if c.RateLimit > 0 {
			lim = rate.NewLimiter(rate.Limit(c.RateLimit), c.Burst)
		}
		k.keys[sum] = keyState{caller: Caller{KeyHash: e.Hash, Tenant: e.Tenant, Admin: e.Admin}, lim: lim}
	}
	return k
}

// presentedKey returns the key a request carries: "Authorization: Bearer",
// X-API-Key, or the password of "Authorization: Basic", which is how a
// browser sends one to /monitoring after its login prompt.
func presentedKey(r *http.Request) string {
	if k := r.Header.Get(APIKeyHeader); k != "" {
		return k
	}
	auth := r.Header.Get("Authorization")
	if scheme, rest, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(rest)
	}
	if _, pw, ok := r.BasicAuth(); ok {
		return pw
	}
	return ""
}

// Challenges of a 401: API clients are told to send a bearer token;
// browsers (asynqmon) get a login prompt whose password is the key.
const (
	challengeBearer = `Bearer realm="mmq"`
	challengeBasic  = `Basic realm="mmq", charset="UTF-8"`
)

// withAuth refuses requests without a known key with 401, and those over
// their key's rate with 429. Only paths for which guarded returns true are
// checked. The key's id (the first 8 hex digits of its digest) goes into
// the request's log lines.
func (s *Server) withAuth(next http.Handler, challenge string, guarded func(*http.Request) bool) http.Handler {
	if !s.keys.enabled {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !guarded(r) {
			next.ServeHTTP(w, r)
			return
		}
		key := presentedKey(r)
		if key == "" {
			w.Header().Set("WWW-Authenticate", challenge)
			writeError(w, tasks.Errorf(tasks.CodeUnauthorized, "an API key is required: send Authorization: Bearer <key> or X-API-Key"))
			return
		}
		sum := sha256.Sum256([]byte(key))
		ks, ok := s.keys.keys[sum]
		if !ok {
			w.Header().Set("WWW-Authenticate", challenge+`, error="invalid_token"`)
			writeError(w, tasks.Errorf(tasks.CodeUnauthorized, "unknown API key"))
			return
		}
		id := hex.EncodeToString(sum[:4])
		zerolog.Ctx(r.Context()).UpdateContext(func(c zerolog.Context) zerolog.Context {
			return c.Str("key_id", id).Str("tenant", ks.caller.Tenant)
		})
		r = r.WithContext(context.WithValue(r.Context(), callerCtx{}, ks.caller))
		if d := s.rateDelay(r.Context(), ks); d > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
			writeError(w, tasks.Errorf(tasks.CodeRateLimited, "too many requests for this API key; retry in %s", d.Round(time.Millisecond)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Caller is who makes a request: the key it presented, the tenant the key
// acts for and whether it is an admin key.
type Caller struct {
	// KeyHash is the hex SHA-256 of the key; "" when the API runs without
	// keys.
	KeyHash string
	// Tenant owns what the caller creates; the caller sees only the
	// tenant's objects unless Admin.
	Tenant string
	Admin  bool
}

// rateDelay takes one request of the key of ks from its budget: the one
// shared by all API processes when there is a KeyLimiter, else (and while
// it fails) this process's. It returns 0 when the request may go.
func (s *Server) rateDelay(ctx context.Context, ks keyState) time.Duration {
	if ks.lim == nil {
		return 0
	}
	if kl := s.deps.KeyLimiter; kl != nil {
		d, err := kl.Allow(ctx, ks.caller.KeyHash[:16])
		if err == nil {
			return d
		}
		zerolog.Ctx(ctx).Warn().Err(err).Msg("shared rate limit unavailable: limiting in this process")
	}
	res := ks.lim.Reserve()
	d := res.Delay()
	if d > 0 {
		res.Cancel()
	}
	return d
}

// callerCtx finds the Caller in a request's context.
type callerCtx struct{}

// CallerOf returns the caller of the request of ctx. Without API keys
// every caller is the same admin of the tenant "": the API is open.
func CallerOf(ctx context.Context) Caller {
	if c, ok := ctx.Value(callerCtx{}).(Caller); ok {
		return c
	}
	return Caller{Admin: true}
}

// Sees reports whether the caller may see an object of tenant: its own
// tenant's, or any for an admin.
func (c Caller) Sees(tenant string) bool { return c.Admin || c.Tenant == tenant }

// isAPIPath reports the routes API keys guard: /v1 and below. Health
// checks stay open for load balancers and orchestrators.
func isAPIPath(r *http.Request) bool {
	return r.URL.Path == "/v1" || strings.HasPrefix(r.URL.Path, "/v1/")
}

// Protect wraps h, another handler served beside the API (asynqmon at
// /monitoring), in the API's middleware: request id, access log, API key
// check with a browser login prompt, and panic recovery.
func (s *Server) Protect(h http.Handler) http.Handler {
	all := func(*http.Request) bool { return true }
	return s.withRequestID(s.withAccessLog(s.withAuth(withRecovery(h), challengeBasic, all)))
}
