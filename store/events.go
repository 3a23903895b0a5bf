package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/tasks"
)

// JobEvents returns the events of job id after the event id after ("" or
// "0" from the first), waiting up to block for one when there is none yet.
// The job's scripts append them (StartJob, SavePage, FinishJob) in the same
// step as the change they describe, so a reader that resumes from its last
// id misses nothing, whichever process made the change.
func (s *Redis) JobEvents(ctx context.Context, id, after string, block time.Duration) ([]tasks.Event, error) {
	return s.readEvents(ctx, s.keys(id).events, after, block)
}

// BatchEvents is JobEvents for a batch: one "job" event per ended job and
// the final "state" event.
func (s *Redis) BatchEvents(ctx context.Context, id, after string, block time.Duration) ([]tasks.Event, error) {
	record, _ := s.batchKeys(id)
	return s.readEvents(ctx, record+":events", after, block)
}

func (s *Redis) readEvents(ctx context.Context, key, after string, block time.Duration) ([]tasks.Event, error) {
	if after == "" {
		after = "0"
	}
	args := &redis.XReadArgs{Streams: []string{key, after}, Count: 500, Block: -1}
	if block > 0 {
		args.Block = max(block, time.Millisecond)
	}
	streams, err := s.client.XRead(ctx, args).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: read events of %s: %w", key, err)
	}
	var evs []tasks.Event
	for _, st := range streams {
		for _, m := range st.Messages {
			evs = append(evs, eventOf(m))
		}
	}
	return evs, nil
}

// eventOf is the event a job's or batch's stream entry holds.
func eventOf(m redis.XMessage) tasks.Event {
	typ, _ := m.Values["type"].(string)
	data, _ := m.Values["data"].(string)
	return tasks.Event{ID: m.ID, Type: typ, Data: []byte(data)}
}
