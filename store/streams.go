package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/tasks"
)

// maxStreamsPerRead bounds the streams of one ReadStreams call.
const maxStreamsPerRead = 10_000

// ReadStreams reads the entries after each cursor of several streams in
// one XREAD, waiting up to block for the first one when there is none. It
// is what one reader per process uses to serve every client's event
// stream with a single Redis connection (see api's stream hub): the
// store's keys share one cluster slot (store.prefix is a hash tag there),
// so one command may name them all. Entries of the notifications stream
// come back with their ids only. At most count entries per stream.
func (s *Redis) ReadStreams(ctx context.Context, cursors []tasks.StreamCursor, count int64, block time.Duration) (map[tasks.StreamRef][]tasks.Event, error) {
	if len(cursors) == 0 {
		return nil, nil
	}
	if len(cursors) > maxStreamsPerRead {
		return nil, fmt.Errorf("store: read %d streams at once: at most %d", len(cursors), maxStreamsPerRead)
	}
	keys := make([]string, 0, 2*len(cursors))
	refOf := make(map[string]tasks.StreamRef, len(cursors))
	for _, c := range cursors {
		key, err := s.streamKey(c.Stream)
		if err != nil {
			return nil, err
		}
		if _, dup := refOf[key]; dup {
			return nil, fmt.Errorf("store: stream %s named twice", key)
		}
		refOf[key] = c.Stream
		keys = append(keys, key)
	}
	for _, c := range cursors {
		keys = append(keys, cmp.Or(c.After, "0"))
	}
	args := &redis.XReadArgs{Streams: keys, Count: count, Block: -1}
	if block > 0 {
		args.Block = max(block, time.Millisecond)
	}
	streams, err := s.client.XRead(ctx, args).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: read %d streams: %w", len(cursors), err)
	}
	out := make(map[tasks.StreamRef][]tasks.Event, len(streams))
	for _, st := range streams {
		ref := refOf[st.Stream]
		evs := make([]tasks.Event, 0, len(st.Messages))
		for _, m := range st.Messages {
			if ref.Kind == tasks.StreamNotifications {
				evs = append(evs, tasks.Event{ID: m.ID})
			} else {
				evs = append(evs, eventOf(m))
			}
		}
		out[ref] = evs
	}
	return out, nil
}

// streamKey is the key of the stream ref names.
func (s *Redis) streamKey(ref tasks.StreamRef) (string, error) {
	switch ref.Kind {
	case tasks.StreamJob:
		return s.keys(ref.ID).events, nil
	case tasks.StreamBatch:
		record, _ := s.batchKeys(ref.ID)
		return record + ":events", nil
	case tasks.StreamNotifications:
		return s.notificationsKey(ref.ID), nil
	}
	return "", fmt.Errorf("store: unknown stream kind %q", ref.Kind)
}
