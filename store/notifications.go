package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mmq/mmq/tasks"
	"github.com/redis/go-redis/v9"
)

// notificationsKey is the notifications stream of tenant: the global one,
// holding every tenant's, for "".
func (s *Redis) notificationsKey(tenant string) string {
	if tenant == "" {
		return s.notifications
	}
	return s.cfg.Prefix + ":tenant:" + tenant + ":notifications"
}

// Notifications returns up to count notifications (defaults to 100, at most
// 1000) that follow the stream id after in the notifications stream of
// tenant ("" for every tenant's); "" or
// "0" reads from the oldest kept. With block > 0 it waits up to block for a
// first one when there is none yet, and returns none if block passes. Each
// notification's StreamID is set: pass the last one as after to resume.
//
// A blocking read holds a Redis connection for its duration; go-redis
// interrupts it on ctx's end only when the client has ContextTimeoutEnabled.
func (s *Redis) Notifications(ctx context.Context, tenant, after string, count int64, block time.Duration) ([]tasks.Notification, error) {
	if after == "" {
		after = "0"
	}
	if count <= 0 {
		count = 100
	}
	args := &redis.XReadArgs{
		Streams: []string{s.notificationsKey(tenant), after},
		Count:   min(count, 1000),
		// go-redis sends BLOCK for any Block >= 0, and BLOCK 0 waits forever.
		Block: -1,
	}
	if block > 0 {
		args.Block = max(block, time.Millisecond)
	}
	streams, err := s.client.XRead(ctx, args).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: read notifications after %s: %w", after, err)
	}
	var (
		ns   []tasks.Notification
		refs []metadataRef
		from []int
	)
	for _, st := range streams {
		for _, m := range st.Messages {
			// An entry is the job's record at its end; see finishScript.
			h := make(map[string]string, len(m.Values))
			for f, v := range m.Values {
				h[f], _ = v.(string)
			}
			n, err := decodeNotification(h)
			if err != nil {
				return nil, fmt.Errorf("store: notification %s: %w", m.ID, err)
			}
			n.StreamID = m.ID
			ns = append(ns, n)
			if h["event"] != tasks.EventBatchCompleted && h[fieldMetadataFromBatch] == "1" && len(n.Metadata) == 0 {
				from = append(from, len(ns)-1)
			}
		}
	}
	for _, i := range from {
		refs = append(refs, metadataRef{batch: ns[i].BatchID, dst: &ns[i].Metadata})
	}
	if err := s.fillMetadata(ctx, refs); err != nil {
		return nil, err
	}
	return ns, nil
}

// decodeNotification turns a stream entry into a notification: a batch
// record marked with its event, or a job record.
func decodeNotification(h map[string]string) (tasks.Notification, error) {
	if h["event"] == tasks.EventBatchCompleted {
		b, err := decodeBatch(h)
		if err != nil {
			return tasks.Notification{}, err
		}
		return tasks.NewBatchNotification(b), nil
	}
	j, err := decodeJob(h)
	if err != nil {
		return tasks.Notification{}, err
	}
	return tasks.NewNotification(j), nil
}
