package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/mmq/mmq/tasks"
	"github.com/rs/zerolog"
)

// RequestIDHeader carries a request's id, taken from the client when it sends
// a usable one, generated otherwise, and always echoed in the response.
const RequestIDHeader = "X-Request-Id"

// requestIDPattern is what a client's request id may look like; anything else
// is replaced, so that ids stay safe to log and to echo.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

type requestIDKey struct{}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// withRequestID gives every request an id and a logger that carries it,
// reachable with zerolog.Ctx.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !requestIDPattern.MatchString(id) {
			id = s.deps.NewID()
		}
		w.Header().Set(RequestIDHeader, id)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		ctx = s.log.With().Str("request_id", id).Logger().WithContext(ctx)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// responseRecorder remembers what the access log reports of a response.
type responseRecorder struct {
	http.ResponseWriter
	status  int
	bytes   int64
	code    tasks.Code
	err     error
	written bool
	// pattern is the route pattern that matched, from withPattern.
	pattern string
}

// withPattern hands the route pattern the mux matched back to the access
// log's recorder: middleware between them may have replaced the request
// (r.WithContext), and the mux sets the pattern on the one it was given.
func withPattern(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		for rw := w; rw != nil; {
			if rec, ok := rw.(*responseRecorder); ok {
				rec.pattern = r.Pattern
				return
			}
			u, ok := rw.(interface{ Unwrap() http.ResponseWriter })
			if !ok {
				return
			}
			rw = u.Unwrap()
		}
	})
}

func (rw *responseRecorder) WriteHeader(status int) {
	if !rw.written {
		rw.status, rw.written = status, true
	}
	rw.ResponseWriter.WriteHeader(status)
}

func (rw *responseRecorder) Write(b []byte) (int, error) {
	if !rw.written {
		rw.status, rw.written = http.StatusOK, true
	}
	n, err := rw.ResponseWriter.Write(b)
	rw.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (rw *responseRecorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// recordError keeps the error writeError answered with, for the log line.
func (rw *responseRecorder) recordError(code tasks.Code, err error) {
	rw.code, rw.err = code, err
}

// withAccessLog writes one log line per request: method, path, status,
// duration, request id and, for an error response, its code and the cause
// the client does not see.
func (s *Server) withAccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &responseRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			log := zerolog.Ctx(r.Context())
			ev := log.Info()
			if rec.status >= 500 {
				ev = log.Error()
			}
			if rec.code != "" {
				ev = ev.Str("error_code", string(rec.code))
			}
			// The cause of a 5xx, or of a refusal with a cause of its own
			// (why pdfcpu rejected a PDF), is what an operator needs.
			if rec.err != nil && (rec.status >= 500 || errors.Unwrap(rec.err) != nil) {
				ev = ev.AnErr("cause", rec.err)
			}
			d := time.Since(start)
			ev.Str("method", r.Method).
				Str("path", r.URL.Path).
				Int("status", rec.status).
				Int64("bytes", rec.bytes).
				Dur("duration", d).
				Msg("request")
			// The mux sets the pattern on the request it was given, which
			// withPattern hands back; requests that no route matched, or
			// that were refused before the mux, share one label.
			s.deps.Observer.HTTPRequest(r.Method, cmp.Or(rec.pattern, r.Pattern, "unmatched"), rec.status, d)
		}()
		next.ServeHTTP(rec, r)
	})
}

// withRecovery turns a panicking handler into a logged 500, so that one bad
// request does not take the connection's other requests with it.
func withRecovery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err, ok := p.(error)
			if !ok {
				err = fmt.Errorf("%v", p)
			}
			zerolog.Ctx(r.Context()).Error().
				Str("panic", err.Error()).
				Bytes("stack", debug.Stack()).
				Msg("handler panicked")
			if rec, ok := w.(*responseRecorder); ok && rec.written {
				// Too late for an error response; the client sees a
				// truncated body.
				return
			}
			writeError(w, tasks.WrapError(tasks.CodeInternal, fmt.Errorf("panic: %w", err), internalMessage))
		}()
		next.ServeHTTP(w, r)
	})
}
