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
	// KeyHashes are the hex SHA-256 digests of the accepted keys, as
	// `mmq keys create` prints them (HashKey). Enabled needs at least one.
	KeyHashes []string
	// RateLimit is the requests per second each key may make, sustained;
	// more are refused with 429 rate_limited. 0 means no limit. The limit
	// is per API process: N replicas allow N times as much.
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
	if c.Enabled && len(c.KeyHashes) == 0 {
		return fmt.Errorf("api: auth is enabled but lists no key hash (create a key with `mmq keys create`)")
	}
	for _, h := range c.KeyHashes {
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("api: auth key hash %q: want 64 hex digits, the SHA-256 of a key", h)
		}
	}
	if c.RateLimit < 0 || c.Burst < 0 {
		return fmt.Errorf("api: auth rate limit %v and burst %d must not be negative", c.RateLimit, c.Burst)
	}
	return nil
}

// keyring holds the known keys and their rate limiters. It is built once:
// the map never grows, so unknown keys cost nothing to remember.
type keyring struct {
	enabled bool
	keys    map[[sha256.Size]byte]*rate.Limiter
}

func newKeyring(c AuthConfig) *keyring {
	k := &keyring{enabled: c.Enabled, keys: make(map[[sha256.Size]byte]*rate.Limiter, len(c.KeyHashes))}
	for _, h := range c.KeyHashes {
		var sum [sha256.Size]byte
		// Validate checked the form.
		_, _ = hex.Decode(sum[:], []byte(strings.ToLower(h)))
		var lim *rate.Limiter
		if c.RateLimit > 0 {
			lim = rate.NewLimiter(rate.Limit(c.RateLimit), c.Burst)
		}
		k.keys[sum] = lim
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
		lim, ok := s.keys.keys[sum]
		if !ok {
			w.Header().Set("WWW-Authenticate", challenge+`, error="invalid_token"`)
			writeError(w, tasks.Errorf(tasks.CodeUnauthorized, "unknown API key"))
			return
		}
		id := hex.EncodeToString(sum[:4])
		zerolog.Ctx(r.Context()).UpdateContext(func(c zerolog.Context) zerolog.Context { return c.Str("key_id", id) })
		r = r.WithContext(context.WithValue(r.Context(), callerKeyCtx{}, hex.EncodeToString(sum[:])))
		if lim != nil {
			res := lim.Reserve()
			if d := res.Delay(); d > 0 {
				res.Cancel()
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
				writeError(w, tasks.Errorf(tasks.CodeRateLimited, "too many requests for this API key; retry in %s", d.Round(time.Millisecond)))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// callerKeyCtx finds the caller's key digest in a request's context.
type callerKeyCtx struct{}

// callerKey returns the hex SHA-256 of the API key that made the request
// of ctx, or "" when the API runs without keys: per-key bounds then hold
// for all callers together.
func callerKey(ctx context.Context) string {
	k, _ := ctx.Value(callerKeyCtx{}).(string)
	return k
}

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
