package hostile_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"
)

// randomToken returns a random method-like token of 3 to 12 letters.
func randomToken(r *rand.Rand) string {
	b := make([]byte, 3+r.IntN(10))
	for i := range b {
		b[i] = byte('A' + r.IntN(26))
	}
	return string(b)
}

// 5,000 requests with random methods (and random paths) do not make as
// many http_requests_total series: /metrics stays small.
func TestRandomMethodsKeepMetricsSmall(t *testing.T) {
	const requests = 5000
	s := startServer(t, "api")
	job := s.submitURL("https://example.com/hostile/metrics.pdf")
	paths := []string{"/v1/jobs", "/v1/jobs/" + job, "/v1/batches", "/healthz", "/metrics"}
	var g errgroup.Group
	g.SetLimit(8)
	for i := range requests {
		g.Go(func() error {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			path := paths[r.IntN(len(paths))]
			if r.IntN(4) == 0 {
				path = "/" + strings.ToLower(randomToken(r))
			}
			req, err := http.NewRequest(randomToken(r), s.base+path, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+keyA)
			resp, err := s.http.Do(req)
			if err != nil {
				return fmt.Errorf("%s %s: %w", req.Method, path, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.Body.Close()
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}

	status, body := s.request(http.MethodGet, "/metrics", "", "", nil)
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d %s", status, body)
	}
	series, methods := 0, map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "mmq_http_requests_total{") {
			continue
		}
		series++
		if _, rest, ok := strings.Cut(line, `method="`); ok {
			m, _, _ := strings.Cut(rest, `"`)
			methods[m] = true
		}
	}
	t.Logf("after %d requests with random methods: %d mmq_http_requests_total series (methods %v), /metrics %d bytes",
		requests, series, slices.Sorted(maps.Keys(methods)), len(body))
	if series == 0 {
		t.Fatalf("no mmq_http_requests_total series in /metrics:\n%.2000s", body)
	}
	if series > 20 {
		t.Errorf("%d http_requests_total series, want ≤ 20", series)
	}
	if len(body) > 200_000 {
		t.Errorf("/metrics is %d bytes, want ≤ 200 KB", len(body))
	}
}
