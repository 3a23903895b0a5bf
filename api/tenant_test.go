package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
)

// tenantKeys are three keys: acme's, beta's and an admin of ops.
type tenantKeys struct{ acme, beta, admin string }

func tenantSetup(t *testing.T) (*testBundle, tenantKeys) {
	t.Helper()
	keys := tenantKeys{}
	for _, k := range []*string{&keys.acme, &keys.beta, &keys.admin} {
		var err error
		if *k, err = api.NewKey(); err != nil {
			t.Fatal(err)
		}
	}
	b := setup(t, func(c *api.Config, _ *api.Deps) {
		c.Auth = api.AuthConfig{Enabled: true, Keys: []string{
			api.HashKey(keys.acme) + ":acme",
			api.HashKey(keys.beta) + ":beta",
			api.HashKey(keys.admin) + ":ops:admin",
		}}
	})
	return b, keys
}

func bearer(key string) []string { return []string{"Authorization", "Bearer " + key} }

// submitURL submits a URL job with key and returns it.
func (b *testBundle) submitURL(t *testing.T, key string, header ...string) *tasks.Job {
	t.Helper()
	resp, data := b.do(t, http.MethodPost, "/v1/jobs", "application/json",
		strings.NewReader(`{"url": "https://example.com/report.pdf", "callback_url": "https://hooks.example.com/x?token=acme-secret"}`),
		append(bearer(key), header...)...)
	if resp.StatusCode != http.StatusAccepted && resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("submit: %s %s", resp.Status, data)
	}
	var j tasks.Job
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatal(err)
	}
	return &j
}

