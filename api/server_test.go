package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
	"github.com/redis/go-redis/v9"
)

func TestHealth(t *testing.T) {
	b := setup(t)
	resp, data := b.do(t, http.MethodGet, "/healthz", "", nil)
	if resp.StatusCode != http.StatusOK || string(data) != `{"status":"ok"}`+"\n" {
		t.Errorf("healthz: %d %s", resp.StatusCode, data)
	}
}

func TestReady(t *testing.T) {
	tests := []struct {
		name   string
		checks map[string]func(context.Context) error
		status int
		want   map[string]string
	}{
		{
			name:   "redis only",
			status: http.StatusOK,
			want:   map[string]string{"redis": "ok"},
		},
		{
			name:   "extra check ok",
			checks: map[string]func(context.Context) error{"ffmpeg": func(context.Context) error { return nil }},
			status: http.StatusOK,
			want:   map[string]string{"redis": "ok", "ffmpeg": "ok"},
		},
		{
			name: "extra check fails",
			checks: map[string]func(context.Context) error{
				"ffmpeg": func(context.Context) error { return errors.New("ffmpeg: executable file not found in $PATH") },
				"disk":   func(context.Context) error { return nil },
			},
			status: http.StatusServiceUnavailable,
			want:   map[string]string{"redis": "ok", "disk": "ok", "ffmpeg": "ffmpeg unavailable"},
		},
		{
			name: "check times out",
			checks: map[string]func(context.Context) error{
				"slow": func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			},
			status: http.StatusServiceUnavailable,
			want:   map[string]string{"redis": "ok", "slow": "slow did not answer in time"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, func(c *api.Config, d *api.Deps) {
				c.ReadinessTimeout = 200 * time.Millisecond
				d.Checks = tt.checks
			})
			readyz(t, b, tt.status, tt.want)
		})
	}

	t.Run("redis down", func(t *testing.T) {
		b := setup(t, func(c *api.Config, d *api.Deps) {
			rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
			t.Cleanup(func() { _ = rdb.Close() })
			st, err := store.New(rdb, store.Config{})
			if err != nil {
				t.Fatal(err)
			}
			d.Store = st
		})
		// The answer says what is down, not where it is.
		readyz(t, b, http.StatusServiceUnavailable, map[string]string{"redis": "redis unavailable"})
	})
}

// readyz fails unless /readyz answers status with the check results want.
func readyz(t *testing.T, b *testBundle, status int, want map[string]string) {
	t.Helper()
	resp, data := b.do(t, http.MethodGet, "/readyz", "", nil)
	var body struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status || !equalMaps(body.Checks, want) {
		t.Errorf("readyz %d %s, want %d %v", resp.StatusCode, data, status, want)
	}
	wantStatus := map[int]string{200: "ready", 503: "unavailable"}[status]
	if body.Status != wantStatus {
		t.Errorf("status %q, want %q", body.Status, wantStatus)
	}
}

func TestRequestID(t *testing.T) {
	b := setup(t)
	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"client's id", "req-42.a:b_C", true},
		{"no id", "", false},
		{"unsafe id", "a b\"c", false},
		{"too long", strings.Repeat("x", 129), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.sent != "" {
				hdr = []string{api.RequestIDHeader, tt.sent}
			}
			resp, _ := b.do(t, http.MethodGet, "/v1/jobs/nope", "", nil, hdr...)
			got := resp.Header.Get(api.RequestIDHeader)
			switch {
			case tt.echoed && got != tt.sent:
				t.Errorf("request id %q, want %q", got, tt.sent)
			case !tt.echoed && (got == "" || got == tt.sent):
				t.Errorf("request id %q, want a generated one", got)
			}
			var found bool
			for _, l := range b.logs.lines(t) {
				if l["request_id"] == got {
					found = true
					if l["method"] != "GET" || l["path"] != "/v1/jobs/nope" || l["status"] != float64(404) ||
						l["error_code"] != "not_found" || l["duration"] == nil {
						t.Errorf("access log line %v", l)
					}
				}
			}
			if !found {
				t.Errorf("no access log line with request_id %q:\n%s", got, b.logs)
			}
		})
	}
}

func TestUnknownRoute(t *testing.T) {
	b := setup(t)
	for _, req := range [][2]string{{"GET", "/v2/jobs"}, {"DELETE", "/v1/jobs/x"}, {"GET", "/"}} {
		resp, data := b.do(t, req[0], req[1], "", nil)
		wantAPIError(t, decodeAPIError(resp, data), http.StatusNotFound, tasks.CodeNotFound)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	valid := func() api.Deps {
		return api.Deps{Store: &store.Redis{}, Blobs: &fsblob.Blobs{}, Queue: failingQueue{}, Sniff: media.SniffKind}
	}
	if _, err := api.New(api.Config{}, valid()); err != nil {
		t.Fatalf("New with defaults: %v", err)
	}
	tests := []struct {
		name      string
		cfg       api.Config
		configure func(*api.Deps)
	}{
		{"negative max pages", api.Config{MaxPages: -1}, nil},
		{"negative upload limit", api.Config{MaxUploadBytes: -1}, nil},
		{"bad default task", api.Config{DefaultTask: "Q&A"}, nil},
		{"no store", api.Config{}, func(d *api.Deps) { d.Store = nil }},
		{"no blobs", api.Config{}, func(d *api.Deps) { d.Blobs = nil }},
		{"no queue", api.Config{}, func(d *api.Deps) { d.Queue = nil }},
		{"no sniffer", api.Config{}, func(d *api.Deps) { d.Sniff = nil }},
		{"check named redis", api.Config{}, func(d *api.Deps) {
			d.Checks = map[string]func(context.Context) error{"redis": func(context.Context) error { return nil }}
		}},
		{"nil check", api.Config{}, func(d *api.Deps) { d.Checks = map[string]func(context.Context) error{"disk": nil} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			deps := valid()
			if tt.configure != nil {
				tt.configure(&deps)
			}
			if _, err := api.New(tt.cfg, deps); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
