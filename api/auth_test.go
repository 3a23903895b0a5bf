package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
)

// withKeys turns API keys on with one key, which it returns.
func withKeys(t *testing.T, rate float64, burst int) (string, func(*api.Config, *api.Deps)) {
	t.Helper()
	key, err := api.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return key, func(c *api.Config, _ *api.Deps) {
		c.Auth = api.AuthConfig{Enabled: true, Keys: []string{api.HashKey(key)}, RateLimit: rate, Burst: burst}
	}
}

func TestAuthRequiresAKnownKey(t *testing.T) {
	key, on := withKeys(t, 0, 0)
	b := setup(t, on)
	basic := func(pw string) string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth("anyone", pw)
		return req.Header.Get("Authorization")
	}
	tests := []struct {
		name   string
		path   string
		header []string
		status int
	}{
		{"no key", "/v1/jobs", nil, 401},
		{"unknown key", "/v1/jobs", []string{"Authorization", "Bearer mmq_nope"}, 401},
		{"empty bearer", "/v1/jobs", []string{"Authorization", "Bearer "}, 401},
		{"bearer", "/v1/jobs", []string{"Authorization", "Bearer " + key}, 200},
		{"bearer, any case", "/v1/jobs", []string{"Authorization", "bearer " + key}, 200},
		{"X-API-Key", "/v1/jobs", []string{"X-API-Key", key}, 200},
		{"basic password", "/v1/jobs", []string{"Authorization", basic(key)}, 200},
		{"basic, wrong password", "/v1/jobs", []string{"Authorization", basic("mmq_nope")}, 401},
		{"unknown job needs a key first", "/v1/jobs/nope", nil, 401},
		{"stats", "/v1/stats", nil, 401},
		{"healthz stays open", "/healthz", nil, 200},
		{"readyz stays open", "/readyz", nil, 200},
		{"unknown path outside /v1", "/nope", nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.do(t, "GET", tt.path, "", nil, tt.header...)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status != 401 {
				return
			}
			var e struct {
				Error struct {
					Code    tasks.Code `json:"code"`
					Message string     `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != tasks.CodeUnauthorized || e.Error.Message == "" {
				t.Errorf("body %s, want a JSON error with code unauthorized", body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if ch := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer") {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge", ch)
			}
		})
	}

	// The key's id, never the key, goes to the access log.
	id := api.HashKey(key)[:8]
	var sawID bool
	for _, l := range b.logs.lines(t) {
		sawID = sawID || l["key_id"] == id
	}
	if !sawID || strings.Contains(b.logs.String(), key) {
		t.Errorf("access log: key_id %s logged %v; key itself logged %v", id, sawID, strings.Contains(b.logs.String(), key))
	}

	// The Go client sends the key it is given.
	ctx := context.Background()
	if _, _, err := client.New(b.url, b.http, client.WithAPIKey(key)).Jobs(ctx, "", "", 1); err != nil {
		t.Errorf("client with the key: %v", err)
	}
	_, _, err := client.New(b.url, b.http).Jobs(ctx, "", "", 1)
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Code != tasks.CodeUnauthorized {
		t.Errorf("client without a key: %v, want a 401 unauthorized APIError", err)
	}
}

func TestAuthRateLimitPerKey(t *testing.T) {
	key, on := withKeys(t, 0.5, 2)
	b := setup(t, on)
	auth := []string{"Authorization", "Bearer " + key}
	for i := range 2 {
		if resp, body := b.do(t, "GET", "/v1/jobs", "", nil, auth...); resp.StatusCode != 200 {
			t.Fatalf("request %d within the burst: %d %s", i+1, resp.StatusCode, body)
		}
	}
	resp, body := b.do(t, "GET", "/v1/jobs", "", nil, auth...)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), `"rate_limited"`) {
		t.Fatalf("request over the rate: %d %s, want 429 rate_limited", resp.StatusCode, body)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After %q, want 2 (one request per 2 s)", ra)
	}
	// Requests without a valid key are refused before they cost the key
	// anything, and health checks are never limited.
	if resp, _ := b.do(t, "GET", "/v1/jobs", "", nil); resp.StatusCode != 401 {
		t.Errorf("no key while the key is limited: %d, want 401", resp.StatusCode)
	}
	if resp, _ := b.do(t, "GET", "/healthz", "", nil); resp.StatusCode != 200 {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
}

func TestAuthOffByDefault(t *testing.T) {
	b := setup(t)
	if resp, body := b.do(t, "GET", "/v1/jobs", "", nil); resp.StatusCode != 200 {
		t.Errorf("GET /v1/jobs without auth: %d %s", resp.StatusCode, body)
	}
}

// Protect guards a handler served beside the API, with a login prompt for
// browsers.
func TestProtect(t *testing.T) {
	key, err := api.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Auth: api.AuthConfig{Enabled: true, Keys: []string{api.HashKey(key)}}},
		api.Deps{Store: stubStore{}, Blobs: stubBlobs{}, Queue: stubQueue{}, Sniff: func([]byte) (tasks.Kind, error) { return "", nil }})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ui")) }))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/monitoring/queues", nil))
	if rec.Code != 401 || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic") ||
		!strings.Contains(rec.Body.String(), `"unauthorized"`) {
		t.Errorf("without a key: %d %q %s", rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body)
	}
	req := httptest.NewRequest("GET", "/monitoring/queues", nil)
	req.SetBasicAuth("admin", key)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != "ui" || rec.Header().Get(api.RequestIDHeader) == "" {
		t.Errorf("with the key: %d %s, request id %q", rec.Code, rec.Body, rec.Header().Get(api.RequestIDHeader))
	}
}

func TestAuthConfigValidate(t *testing.T) {
	t.Parallel()
	good := api.HashKey("mmq_x")
	tests := []struct {
		name string
		cfg  api.AuthConfig
		ok   bool
	}{
		{"off", api.AuthConfig{}, true},
		{"on with a key", api.AuthConfig{Enabled: true, Keys: []string{good}}, true},
		{"on without keys", api.AuthConfig{Enabled: true}, false},
		{"not a hash", api.AuthConfig{Enabled: true, Keys: []string{"mmq_plaintext_key"}}, false},
		{"short hash", api.AuthConfig{Enabled: true, Keys: []string{good[:60]}}, false},
		{"negative rate", api.AuthConfig{Enabled: true, Keys: []string{good}, RateLimit: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestNewKey(t *testing.T) {
	t.Parallel()
	a, err := api.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := api.NewKey()
	if a == b || !strings.HasPrefix(a, "mmq_") || len(a) != 4+43 {
		t.Errorf("keys %q and %q", a, b)
	}
	if h := api.HashKey(a); len(h) != 64 || h == api.HashKey(b) {
		t.Errorf("hash %q", h)
	}
}

// Stubs for a server whose routes a test does not call.
type (
	stubStore struct{ api.Store }
	stubBlobs struct{ api.Blobs }
	stubQueue struct{ api.Enqueuer }
)

// Two API processes share a key's rate through Redis: its burst holds
// across both, not once in each (it was per process).
func TestAuthRateLimitSharedByProcesses(t *testing.T) {
	key, on := withKeys(t, 0.1, 5)
	shared := func(c *api.Config, d *api.Deps) {
		on(c, d)
		d.KeyLimiter = store.NewKeyLimiter(redistest.New(t, redistest.DBAPI), "ratetest-"+t.Name(), 0.1, 5)
	}
	one := setup(t, shared)
	two := setup(t, shared)
	auth := []string{"Authorization", "Bearer " + key}
	ok := 0
	for i := range 20 {
		b := one
		if i%2 == 1 {
			b = two
		}
		if resp, _ := b.do(t, "GET", "/v1/jobs", "", nil, auth...); resp.StatusCode == http.StatusOK {
			ok++
		} else if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	if ok != 5 {
		t.Errorf("%d of 20 requests through two API processes passed, want the burst of 5", ok)
	}
}
