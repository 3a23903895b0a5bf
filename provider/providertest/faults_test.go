package providertest_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmq/mmq/provider/providertest"
)

// Faults answers what the script leaves, valid requests only, and sees
// each request's headers.
func TestFaults(t *testing.T) {
	s := providertest.NewAnthropic(t, "k")
	var calls atomic.Int32
	s.Faults = func(r providertest.Received) providertest.Reply {
		calls.Add(1)
		if r.Header.Get("X-Test") == "fail" {
			return providertest.Reply{Status: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {"1"}}}
		}
		return providertest.Reply{}
	}
	s.Script(providertest.Reply{Status: http.StatusTooManyRequests})
	post := func(key, tag string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/messages",
			strings.NewReader(`{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("x-api-key", key)
		req.Header.Set("anthropic-version", "2023-06-01")
		req.Header.Set("content-type", "application/json")
		req.Header.Set("X-Test", tag)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, c := range []struct {
		key, tag string
		status   int
		faults   int32
	}{
		{"k", "fail", 429, 0}, // scripted
		{"k", "fail", 503, 1},
		{"k", "ok", 200, 2},
		{"bad", "fail", 401, 2}, // refused before any fault
	} {
		resp := post(c.key, c.tag)
		if resp.StatusCode != c.status || calls.Load() != c.faults {
			t.Errorf("%s/%s: status %d after %d Faults calls, want %d after %d", c.key, c.tag, resp.StatusCode, calls.Load(), c.status, c.faults)
		}
		if c.status == 503 && resp.Header.Get("Retry-After") != "1" {
			t.Errorf("503 without its Retry-After: %v", resp.Header)
		}
	}
	if n := s.Count(); n != 4 {
		t.Errorf("%d requests recorded, want 4", n)
	}
}
