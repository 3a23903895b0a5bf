package hostile_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// Two API processes on one Redis hold a tenant's quota and its key's rate
// limit together: a burst of submissions spread over both is accepted up
// to the quota (not twice it), and requests past the shared burst get 429
// rate_limited from either process.
func TestQuotaAndRateLimitAcrossProcesses(t *testing.T) {
	const quota, submissions = 5, 40
	env := []string{"MMQ_QUOTAS", fmt.Sprintf(`{"*":{"concurrent_jobs":%d}}`, quota)}
	a := startServer(t, "api", env...)
	b := startServer(t, "api", env...)

	// No worker: accepted jobs stay queued, so each holds its place.
	codes := burst(submissions, func(i int) (int, []byte, int) {
		status, body := []*server{a, b}[i%2].request(http.MethodPost, "/v1/jobs", keyB, "application/json",
			strings.NewReader(fmt.Sprintf(`{"url":"https://example.com/hostile/quota-%d.pdf"}`, i)))
		return status, body, http.StatusAccepted
	})
	t.Logf("%d submissions over two API processes, concurrent_jobs quota %d: %v", submissions, quota, codes)
	if codes["202"] != quota || codes["429 quota_exceeded"] != submissions-quota {
		t.Errorf("answers %v; want %d accepted and %d 429 quota_exceeded", codes, quota, submissions-quota)
	}

	// The per-key rate limit: 1 request per second with a burst of 10,
	// shared: 40 requests at once over both processes pass 10 (±1 for a
	// token that refills during the burst), not 20.
	env = []string{"MMQ_AUTH_RATE_LIMIT", "1", "MMQ_AUTH_BURST", "10"}
	a = startServer(t, "api", env...)
	b = startServer(t, "api", env...)
	codes = burst(submissions, func(i int) (int, []byte, int) {
		status, body := []*server{a, b}[i%2].request(http.MethodGet, "/v1/jobs", keyA, "", nil)
		return status, body, http.StatusOK
	})
	t.Logf("%d requests over two API processes, rate limit 1/s burst 10: %v", submissions, codes)
	if ok := codes["200"]; ok < 10 || ok > 11 || codes["429 rate_limited"] != submissions-ok {
		t.Errorf("answers %v; want 10 (or 11) 200 and the rest 429 rate_limited", codes)
	}
}

// burst makes n requests at once, do(i) making the i-th and returning its
// status, body and the status of success, and counts the answers by
// status, with the error code of those that did not succeed.
func burst(n int, do func(i int) (status int, body []byte, ok int)) map[string]int {
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			status, body, ok := do(i)
			code := fmt.Sprint(status)
			if status != ok {
				code += " " + errorCode(body)
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return codes
}
