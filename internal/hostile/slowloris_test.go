package hostile_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The timeouts the slowloris test configures, short so that it runs fast.
const (
	bodyGrace         = 2 * time.Second
	bodyMinRate       = 16 << 10 // bytes per second, the default
	idleTimeout       = 2 * time.Second
	readHeaderTimeout = 2 * time.Second
	// slack is what a loaded 2-core machine may add to a timeout.
	slack = 3 * time.Second
)

// trickle writes data to c one byte every interval until it is written, c
// fails or stop is closed.
func trickle(c net.Conn, data string, interval time.Duration, stop <-chan struct{}) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := range len(data) {
		if _, err := io.WriteString(c, data[i:i+1]); err != nil {
			return
		}
		select {
		case <-tick.C:
		case <-stop:
			return
		}
	}
}

// closedAfter waits until the server answers on br or closes the
// connection, and returns the answer (status 0 when it closed without
// one) and when it came, since start.
func closedAfter(c net.Conn, start time.Time, limit time.Duration) rawResponse {
	_ = c.SetReadDeadline(start.Add(limit))
	br := bufio.NewReader(c)
	if _, err := br.Peek(1); err != nil {
		return rawResponse{err: err, at: time.Since(start)}
	}
	r := readRawResponse(br, start)
	// The answer says the request is over; the connection must end too.
	if _, err := br.ReadByte(); err == nil {
		r.err = fmt.Errorf("the connection stayed open after the %d", r.status)
	}
	r.at = time.Since(start)
	return r
}

// Slow clients are cut off by the configured bounds: a body at 1 byte per
// 5 s by api.body_min_rate after api.body_grace, headers at 1 byte a second
// by api.read_header_timeout, an idle keep-alive connection by
// api.idle_timeout.
func TestAttackSlowloris(t *testing.T) {
	s := startServer(t, "api",
		"MMQ_API_BODY_GRACE", bodyGrace.String(),
		"MMQ_API_BODY_MIN_RATE", fmt.Sprint(bodyMinRate),
		"MMQ_API_IDLE_TIMEOUT", idleTimeout.String(),
		"MMQ_API_READ_HEADER_TIMEOUT", readHeaderTimeout.String())

	t.Run("body", func(t *testing.T) {
		t.Parallel()
		c := s.dial()
		body := fmt.Sprintf("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.pdf\"\r\n\r\n%s", boundary, pdfHead)
		fmt.Fprintf(c, "POST /v1/jobs HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: 100000\r\n\r\n",
			s.addr, keyA, boundary)
		stop := make(chan struct{})
		defer close(stop)
		start := time.Now()
		go trickle(c, body, 5*time.Second, stop)
		// The first Read may wait the grace plus the time its buffer
		// (at most 64 KiB) takes at the minimum rate.
		limit := bodyGrace + time.Duration(float64(64<<10)/bodyMinRate*float64(time.Second)) + slack
		r := closedAfter(c, start, limit+slack)
		t.Logf("body at 1 byte per 5 s: %d %s after %v (grace %v, min rate %d B/s; bound %v)",
			r.status, r.code, r.at.Round(time.Millisecond), bodyGrace, bodyMinRate, limit)
		if r.status != http.StatusRequestTimeout || r.code != "request_timeout" || r.err != nil {
			t.Errorf("slow body: %d %s (%v), want 408 request_timeout and the connection closed", r.status, r.code, r.err)
		}
		if r.at < bodyGrace-100*time.Millisecond || r.at > limit {
			t.Errorf("slow body cut off after %v, want between the %v grace and %v", r.at, bodyGrace, limit)
		}
	})

	t.Run("headers", func(t *testing.T) {
		t.Parallel()
		c := s.dial()
		stop := make(chan struct{})
		defer close(stop)
		start := time.Now()
		go trickle(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "+strings.Repeat("a", 60)+"\r\n\r\n", time.Second, stop)
		r := closedAfter(c, start, readHeaderTimeout+2*slack)
		t.Logf("headers at 1 byte per s: closed after %v (%d, %v; read_header_timeout %v)",
			r.at.Round(time.Millisecond), r.status, r.err, readHeaderTimeout)
		if r.at > readHeaderTimeout+slack || r.status == http.StatusOK {
			t.Errorf("slow headers: %d after %v, want the connection closed within %v", r.status, r.at, readHeaderTimeout+slack)
		}
	})

	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		c := s.dial()
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", s.addr)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("/healthz: %d, close %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
		}
		idle := time.Now()
		_ = c.SetReadDeadline(idle.Add(idleTimeout + 2*slack))
		_, err = br.ReadByte()
		at := time.Since(idle)
		t.Logf("idle keep-alive connection closed after %v (%v; idle_timeout %v)", at.Round(time.Millisecond), err, idleTimeout)
		if err != io.EOF || at < idleTimeout-100*time.Millisecond || at > idleTimeout+slack {
			t.Errorf("idle connection: %v after %v, want EOF between %v and %v", err, at, idleTimeout, idleTimeout+slack)
		}
	})
}
