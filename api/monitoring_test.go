package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/tasks"
)

// monitorBundle is a Server.Monitoring handler around a fake asynqmon that
// counts the requests it is handed, with a tenant's key and an admin key.
type monitorBundle struct {
	h                http.Handler
	calls            *atomic.Int32
	tenantKey, admin string
}

func setupMonitoring(t *testing.T, readOnly bool) monitorBundle {
	t.Helper()
	tenantKey, err := api.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := api.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Auth: api.AuthConfig{Enabled: true, Keys: []string{
		api.HashKey(tenantKey) + ":acme",
		api.HashKey(admin) + ":ops:admin",
	}}}, api.Deps{Store: stubStore{}, Blobs: stubBlobs{}, Queue: stubQueue{}, Sniff: func([]byte) (tasks.Kind, error) { return "", nil }})
	if err != nil {
		t.Fatal(err)
	}
	calls := new(atomic.Int32)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = w.Write([]byte("asynqmon"))
	})
	return monitorBundle{h: srv.Monitoring(inner, readOnly), calls: calls, tenantKey: tenantKey, admin: admin}
}

func TestMonitoring(t *testing.T) {
	t.Parallel()
	const host = "mmq.example:8080"
	tests := []struct {
		name     string
		readOnly bool
		method   string
		key      string // "tenant", "admin" or none
		header   []string
		status   int
		reason   string // in the error message of a refusal
	}{
		{"no key", true, "GET", "", nil, 401, "API key is required"},
		{"tenant key", true, "GET", "tenant", nil, 403, "admin keys only"},
		{"tenant key, read-write", false, "POST", "tenant", []string{"Origin", "http://" + host}, 403, "admin keys only"},
		{"admin GET", true, "GET", "admin", nil, 200, ""},
		{"admin HEAD", true, "HEAD", "admin", nil, 200, ""},
		{"admin GET cross-site", false, "GET", "admin", []string{"Sec-Fetch-Site", "cross-site"}, 200, ""},
		{"admin POST, read-only", true, "POST", "admin", []string{"Origin", "http://" + host}, 403, "read-only"},
		{"admin DELETE, read-only", true, "DELETE", "admin", []string{"Origin", "http://" + host}, 403, "read-only"},
		{"admin OPTIONS, read-only", true, "OPTIONS", "admin", nil, 403, "read-only"},
		{"same origin", false, "POST", "admin", []string{"Origin", "http://" + host, "Sec-Fetch-Site", "same-origin"}, 200, ""},
		{"same origin, https behind a proxy", false, "DELETE", "admin", []string{"Origin", "https://" + host}, 200, ""},
		{"same origin, host in upper case", false, "POST", "admin", []string{"Origin", "http://MMQ.example:8080"}, 200, ""},
		{"referer of the same origin", false, "POST", "admin", []string{"Referer", "http://" + host + "/monitoring/queues"}, 200, ""},
		{"OPTIONS needs no origin", false, "OPTIONS", "admin", nil, 200, ""},
		{"foreign origin", false, "POST", "admin", []string{"Origin", "https://evil.example"}, 403, "is not this server"},
		{"foreign origin, same host other port", false, "POST", "admin", []string{"Origin", "http://mmq.example:9090"}, 403, "is not this server"},
		{"foreign origin wins over a matching referer", false, "POST", "admin", []string{"Origin", "https://evil.example", "Referer", "http://" + host + "/monitoring/"}, 403, "is not this server"},
		{"foreign referer", false, "DELETE", "admin", []string{"Referer", "https://evil.example/page"}, 403, "is not this server"},
		{"null origin", false, "POST", "admin", []string{"Origin", "null"}, 403, "names no origin"},
		{"origin of another scheme", false, "POST", "admin", []string{"Origin", "ftp://" + host}, 403, "is not https://"},
		{"no origin, no referer", false, "POST", "admin", nil, 403, "needs an Origin"},
		{"cross-site", false, "POST", "admin", []string{"Sec-Fetch-Site", "cross-site", "Origin", "http://" + host}, 403, "Sec-Fetch-Site: cross-site"},
		{"same-site", false, "POST", "admin", []string{"Sec-Fetch-Site", "same-site", "Origin", "http://" + host}, 403, "Sec-Fetch-Site: same-site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupMonitoring(t, tt.readOnly)
			req := httptest.NewRequest(tt.method, "http://"+host+"/monitoring/api/queues/default:pause", nil)
			switch tt.key {
			case "tenant":
				req.SetBasicAuth("someone", b.tenantKey)
			case "admin":
				req.SetBasicAuth("someone", b.admin)
			}
			for i := 0; i+1 < len(tt.header); i += 2 {
				req.Header.Set(tt.header[i], tt.header[i+1])
			}
			rec := httptest.NewRecorder()
			b.h.ServeHTTP(rec, req)

			if rec.Code != tt.status {
				t.Fatalf("HTTP %d %s, want %d", rec.Code, rec.Body, tt.status)
			}
			// Every answer, refusals included, is unframeable.
			if csp, xfo := rec.Header().Get("Content-Security-Policy"), rec.Header().Get("X-Frame-Options"); csp != "frame-ancestors 'none'" || xfo != "DENY" {
				t.Errorf("Content-Security-Policy %q, X-Frame-Options %q", csp, xfo)
			}
			if calls := b.calls.Load(); (calls == 1) != (tt.status == 200) {
				t.Errorf("asynqmon called %d times for HTTP %d", calls, rec.Code)
			}
			if tt.status == 200 {
				if tt.method != "HEAD" && rec.Body.String() != "asynqmon" {
					t.Errorf("body %q, want asynqmon's", rec.Body)
				}
				return
			}
			var e struct {
				Error struct {
					Code    tasks.Code `json:"code"`
					Message string     `json:"message"`
				} `json:"error"`
			}
			wantCode := tasks.CodeForbidden
			if tt.status == 401 {
				wantCode = tasks.CodeUnauthorized
				if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic") {
					t.Errorf("WWW-Authenticate %q, want a browser login prompt", rec.Header().Get("WWW-Authenticate"))
				}
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != wantCode || !strings.Contains(e.Error.Message, tt.reason) {
				t.Errorf("body %s (%v), want code %s and a message with %q", rec.Body, err, wantCode, tt.reason)
			}
		})
	}
}

