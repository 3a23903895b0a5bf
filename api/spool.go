package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"

	"github.com/mmq/mmq/tasks"
	"github.com/rs/zerolog"
)

// DefaultMaxUploadBytesInFlight is Config.MaxUploadBytesInFlight's default.
const DefaultMaxUploadBytesInFlight = 2 << 30

// busyRetryAfter is the Retry-After, in seconds, of a 503 busy.
const busyRetryAfter = "5"

// uploadBudget bounds the request body bytes that the API process holds at
// once, whatever the number of clients: each body takes bytes from it as
// they arrive and gives them back when its request ends. A body that would
// take the budget over its bound gets 503 busy at once rather than waiting,
// so a flood of large uploads costs the server disk, never all its memory
// or a queue of stalled connections.
type uploadBudget struct {
	max  int64
	used atomic.Int64
}

// take reserves n bytes, or reports that the budget lacks them.
func (b *uploadBudget) take(n int64) bool {
	for {
		used := b.used.Load()
		if used+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

func (b *uploadBudget) give(n int64) { b.used.Add(-n) }

// InFlight returns the upload bytes held now.
func (b *uploadBudget) InFlight() int64 { return b.used.Load() }

var errBusy = tasks.Errorf(tasks.CodeBusy, "the server is receiving as many uploads as it can hold; retry shortly")

// budgetBody is a request body that takes what it reads from the budget.
type budgetBody struct {
	io.ReadCloser
	budget *uploadBudget
	taken  int64
	failed bool
}

func (b *budgetBody) Read(p []byte) (int, error) {
	if b.failed {
		return 0, errBusy
	}
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		if !b.budget.take(int64(n)) {
			b.failed = true
			return 0, errBusy
		}
		b.taken += int64(n)
	}
	return n, err
}

// spoolKey finds a request's spool in its context.
type spoolKey struct{}

// requestSpool holds the uploads of one request, spooled to files that
// are mapped into memory while the request runs. Its files are unlinked as
// soon as they are created, so nothing is left on disk if the process
// dies; the mappings go when the request ends.
type requestSpool struct {
	dir string
	// maps are the request's mapped uploads; a handler reads its parts
	// one after another, so they need no lock.
	maps []mapped
}

// mapped is a spooled upload mapped into memory; release undoes it.
type mapped struct {
	data    []byte
	release func() error
}

// withUploads spools the request bodies of upload routes: the body's bytes
// come out of the process's budget, and the handler's files go to disk in
// dir instead of the heap. Everything is given back when the handler
// returns; a handler must not keep an upload's bytes beyond that.
func (s *Server) withUploads(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > 0 && r.ContentLength > s.uploads.max-s.uploads.InFlight() {
			// It cannot fit now: say so before reading a byte.
			writeError(w, errBusy)
			return
		}
		body := &budgetBody{ReadCloser: r.Body, budget: s.uploads}
		sp := &requestSpool{dir: s.cfg.SpoolDir}
		defer func() {
			sp.close(zerolog.Ctx(r.Context()))
			s.uploads.give(body.taken)
		}()
		r.Body = body
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), spoolKey{}, sp)))
	})
}

// spool writes up to max bytes of src to a file and maps it; more than max
// is reported by tooLarge. Without a spool in ctx (a handler called
// directly) it reads into memory.
func spool(ctx context.Context, src io.Reader, max int64) (data []byte, tooLarge bool, err error) {
	sp, _ := ctx.Value(spoolKey{}).(*requestSpool)
	if sp == nil {
		data, err = io.ReadAll(io.LimitReader(src, max+1))
		return data, int64(len(data)) > max, err
	}
	f, err := os.CreateTemp(sp.dir, "upload-*")
	if err != nil {
		return nil, false, fmt.Errorf("api: spool upload: %w", err)
	}
	// Unlinked at once: the open file is all there is of it.
	_ = os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, io.LimitReader(src, max+1))
	if err != nil {
		return nil, false, err
	}
	if n > max {
		return nil, true, nil
	}
	if n == 0 {
		return []byte{}, false, nil
	}
	m, err := mapFile(f, n)
	if err != nil {
		return nil, false, fmt.Errorf("api: map spooled upload: %w", err)
	}
	sp.maps = append(sp.maps, m)
	return m.data, false, nil
}

func (sp *requestSpool) close(log *zerolog.Logger) {
	var errs []error
	for _, m := range sp.maps {
		errs = append(errs, m.release())
	}
	sp.maps = nil
	if err := errors.Join(errs...); err != nil {
		log.Warn().Err(err).Msg("releasing spooled uploads")
	}
}
