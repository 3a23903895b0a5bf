package hostile_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mmq/mmq/internal/testwait"
)

// maxStreams is the API's stream cap in the streams test: key A opens
// exactly that many, so that the next stream is over it.
const maxStreams = 2000

// openStream opens GET path as an event stream on a raw connection with
// key and returns the connection once the status line and headers are in.
func (s *server) openStream(path, key string) (net.Conn, rawResponse, error) {
	c, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
	if err != nil {
		return nil, rawResponse{}, err
	}
	start := time.Now()
	_ = c.SetDeadline(start.Add(30 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", path, s.addr, key); err != nil {
		c.Close()
		return nil, rawResponse{}, err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, rawResponse{}, err
	}
	r := rawResponse{status: resp.StatusCode, at: time.Since(start)}
	if resp.StatusCode != http.StatusOK {
		r = readBody(resp, r)
		c.Close()
		return nil, r, nil
	}
	// The stream stays open; the server's keep-alive comments pile up in
	// the socket's buffer, a few bytes every 5 s.
	_ = c.SetDeadline(time.Time{})
	return c, r, nil
}

// 2,000 open event streams of one key neither starve another key's
// requests nor take the server out of readiness, and the 2,001st is
// refused with 429 too_many_streams.
func TestManyStreams(t *testing.T) {
	s := startServer(t, "api",
		"MMQ_API_MAX_STREAMS", fmt.Sprint(maxStreams),
		"MMQ_API_MAX_STREAMS_PER_KEY", fmt.Sprint(maxStreams))
	// Queued jobs, with no worker to run them: their streams stay open.
	var jobs []string
	for i := range 20 {
		// The attacker streams its own jobs (each key is a tenant of its
		// own: another's would be not_found).
		jobs = append(jobs, s.submitURLAs(keyA, fmt.Sprintf("https://example.com/hostile/streams-%02d.pdf", i)))
	}
	target := s.submitURL("https://example.com/hostile/bystander.pdf")
	for range 20 { // warm the bystander's connection and the server
		if status, body := s.request(http.MethodGet, "/v1/jobs/"+target, keyB, "", nil); status != http.StatusOK {
			t.Fatalf("GET job: %d %s", status, body)
		}
	}
	rss := s.meterRSS()

	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	start := time.Now()
	var g errgroup.Group
	g.SetLimit(64)
	for i := range maxStreams {
		g.Go(func() error {
			c, r, err := s.openStream("/v1/jobs/"+jobs[i%len(jobs)]+"/events", keyA)
			if err != nil {
				return fmt.Errorf("stream %d: %w", i, err)
			}
			if c == nil {
				return fmt.Errorf("stream %d: %d %s", i, r.status, r.code)
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("after %d streams: %v", len(conns), err)
	}
	peak, growth := rss.growth()
	t.Logf("%d event streams open in %v; API RSS peak %s (+%s)", len(conns), time.Since(start).Round(time.Millisecond), mib(peak), mib(growth))

	// The bystander's requests, one after another.
	lat := make([]time.Duration, 200)
	for i := range lat {
		t0 := time.Now()
		status, body := s.request(http.MethodGet, "/v1/jobs/"+target, keyB, "", nil)
		lat[i] = time.Since(t0)
		if status != http.StatusOK {
			t.Fatalf("GET job with %d streams open: %d %s", len(conns), status, body)
		}
	}
	p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
	t.Logf("GET /v1/jobs/{id} with key B, %d streams of key A open: p50 %v, p99 %v, max %v",
		len(conns), p50, p99, percentile(lat, 1))
	if p99 > 50*time.Millisecond {
		t.Errorf("p99 %v with %d streams open, want ≤ 50 ms", p99, len(conns))
	}

	if status, body := s.request(http.MethodGet, "/readyz", "", "", nil); status != http.StatusOK {
		t.Errorf("/readyz with %d streams open: %d %s", len(conns), status, body)
	}

	// One more, of either key, is over the process's cap.
	own := map[string]string{keyA: jobs[0], keyB: target}
	for name, key := range map[string]string{"A": keyA, "B": keyB} {
		c, r, err := s.openStream("/v1/jobs/"+own[key]+"/events", key)
		if err != nil {
			t.Fatalf("stream %d: %v", maxStreams+1, err)
		}
		if c != nil {
			c.Close()
			t.Errorf("stream %d was opened, want 429 too_many_streams", maxStreams+1)
			continue
		}
		t.Logf("stream %d (key %s): %d %s in %v", maxStreams+1, name, r.status, r.code, r.at.Round(time.Microsecond))
		if r.status != http.StatusTooManyRequests || r.code != "too_many_streams" {
			t.Errorf("stream %d: %d %s, want 429 too_many_streams", maxStreams+1, r.status, r.code)
		}
	}

	// Streams whose clients went away give their places back.
	for _, c := range conns {
		c.Close()
	}
	var last rawResponse
	closed := time.Now()
	freed := testwait.Until(t.Context(), 15*time.Second, func() bool {
		c, r, err := s.openStream("/v1/jobs/"+jobs[0]+"/events", keyA)
		last = r
		if err != nil || c == nil {
			return false
		}
		c.Close()
		return true
	})
	if !freed {
		t.Errorf("15 s after its clients closed %d streams, a new one still gets %d %s", maxStreams, last.status, last.code)
	}
	t.Logf("a new stream opened %v after the %d were closed", time.Since(closed).Round(time.Millisecond), maxStreams)
}
