package api

import (
	"context"
	"net/http"

	"github.com/mmq/mmq/tasks"
)

// Every job and batch belongs to the tenant of the key that created it.
// The helpers below are the only way handlers read one by id: a caller of
// another tenant gets the same not_found as for an id that never existed,
// so that nobody learns what other tenants hold.

// getJob returns job id if the caller may see it.
func (s *Server) getJob(ctx context.Context, id string) (*tasks.Job, error) {
	j, err := s.deps.Store.GetJob(ctx, id)
	if err != nil {
		return nil, err
	}
	if !CallerOf(ctx).Sees(j.Tenant) {
		return nil, tasks.Errorf(tasks.CodeNotFound, "job %s not found", id)
	}
	return j, nil
}

// getBatch returns batch id if the caller may see it.
func (s *Server) getBatch(ctx context.Context, id string) (*tasks.Batch, error) {
	b, err := s.deps.Store.GetBatch(ctx, id)
	if err != nil {
		return nil, err
	}
	if !CallerOf(ctx).Sees(b.Tenant) {
		return nil, tasks.Errorf(tasks.CodeNotFound, "batch %s not found", id)
	}
	return b, nil
}

// viewTenant returns the tenant whose objects a list, a count or a stream
// of r covers: the caller's own; for an admin, every tenant's ("") or the
// one named by ?tenant=.
func viewTenant(r *http.Request) (string, error) {
	c := CallerOf(r.Context())
	t := r.URL.Query().Get("tenant")
	switch {
	case t == "":
		if c.Admin {
			return "", nil
		}
		return c.Tenant, nil
	case !tasks.ValidTenant(t):
		return "", tasks.Errorf(tasks.CodeInvalidRequest, "tenant %q: want 1 to 63 of a-z, 0-9, _ and -", t)
	case c.Admin || t == c.Tenant:
		return t, nil
	}
	return "", tasks.Errorf(tasks.CodeInvalidRequest, "only admin keys may choose a tenant with ?tenant=")
}
