package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/tasks"
)

// announce enqueues the webhooks of job j, which has ended: its own when it
// has a callback URL, and its batch's when that end completed the batch.
// batchMayBeDone asks to look for the batch's end even when j does not say
// it caused it: a task run again after its job ended does not know.
//
// The tasks' ids derive from the ends they announce, so announcing twice
// sends once; an error is worth retrying the job's task for, which then
// finds the job ended and announces again.
func (h *Handler) announce(ctx context.Context, j *tasks.Job, batchMayBeDone bool) error {
	if h.deps.Queue == nil || !j.Status.Final() {
		return nil
	}
	var batch *tasks.Batch
	if j.BatchID != "" && (j.CompletedBatch || batchMayBeDone) {
		b, err := h.deps.Store.GetBatch(ctx, j.BatchID)
		if err != nil && tasks.ErrorCode(err) != tasks.CodeNotFound {
			return fmt.Errorf("worker: announce end of job %s: %w", j.ID, err)
		}
		batch = b
	}
	ts, err := tasks.NewEndWebhookTasks(j, batch, h.cfg.Webhooks)
	if err != nil {
		return fmt.Errorf("worker: announce end of job %s: %w", j.ID, err)
	}
	for _, t := range ts {
		if _, err := h.deps.Queue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("worker: announce end of job %s: %w", j.ID, err)
		}
	}
	return nil
}

// ProcessWebhook handles webhook:deliver tasks: one delivery attempt,
// logged in the store whatever its outcome. A failed attempt's error goes
// back to asynq, whose retry delay (retryDelay) follows the webhook
// schedule.
func (h *Handler) ProcessWebhook(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.DecodeWebhookPayload(t.Payload())
	if err != nil {
		return tasks.ForAsynq(err)
	}
	retried, _ := asynq.GetRetryCount(ctx)
	log := h.log.With().Str("webhook_id", p.WebhookID).Str("event", p.Event).Str("job_id", p.JobID).
		Str("batch_id", p.BatchID).Int("attempt", retried+1).Logger()
	if gone, err := h.ownerGone(ctx, p); err != nil {
		return err
	} else if gone {
		// Deleted (or expired): nothing is left to announce, nor to log
		// the attempt under; retrying would only resend it.
		log.Info().Msg("webhook dropped: its job or batch was deleted")
		return nil
	}

	att, err := h.deps.Deliverer.Deliver(ctx, p)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// The worker is stopping: asynq puts the task back and the
		// attempt does not count, so it is not logged either.
		log.Info().Msg("webhook delivery interrupted; it will be made again")
		return err
	}
	att.Attempt = retried + 1
	att.Outcome = deliveryOutcome(err, att.StatusCode, lastAttempt(ctx))

	// The attempt happened: log it even if the task's context ended.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if lerr := h.deps.Store.AppendDelivery(wctx, att); lerr != nil {
		log.Error().Err(lerr).Msg("could not log the webhook delivery attempt")
	}
	logDelivery(&log, att, err)
	h.deps.Observer.WebhookAttempt(att)
	return tasks.ForAsynq(err)
}

// ownerGone reports whether the job (or batch) a webhook announces is gone.
func (h *Handler) ownerGone(ctx context.Context, p tasks.WebhookPayload) (bool, error) {
	var err error
	if p.JobID != "" {
		_, err = h.deps.Store.GetJob(ctx, p.JobID)
	} else {
		_, err = h.deps.Store.GetBatch(ctx, p.BatchID)
	}
	if tasks.ErrorCode(err) == tasks.CodeNotFound {
		return true, nil
	}
	return false, err
}

// deliveryOutcome classifies an attempt that ended with err and status.
func deliveryOutcome(err error, status int, last bool) tasks.DeliveryOutcome {
	switch {
	case err == nil:
		return tasks.DeliveryDelivered
	case status == http.StatusGone:
		return tasks.DeliveryDisabled
	case tasks.IsPermanent(err) || last:
		return tasks.DeliveryFailed
	}
	return tasks.DeliveryRetrying
}

func logDelivery(log *zerolog.Logger, att tasks.DeliveryAttempt, err error) {
	ev := log.Info()
	switch att.Outcome {
	case tasks.DeliveryRetrying:
		ev = log.Warn()
	case tasks.DeliveryFailed, tasks.DeliveryDisabled:
		ev = log.Error()
	}
	ev.Err(ssrf.RedactError(err)).Str("url", ssrf.RedactURL(att.URL)).Int("status_code", att.StatusCode).Int64("latency_ms", att.LatencyMS).
		Str("outcome", string(att.Outcome)).Msg("webhook delivery attempt")
}

// retryDelay is the asynq RetryDelayFunc of the worker's servers. A
// webhook delivery waits for the next entry of the webhook schedule, or
// longer when the receiver's Retry-After asked for it; an analysis task
// backs off exponentially (Config.TaskBackoff).
func (h *Handler) retryDelay(n int, err error, t *asynq.Task) time.Duration {
	if t.Type() != tasks.TypeWebhookDeliver {
		return h.cfg.TaskBackoff.Delay(n)
	}
	// Retry n (from 0) is attempt n+1 of the schedule.
	d := h.cfg.Webhooks.Schedule.Delay(n+1, nil)
	if ra := tasks.RetryAfter(err); ra > d {
		d = ceilToSecond(time.Now(), ra)
	}
	return d
}

// ceilToSecond returns the delay from now to now+d rounded up to a whole
// second: asynq keeps a retry's time in whole Unix seconds, rounded down,
// which would otherwise retry up to a second before a receiver's
// Retry-After (the chaos suite saw 2.1 s for a Retry-After of 3 s).
func ceilToSecond(now time.Time, d time.Duration) time.Duration {
	at := now.Add(d)
	if t := at.Truncate(time.Second); !t.Equal(at) {
		at = t.Add(time.Second)
	}
	return at.Sub(now)
}
