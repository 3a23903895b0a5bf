package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/tasks"
)

// MaxDeliveryAttempts is how many webhook delivery attempts are kept per job
// or batch; older ones are dropped first.
const MaxDeliveryAttempts = 200

// appendDeliveryScript appends one attempt to a delivery log, trims it to
// its cap and gives it the TTL its owner's record has left (Retention when
// the record has none). An owner that is gone (deleted, or expired) gets
// no log: a nil reply.
//
// KEYS: owner record, delivery log.
// ARGV: attempt JSON, cap, retention in ms.
var appendDeliveryScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = tonumber(ARGV[3]) end
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
`)

// deliveryKeys returns the record and delivery log of what a attempts to
// announce: its job, else its batch.
func (s *Redis) deliveryKeys(jobID, batchID string) (record, log string) {
	if jobID != "" {
		k := s.keys(jobID)
		return k.record, k.record + ":deliveries"
	}
	record, _ = s.batchKeys(batchID)
	return record, record + ":deliveries"
}

// AppendDelivery logs one webhook delivery attempt under its job, or its
// batch when it has no job id. The log keeps the last MaxDeliveryAttempts
// attempts and expires with the job's (or batch's) other keys. A job or
// batch that is gone is a not-found error, and nothing is logged.
func (s *Redis) AppendDelivery(ctx context.Context, a tasks.DeliveryAttempt) error {
	if a.JobID == "" && a.BatchID == "" {
		return fmt.Errorf("store: delivery attempt %s names no job or batch", a.WebhookID)
	}
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("store: encode delivery attempt: %w", err)
	}
	record, log := s.deliveryKeys(a.JobID, a.BatchID)
	err = appendDeliveryScript.Run(ctx, s.client, []string{record, log}, b, MaxDeliveryAttempts, s.cfg.Retention.Milliseconds()).Err()
	switch {
	case errors.Is(err, redis.Nil) && a.JobID != "":
		return notFound(a.JobID)
	case errors.Is(err, redis.Nil):
		return &tasks.Error{Code: tasks.CodeNotFound, Message: fmt.Sprintf("batch %s not found", a.BatchID), Err: ErrNotFound}
	case err != nil:
		return fmt.Errorf("store: log delivery attempt %s: %w", a.WebhookID, err)
	}
	return nil
}

// JobDeliveries returns the webhook delivery attempts of job id, oldest
// first. An unknown job is a not-found error.
func (s *Redis) JobDeliveries(ctx context.Context, id string) ([]tasks.DeliveryAttempt, error) {
	record, log := s.deliveryKeys(id, "")
	return s.deliveries(ctx, record, log, func() error { return notFound(id) })
}

// BatchDeliveries returns the webhook delivery attempts of batch id, oldest
// first. An unknown batch is a not-found error.
func (s *Redis) BatchDeliveries(ctx context.Context, id string) ([]tasks.DeliveryAttempt, error) {
	record, log := s.deliveryKeys("", id)
	return s.deliveries(ctx, record, log, func() error {
		return &tasks.Error{Code: tasks.CodeNotFound, Message: fmt.Sprintf("batch %s not found", id), Err: ErrNotFound}
	})
}

func (s *Redis) deliveries(ctx context.Context, record, log string, notFound func() error) ([]tasks.DeliveryAttempt, error) {
	pipe := s.client.Pipeline()
	exists := pipe.Exists(ctx, record)
	items := pipe.LRange(ctx, log, 0, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: read %s: %w", log, err)
	}
	if exists.Val() == 0 {
		return nil, notFound()
	}
	as := make([]tasks.DeliveryAttempt, 0, len(items.Val()))
	for _, it := range items.Val() {
		var a tasks.DeliveryAttempt
		if err := json.Unmarshal([]byte(it), &a); err != nil {
			return nil, fmt.Errorf("store: corrupt delivery attempt in %s: %w", log, err)
		}
		as = append(as, a)
	}
	return as, nil
}
