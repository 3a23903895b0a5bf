package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"

	"github.com/mmq/mmq/tasks"
)

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

// fingerprint hashes the request's method, path and body as the handler
// reads it. The returned function drains what the handler left unread and
// returns the hash.
func fingerprint(r *http.Request) func() string {
	h := sha256.New()
	io.WriteString(h, r.Method+" "+r.URL.Path+"\n")
	body := r.Body
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.TeeReader(body, h), body}
	return func() string {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		return hex.EncodeToString(h.Sum(nil))
	}
}

// idempotency is one request's Idempotency-Key handling.
type idempotency struct {
	s     *Server
	scope string
	key   string
	sum   func() string
}

// newIdempotency starts fingerprinting r when it carries an
// Idempotency-Key; it returns nil when it does not.
func (s *Server) newIdempotency(r *http.Request, scope string) (*idempotency, error) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return nil, nil
	}
	if len(key) > maxIdempotencyKey {
		return nil, tasks.Errorf(tasks.CodeInvalidRequest, "Idempotency-Key is longer than %d bytes", maxIdempotencyKey)
	}
	return &idempotency{s: s, scope: scope, key: key, sum: fingerprint(r)}, nil
}

// claim binds the key to the resource id the request is about to create.
// It returns the id of the resource an identical earlier request created,
// to be replayed, or "" when this request goes ahead.
func (i *idempotency) claim(ctx context.Context, id string) (string, error) {
	if i == nil {
		return "", nil
	}
	return i.s.deps.Store.ClaimIdempotencyKey(ctx, i.storeScope(ctx), i.key, i.sum(), id)
}

// release forgets the key after the request failed past its claim.
func (i *idempotency) release(ctx context.Context) {
	if i == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	_ = i.s.deps.Store.ReleaseIdempotencyKey(ctx, i.storeScope(ctx), i.key)
}

// storeScope is the scope of the key in the store: the endpoint's and the
// caller's tenant, so that two tenants sending the same key are two keys
// and neither gets the other's job back.
func (i *idempotency) storeScope(ctx context.Context) string {
	return i.scope + ":" + CallerOf(ctx).Tenant
}

// replay answers a repeated request with what the first one created: 200
// with the resource, or 409 while the first request is still running.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, scope, id string) {
	var (
		v   any
		err error
	)
	if scope == "batch" {
		v, err = s.getBatch(r.Context(), id)
	} else {
		v, err = s.getJob(r.Context(), id)
	}
	if tasks.ErrorCode(err) == tasks.CodeNotFound {
		err = tasks.Errorf(tasks.CodeConflict, "a request with this Idempotency-Key is still being processed; try again shortly")
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Idempotent-Replayed", "true")
	writeJSON(w, http.StatusOK, v)
}
