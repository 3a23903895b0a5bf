package api

import (
	"context"
	"net/http"

	"github.com/mmq/mmq/tasks"
)

// handleDeleteJob deletes a job: DELETE /v1/jobs/{id} answers 204 once the
// job, its results, events, deliveries and password are gone, and its
// input too unless another job uses the same content. A job that has not
// ended is canceled first, as POST /v1/jobs/{id}/cancel does, so that its
// worker stops; whatever that worker still writes is refused by the store.
// Another tenant's job is not_found.
func (s *Server) handleDeleteJob(w http.ResponseWriter, r *http.Request) {
	id, err := jobID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.deleteJob(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deleteJob cancels job id if it has not ended, then deletes it.
func (s *Server) deleteJob(ctx context.Context, id string) error {
	job, err := s.getJob(ctx, id)
	if err != nil {
		return err
	}
	if !job.Status.Final() {
		// A conflict is a job that ended meanwhile: deleting it is fine.
		if _, err := s.cancelJob(ctx, id); err != nil && tasks.ErrorCode(err) != tasks.CodeConflict {
			return err
		}
	}
	return s.deps.Store.DeleteJob(ctx, id)
}

// handleDeleteBatch deletes a batch and all its jobs: DELETE
// /v1/batches/{id} answers 204. Jobs that have not ended are canceled
// first.
func (s *Server) handleDeleteBatch(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	if _, err := s.getBatch(ctx, id); err != nil {
		writeError(w, err)
		return
	}
	if _, err := s.cancelBatchJobs(ctx, id); err != nil {
		writeError(w, err)
		return
	}
	if err := s.deps.Store.DeleteBatch(ctx, id); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
