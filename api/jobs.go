package api

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/mmq/mmq/tasks"
)

// Paging limits of the list endpoints.
const (
	defaultListLimit    = 50
	maxListLimit        = 500
	defaultResultsLimit = 100
	maxResultsLimit     = 1000
	// maxIDBytes bounds a job id in a path; longer ones cannot exist.
	maxIDBytes = 128
)

// jobID returns the {id} of r's path, or a not-found error for one that no
// job can have.
func jobID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if id == "" || len(id) > maxIDBytes {
		return "", tasks.Errorf(tasks.CodeNotFound, "job not found")
	}
	return id, nil
}

// handleGetJob returns one job: GET /v1/jobs/{id}.
func (s *Server) handleGetJob(w http.ResponseWriter, r *http.Request) {
	id, err := jobID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	job, err := s.getJob(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, job)
}

// listResponse is the body of GET /v1/jobs.
type listResponse struct {
	Jobs       []*tasks.Job `json:"jobs"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// handleListJobs lists jobs, newest first: GET /v1/jobs?status=&limit=&cursor=.
func (s *Server) handleListJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status := tasks.Status(q.Get("status"))
	if status != "" && !status.Valid() {
		writeError(w, tasks.Errorf(tasks.CodeInvalidRequest, "unknown status %q", status))
		return
	}
	limit, err := queryLimit(q, defaultListLimit, maxListLimit)
	if err != nil {
		writeError(w, err)
		return
	}
	tenant, err := viewTenant(r)
	if err != nil {
		writeError(w, err)
		return
	}
	jobs, next, err := s.deps.Store.ListJobs(r.Context(), tenant, status, limit, q.Get("cursor"))
	if err != nil {
		writeError(w, err)
		return
	}
	if jobs == nil {
		jobs = []*tasks.Job{}
	}
	writeJSON(w, http.StatusOK, listResponse{Jobs: jobs, NextCursor: next})
}

// resultsResponse is the body of GET /v1/jobs/{id}/results.
type resultsResponse struct {
	JobID   string             `json:"job_id"`
	Status  tasks.Status       `json:"status"`
	Results []tasks.PageResult `json:"results"`
	// NextCursor is the index of the last result returned, when more
	// follow; it is absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// handleResults pages through a job's results in index order:
// GET /v1/jobs/{id}/results?cursor=&limit=. The cursor is the index of the
// last result seen, so a client polling a running job resumes where it was.
func (s *Server) handleResults(w http.ResponseWriter, r *http.Request) {
	id, err := jobID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	after := -1
	if c := q.Get("cursor"); c != "" {
		if after, err = strconv.Atoi(c); err != nil || after < 0 {
			writeError(w, tasks.Errorf(tasks.CodeInvalidRequest, "cursor must be a result index from next_cursor"))
			return
		}
	}
	limit, err := queryLimit(q, defaultResultsLimit, maxResultsLimit)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	job, err := s.getJob(ctx, id)
	if err != nil {
		writeError(w, err)
		return
	}
	rs, more, err := s.deps.Store.Results(ctx, id, after, limit)
	if err != nil {
		writeError(w, err)
		return
	}
	resp := resultsResponse{JobID: job.ID, Status: job.Status, Results: rs}
	if resp.Results == nil {
		resp.Results = []tasks.PageResult{}
	}
	if more && len(rs) > 0 {
		resp.NextCursor = strconv.Itoa(rs[len(rs)-1].Index)
	}
	writeJSON(w, http.StatusOK, resp)
}

// queryLimit parses the limit parameter: def when absent, else 1 to max.
func queryLimit(q url.Values, def, max int) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, tasks.Errorf(tasks.CodeInvalidRequest, "limit must be an integer from 1 to %d", max)
	}
	return n, nil
}
