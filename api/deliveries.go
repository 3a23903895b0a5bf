package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/mmq/mmq/tasks"
)

// deliveriesResponse is the body of GET /v1/jobs/{id}/deliveries and
// GET /v1/batches/{id}/deliveries.
type deliveriesResponse struct {
	JobID   string `json:"job_id,omitempty"`
	BatchID string `json:"batch_id,omitempty"`
	// Deliveries are the attempts, oldest first: the last 200.
	Deliveries []tasks.DeliveryAttempt `json:"deliveries"`
}

// handleJobDeliveries lists the webhook delivery attempts of a job:
// GET /v1/jobs/{id}/deliveries.
func (s *Server) handleJobDeliveries(w http.ResponseWriter, r *http.Request) {
	id, err := jobID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if _, err := s.getJob(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	as, err := s.deps.Store.JobDeliveries(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, deliveriesResponse{JobID: id, Deliveries: nonNil(as)})
}

// handleBatchDeliveries lists the webhook delivery attempts of a batch:
// GET /v1/batches/{id}/deliveries.
func (s *Server) handleBatchDeliveries(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.getBatch(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	as, err := s.deps.Store.BatchDeliveries(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, deliveriesResponse{BatchID: id, Deliveries: nonNil(as)})
}

func nonNil(as []tasks.DeliveryAttempt) []tasks.DeliveryAttempt {
	if as == nil {
		return []tasks.DeliveryAttempt{}
	}
	return as
}

// redeliverResponse answers a redelivery.
type redeliverResponse struct {
	WebhookID string `json:"webhook_id"`
	Event     string `json:"event"`
	URL       string `json:"url"`
}

// handleRedeliver sends an ended job's webhook again, on a fresh retry
// schedule: POST /v1/jobs/{id}/deliveries/redeliver. The message keeps its
// webhook id, so a receiver that did get it can tell it is a duplicate.
func (s *Server) handleRedeliver(w http.ResponseWriter, r *http.Request) {
	id, err := jobID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	job, err := s.getJob(ctx, id)
	switch {
	case err != nil:
		writeError(w, err)
		return
	case s.cfg.RefuseCallbacks:
		writeError(w, tasks.Errorf(tasks.CodeInvalidRequest, "this server sends no webhooks (webhooks.secret is not set)"))
		return
	case job.CallbackURL == "":
		writeError(w, tasks.Errorf(tasks.CodeConflict, "job %s has no callback_url", id))
		return
	case !job.Status.Final():
		writeError(w, tasks.Errorf(tasks.CodeConflict, "job %s has not ended (%s); its webhook goes out when it does", id, job.Status))
		return
	}
	p, err := tasks.JobWebhookPayload(job)
	if err != nil {
		writeError(w, err)
		return
	}
	// A task id of its own: the first delivery's stays taken while asynq
	// retains it.
	task, err := tasks.NewWebhookTask(p, p.WebhookID+"-redeliver-"+s.deps.NewID(), s.cfg.Webhooks)
	if err != nil {
		writeError(w, err)
		return
	}
	if _, err := s.deps.Queue.EnqueueContext(ctx, task); err != nil {
		writeError(w, tasks.WrapError(tasks.CodeUnavailable, err, "the redelivery could not be queued; try again"))
		return
	}
	writeJSON(w, http.StatusAccepted, redeliverResponse{WebhookID: p.WebhookID, Event: p.Event, URL: p.URL})
}

// announce enqueues the webhooks of a job the API ended (a cancellation):
// the job's own and, when its end completed its batch, the batch's. The
// worker announces the same end under the same task ids if it sees it, so
// it goes out once. A failure is logged: the job has ended either way, and
// its webhook can be redelivered.
func (s *Server) announce(ctx context.Context, j *tasks.Job) {
	if s.cfg.RefuseCallbacks {
		return
	}
	log := zerolog.Ctx(ctx)
	var batch *tasks.Batch
	if j.CompletedBatch && j.BatchID != "" {
		b, err := s.getBatch(ctx, j.BatchID)
		if err != nil {
			log.Warn().Err(err).Str("batch_id", j.BatchID).Msg("could not read the completed batch for its webhook")
		}
		batch = b
	}
	ts, err := tasks.NewEndWebhookTasks(j, batch, s.cfg.Webhooks)
	if err != nil {
		log.Error().Err(err).Str("job_id", j.ID).Msg("could not build the job's webhook")
		return
	}
	for _, t := range ts {
		if _, err := s.deps.Queue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			log.Error().Err(err).Str("job_id", j.ID).Msg("could not enqueue the job's webhook")
		}
	}
}
