package api

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/mmq/mmq/tasks"
)

// Defaults of the body rate bounds.
const (
	DefaultBodyMinRate = 16 << 10
	DefaultBodyGrace   = 10 * time.Second
)

// minRateReadAhead is how many bytes a single Read is allowed time for
// beyond those already read, so that a client at exactly the minimum rate
// is not cut off in the middle of a buffer.
const minRateReadAhead = 64 << 10

// withBodyMinRate makes every request body arrive at least at rate bytes
// per second once grace has passed. The clock runs only while a handler
// waits for the client, inside Read: time the handler spends on what it
// already read (inspecting one file of a batch) is not the client's.
// Before each Read the connection's read deadline is set to when the
// client's allowance runs out, so a stalled client is cut off by the
// kernel, not by a goroutine per request. A client cut off gets 408
// request_timeout. http.Server's ReadTimeout cannot do this: it bounds the
// whole body, and a 100 MiB upload over a slow link needs minutes.
func withBodyMinRate(rate int64, grace time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &minRateBody{
				body: r.Body, rc: http.NewResponseController(w),
				rate: rate, allowance: grace,
			}
		}
		next.ServeHTTP(w, r)
	})
}

// minRateBody is a request body that must keep up with a minimum rate.
type minRateBody struct {
	body io.ReadCloser
	rc   *http.ResponseController
	rate int64
	// allowance is the grace time; read and waited grow as Read runs.
	allowance time.Duration
	read      int64
	waited    time.Duration
	// noDeadline is set when the connection takes no read deadline (an
	// HTTP/2 stream before Go supports it, a test recorder).
	noDeadline bool
}

// errBodyTooSlow is what Read returns once the client fell behind.
var errBodyTooSlow = tasks.Errorf(tasks.CodeRequestTimeout, "the request body arrived too slowly and was cut off; send it again")

func (b *minRateBody) Read(p []byte) (int, error) {
	ahead := min(int64(len(p)), minRateReadAhead)
	left := b.allowance + time.Duration(float64(b.read+ahead)/float64(b.rate)*float64(time.Second)) - b.waited
	if left <= 0 {
		return 0, errBodyTooSlow
	}
	start := time.Now()
	if !b.noDeadline {
		if err := b.rc.SetReadDeadline(start.Add(left)); errors.Is(err, http.ErrNotSupported) {
			b.noDeadline = true
		}
	}
	n, err := b.body.Read(p)
	b.waited += time.Since(start)
	b.read += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, errBodyTooSlow
	}
	return n, err
}

// Close closes the body and leaves the read deadline in place: what the
// server still discards of an unread body stays bounded by it, and the
// next request on the connection gets the server's own deadlines (idle,
// then header), which it sets before reading.
func (b *minRateBody) Close() error { return b.body.Close() }
