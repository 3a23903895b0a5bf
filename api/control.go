package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/mmq/mmq/tasks"
)

// TaskControl reaches tasks already on the queue. *asynq.Inspector
// implements it.
type TaskControl interface {
	// DeleteTask removes a task that is not running.
	DeleteTask(queue, id string) error
	// CancelProcessing asks the worker running task id to cancel it.
	CancelProcessing(id string) error
}

// handleCancelJob cancels a job: POST /v1/jobs/{id}/cancel. A queued job's
// task is removed; a running job's handler is cancelled and stops its
// analysis, keeping the pages already done. The job ends canceled.
func (s *Server) handleCancelJob(w http.ResponseWriter, r *http.Request) {
	id, err := jobID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	job, err := s.cancelJob(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, job)
}

// cancelJob ends job id as canceled and stops its task.
func (s *Server) cancelJob(ctx context.Context, id string) (*tasks.Job, error) {
	job, err := s.getJob(ctx, id)
	if err != nil {
		return nil, err
	}
	if job.Status.Final() {
		return job, tasks.Errorf(tasks.CodeConflict, "job %s has already ended (%s)", id, job.Status)
	}
	// The state first: a handler that starts now sees a final job and does
	// nothing; one that runs is cancelled below.
	job, err = s.deps.Store.FinishJob(ctx, id, tasks.StatusCanceled, tasks.CodeCanceled, "canceled by the client")
	if err != nil {
		return nil, err
	}
	s.announce(ctx, job)
	if s.deps.Tasks != nil {
		queue := string(job.Options.Priority)
		if queue == "" {
			queue = string(tasks.PriorityDefault)
		}
		if err := s.deps.Tasks.DeleteTask(queue, id); err != nil {
			// Running (or already gone): cancel it where it runs.
			if cerr := s.deps.Tasks.CancelProcessing(id); cerr != nil {
				zerolog.Ctx(ctx).Warn().Err(cerr).Str("job_id", id).Msg("cancel: could not signal the worker")
			}
		}
	}
	return job, nil
}

// handleCancelBatch cancels every job of a batch that has not ended:
// POST /v1/batches/{id}/cancel.
func (s *Server) handleCancelBatch(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	if _, err := s.getBatch(ctx, id); err != nil {
		writeError(w, err)
		return
	}
	canceled, err := s.cancelBatchJobs(ctx, id)
	if err != nil {
		writeError(w, err)
		return
	}
	b, err := s.getBatch(ctx, id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		*tasks.Batch
		Canceled int `json:"canceled"`
	}{b, canceled})
}

// handleRetryJob re-runs the failed pages of a failed or partially
// succeeded job: POST /v1/jobs/{id}/retry. Done pages are kept and skipped.
func (s *Server) handleRetryJob(w http.ResponseWriter, r *http.Request) {
	id, err := jobID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	if _, err := s.getJob(ctx, id); err != nil {
		writeError(w, err)
		return
	}
	job, err := s.deps.Store.ReopenJob(ctx, id)
	if err != nil {
		writeError(w, err)
		return
	}
	task, err := tasks.NewAnalyzeTask(job.Kind, tasks.AnalyzePayload{JobID: job.ID, BlobKey: job.BlobKey, SourceURL: job.SourceURL, Options: job.Options}, s.cfg.Enqueue)
	if err != nil {
		writeError(w, err)
		return
	}
	// A new task id: the first task's id stays taken while asynq retains it.
	taskID := job.ID + "-retry-" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	if _, err := s.deps.Queue.EnqueueContext(ctx, task, asynq.TaskID(taskID)); err != nil {
		s.failUnqueued(ctx, job.ID, err)
		writeError(w, tasks.WrapError(tasks.CodeUnavailable, err, "the retry could not be queued"))
		return
	}
	writeJSON(w, http.StatusAccepted, job)
}

// cancelBatchJobs cancels every job of batch id that has not ended and
// returns how many it canceled.
func (s *Server) cancelBatchJobs(ctx context.Context, id string) (int, error) {
	canceled := 0
	for offset := 0; ; offset += 1000 {
		jobs, more, err := s.deps.Store.BatchJobs(ctx, id, offset, 1000)
		if err != nil {
			return canceled, err
		}
		for _, j := range jobs {
			if j.Status.Final() {
				continue
			}
			if _, err := s.cancelJob(ctx, j.ID); err != nil && tasks.ErrorCode(err) != tasks.CodeConflict {
				return canceled, err
			}
			canceled++
		}
		if !more {
			return canceled, nil
		}
	}
}