// Over TLS, the origin of a change must be https.
func TestMonitoringOriginSchemeOverTLS(t *testing.T) {
	t.Parallel()
	b := setupMonitoring(t, false)
	for origin, status := range map[string]int{"https://mmq.example": 200, "http://mmq.example": 403} {
		req := httptest.NewRequest("POST", "https://mmq.example/monitoring/api/queues/default:pause", nil)
		req.SetBasicAuth("someone", b.admin)
		req.Header.Set("Origin", origin)
		rec := httptest.NewRecorder()
		b.h.ServeHTTP(rec, req)
		if rec.Code != status {
			t.Errorf("Origin %s over TLS: HTTP %d %s, want %d", origin, rec.Code, rec.Body, status)
		}
	}
}

// Without API keys every caller is an admin: the UI opens, and the other
// rules still hold.
func TestMonitoringWithoutKeys(t *testing.T) {
	t.Parallel()
	srv, err := api.New(api.Config{}, api.Deps{Store: stubStore{}, Blobs: stubBlobs{}, Queue: stubQueue{}, Sniff: func([]byte) (tasks.Kind, error) { return "", nil }})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Monitoring(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("asynqmon")) }), true)
	for method, status := range map[string]int{"GET": 200, "POST": 403} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/monitoring/api/queues", nil))
		if rec.Code != status || rec.Header().Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s without keys: HTTP %d, X-Frame-Options %q, want %d and DENY", method, rec.Code, rec.Header().Get("X-Frame-Options"), status)
		}
	}
}