// Every /v1 route that names a job or a batch answers another tenant's key
// exactly as it answers an id that does not exist, changes nothing, and
// serves the owner and an admin.
func TestTenantRoutesByID(t *testing.T) {
	b, keys := tenantSetup(t)
	ctx := context.Background()
	job := b.submitURL(t, keys.acme)
	if job.Tenant != "acme" {
		t.Fatalf("job tenant %q, want acme", job.Tenant)
	}
	resp, data := b.do(t, http.MethodPost, "/v1/batches", "application/json",
		strings.NewReader(`{"urls": ["https://example.com/a.pdf", "https://example.com/b.pdf"]}`), bearer(keys.acme)...)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("batch: %s %s", resp.Status, data)
	}
	var batch struct {
		ID     string `json:"id"`
		Tenant string `json:"tenant"`
	}
	if err := json.Unmarshal(data, &batch); err != nil || batch.ID == "" {
		t.Fatalf("batch %s: %v", data, err)
	}

	routes := []struct{ method, path string }{
		{"GET", "/v1/jobs/%s"},
		{"GET", "/v1/jobs/%s/results"},
		{"GET", "/v1/jobs/%s/document"},
		{"GET", "/v1/jobs/%s/events"},
		{"GET", "/v1/jobs/%s/deliveries"},
		{"POST", "/v1/jobs/%s/deliveries/redeliver"},
		{"POST", "/v1/jobs/%s/retry"},
		{"POST", "/v1/jobs/%s/cancel"},
		{"GET", "/v1/batches/%s"},
		{"GET", "/v1/batches/%s/jobs"},
		{"GET", "/v1/batches/%s/events"},
		{"GET", "/v1/batches/%s/deliveries"},
		{"POST", "/v1/batches/%s/cancel"},
	}
	call := func(method, path, key string) (int, string) {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(c, method, b.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		// Not b.http, whose recorder reads each body to its end.
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer resp.Body.Close()
		if resp.Header.Get("Content-Type") == "text/event-stream" {
			return resp.StatusCode, "stream"
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.String()
	}
	for _, rt := range routes {
		id := job.ID
		if strings.HasPrefix(rt.path, "/v1/batches") {
			id = batch.ID
		}
		name := rt.method + " " + fmt.Sprintf(rt.path, "{id}")
		t.Run(name, func(t *testing.T) {
			// An id that does not exist, with the same length.
			missing := strings.Repeat("0", len(id))
			wantStatus, wantBody := call(rt.method, fmt.Sprintf(rt.path, missing), keys.beta)
			wantBody = strings.ReplaceAll(wantBody, missing, id)
			status, body := call(rt.method, fmt.Sprintf(rt.path, id), keys.beta)
			if status != http.StatusNotFound || status != wantStatus || body != wantBody {
				t.Errorf("beta's key: %d %s\nwant what a missing id gets: %d %s", status, body, wantStatus, wantBody)
			}
			for who, key := range map[string]string{"acme": keys.acme, "admin": keys.admin} {
				if status, body := call(rt.method, fmt.Sprintf(rt.path, id), key); status == http.StatusNotFound && body == wantBody {
					t.Errorf("%s's key: %d %s, as if it did not exist", who, status, body)
				}
			}
		})
	}
	// beta's cancels came first and changed nothing: acme's came after.
	got, err := b.store.GetJob(ctx, job.ID)
	if err != nil || got.Status != tasks.StatusCanceled {
		t.Errorf("job after acme's cancel: %v, %v", got, err)
	}
}

// Lists, counts and notifications show a tenant only its own; an admin sees
// all and may pick one tenant.
func TestTenantLists(t *testing.T) {
	b, keys := tenantSetup(t)
	ctx := context.Background()
	a := b.submitURL(t, keys.acme)
	z := b.submitURL(t, keys.beta)
	for _, id := range []string{a.ID, z.ID} {
		if _, err := b.store.FinishJob(ctx, id, tasks.StatusFailed, tasks.CodeFetchFailed, "gone"); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(key, path string) string {
		t.Helper()
		resp, data := b.do(t, http.MethodGet, path, "", nil, bearer(key)...)
		if resp.StatusCode != http.StatusOK {
			return resp.Status
		}
		var v struct {
			Jobs          []tasks.Job          `json:"jobs"`
			Notifications []tasks.Notification `json:"notifications"`
		}
		if strings.HasPrefix(path, "/v1/stats") {
			var st tasks.Stats
			if err := json.Unmarshal(data, &st); err != nil {
				t.Fatal(err)
			}
			return fmt.Sprint(st.Finished)
		}
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, j := range v.Jobs {
			out = append(out, map[string]string{a.ID: "a", z.ID: "z"}[j.ID])
		}
		for _, n := range v.Notifications {
			out = append(out, map[string]string{a.ID: "a", z.ID: "z"}[n.JobID])
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct{ key, path, want string }{
		{keys.acme, "/v1/jobs", "a"},
		{keys.beta, "/v1/jobs", "z"},
		{keys.admin, "/v1/jobs", "z,a"},
		{keys.admin, "/v1/jobs?tenant=acme", "a"},
		{keys.admin, "/v1/jobs?tenant=nobody", ""},
		{keys.beta, "/v1/jobs?tenant=acme", "400 Bad Request"},
		{keys.beta, "/v1/jobs?tenant=beta&status=failed", "z"},
		{keys.acme, "/v1/jobs?status=failed", "a"},
		{keys.acme, "/v1/notifications", "a"},
		{keys.beta, "/v1/notifications", "z"},
		{keys.admin, "/v1/notifications", "a,z"},
		{keys.admin, "/v1/notifications?tenant=beta", "z"},
		{keys.acme, "/v1/stats", "1"},
		{keys.admin, "/v1/stats", "2"},
	} {
		if got := ids(c.key, c.path); got != c.want {
			t.Errorf("%s with %s's key: %q, want %q", c.path, map[string]string{keys.acme: "acme", keys.beta: "beta", keys.admin: "admin"}[c.key], got, c.want)
		}
	}
}

// The same Idempotency-Key from two tenants makes two jobs: beta never gets
// acme's job back.
func TestTenantIdempotencyKeys(t *testing.T) {
	b, keys := tenantSetup(t)
	first := b.submitURL(t, keys.acme, "Idempotency-Key", "order-1")
	again := b.submitURL(t, keys.acme, "Idempotency-Key", "order-1")
	other := b.submitURL(t, keys.beta, "Idempotency-Key", "order-1")
	if again.ID != first.ID {
		t.Errorf("acme's replay made job %s, want %s", again.ID, first.ID)
	}
	if other.ID == first.ID || other.Tenant != "beta" {
		t.Errorf("beta's request with acme's key got job %s of %q", other.ID, other.Tenant)
	}
}

// Usage is counted per tenant as pages are analyzed, by day.
func TestTenantUsage(t *testing.T) {
	b, keys := tenantSetup(t)
	ctx := context.Background()
	j := b.submitURL(t, keys.acme)
	if _, err := b.store.StartJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		m := &tasks.Metrics{InputTokens: 100, OutputTokens: 10, CostUSD: 0.5}
		if err := b.store.SavePage(ctx, j.ID, tasks.PageResult{Index: i, Status: tasks.PageDone, Metrics: m}); err != nil {
			t.Fatal(err)
		}
	}
	usage := func(key, query string) string {
		t.Helper()
		resp, data := b.do(t, http.MethodGet, "/v1/usage"+query, "", nil, bearer(key)...)
		if resp.StatusCode != http.StatusOK {
			return resp.Status
		}
		var rep tasks.UsageReport
		if err := json.Unmarshal(data, &rep); err != nil {
			t.Fatal(err)
		}
		today := rep.Days[len(rep.Days)-1]
		return fmt.Sprintf("days %d today %s jobs %d pages %d tokens %d/%d usd %.2f", len(rep.Days), today.Date,
			rep.Total.Jobs, rep.Total.Pages, rep.Total.InputTokens, rep.Total.OutputTokens, rep.Total.CostUSD)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	for _, c := range []struct{ key, query, want string }{
		{keys.acme, "", "days 7 today " + day + " jobs 1 pages 3 tokens 300/30 usd 1.50"},
		{keys.beta, "", "days 7 today " + day + " jobs 0 pages 0 tokens 0/0 usd 0.00"},
		{keys.admin, "?since=24h", "days 2 today " + day + " jobs 1 pages 3 tokens 300/30 usd 1.50"},
		{keys.admin, "?tenant=beta&since=" + day, "days 1 today " + day + " jobs 0 pages 0 tokens 0/0 usd 0.00"},
		{keys.acme, "?since=2020-01-01", "400 Bad Request"},
	} {
		if got := usage(c.key, c.query); got != c.want {
			t.Errorf("/v1/usage%s: %s, want %s", c.query, got, c.want)
		}
	}
}

// A tenant at its quota gets 429 quota_exceeded; another tenant does not.
func TestTenantQuota(t *testing.T) {
	keys := tenantKeys{}
	for _, k := range []*string{&keys.acme, &keys.beta} {
		*k, _ = api.NewKey()
	}
	b := setup(t, func(c *api.Config, d *api.Deps) {
		c.Auth = api.AuthConfig{Enabled: true, Keys: []string{api.HashKey(keys.acme) + ":acme", api.HashKey(keys.beta) + ":beta"}}
		st, err := store.New(redistest.New(t, redistest.DBAPI), store.Config{Quotas: map[string]tasks.Quota{"acme": {ConcurrentJobs: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		d.Store = st
	})
	b.submitURL(t, keys.acme)
	resp, data := b.do(t, http.MethodPost, "/v1/jobs", "application/json", strings.NewReader(`{"url": "https://example.com/2.pdf"}`), bearer(keys.acme)...)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(data), `"quota_exceeded"`) || !strings.Contains(string(data), "concurrent_jobs") {
		t.Errorf("acme's second job: %s %s, want 429 quota_exceeded naming concurrent_jobs", resp.Status, data)
	}
	b.submitURL(t, keys.beta)
}
