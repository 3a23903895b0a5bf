package api

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mmq/mmq/tasks"
	"github.com/rs/zerolog"
)

// StreamConfig bounds the event streams (SSE and notification long polls)
// of one API process.
type StreamConfig struct {
	// Max bounds the streams open at once; over it a new one gets 429
	// too_many_streams. Defaults to 2000.
	Max int
	// MaxPerKey bounds those of one tenant: its keys share it (a key
	// without a tenant is a tenant of its own; with auth off, everyone is
	// one). Defaults to 100.
	MaxPerKey int
	// Block is how long the process's one reader waits in Redis for new
	// events; a stream opened meanwhile joins the next read, so its first
	// live event may come up to Block late. Defaults to 1 s.
	Block time.Duration
	// MaxPending bounds the events held for one client that reads them
	// slower than they come; beyond it the stream ends with an error and
	// the client resumes from its Last-Event-ID. Defaults to 2000.
	MaxPending int
}

// Defaults of StreamConfig.
const (
	DefaultMaxStreams       = 2000
	DefaultMaxStreamsPerKey = 100
	DefaultStreamBlock      = time.Second
	DefaultStreamMaxPending = 2000
)

func (c *StreamConfig) setDefaults() {
	if c.Max == 0 {
		c.Max = DefaultMaxStreams
	}
	if c.MaxPerKey == 0 {
		c.MaxPerKey = DefaultMaxStreamsPerKey
	}
	if c.Block == 0 {
		c.Block = DefaultStreamBlock
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultStreamMaxPending
	}
}

// Validate reports a StreamConfig that cannot work.
func (c *StreamConfig) Validate() error {
	if c.Max < 0 || c.MaxPerKey < 0 || c.MaxPerKey > c.Max || c.Block < 0 || c.MaxPending < 0 {
		return fmt.Errorf("api: Streams: Max %d, MaxPerKey %d (at most Max), Block %v and MaxPending %d must not be negative",
			c.Max, c.MaxPerKey, c.Block, c.MaxPending)
	}
	return nil
}

// hubReadCount bounds the entries of one stream in one read.
const hubReadCount = 500

// hubRetryWait is how long the reader waits after a failed read.
const hubRetryWait = 500 * time.Millisecond

// streamHub serves every event stream of the process from one reader: a
// goroutine that waits in a single XREAD on all the streams clients
// follow and hands each client the events after its position. So 2,000
// open streams hold one Redis connection, not 2,000, and ordinary
// requests never wait behind them for one. The reader runs while some
// stream is open and stops after the last one closes.
type streamHub struct {
	cfg  StreamConfig
	read StreamReader
	log  zerolog.Logger

	mu      sync.Mutex
	subs    map[*subscription]struct{}
	perKey  map[string]int
	running bool
}

func newStreamHub(cfg StreamConfig, read StreamReader, log zerolog.Logger) *streamHub {
	return &streamHub{cfg: cfg, read: read, log: log, subs: map[*subscription]struct{}{}, perKey: map[string]int{}}
}

// subscription is one client's stream.
type subscription struct {
	ref tasks.StreamRef
	key string

	mu      sync.Mutex
	after   streamPos
	pending []tasks.Event
	err     error
	// notify has a token when pending or err changed.
	notify chan struct{}
}

// subscribe opens a stream of ref after the event id after for the API
// key key, or refuses it with CodeTooManyStreams.
func (h *streamHub) subscribe(ref tasks.StreamRef, after, key string) (*subscription, error) {
	pos, err := parseStreamPos(after)
	if err != nil {
		return nil, err
	}
	if h.read == nil {
		return nil, tasks.Errorf(tasks.CodeUnavailable, "this server serves no event streams")
	}
	sub := &subscription{ref: ref, key: key, after: pos, notify: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case len(h.subs) >= h.cfg.Max:
		return nil, tasks.Errorf(tasks.CodeTooManyStreams, "this server has %d event streams open, its limit; retry shortly", h.cfg.Max)
	case h.perKey[key] >= h.cfg.MaxPerKey:
		return nil, tasks.Errorf(tasks.CodeTooManyStreams, "this API key has %d event streams open, its limit; close one first", h.cfg.MaxPerKey)
	}
	h.subs[sub] = struct{}{}
	h.perKey[key]++
	if !h.running {
		h.running = true
		go h.run()
	}
	return sub, nil
}

// unsubscribe closes sub's stream.
func (h *streamHub) unsubscribe(sub *subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[sub]; !ok {
		return
	}
	delete(h.subs, sub)
	if h.perKey[sub.key]--; h.perKey[sub.key] <= 0 {
		delete(h.perKey, sub.key)
	}
}

// next waits up to wait for sub's next events; none after wait is no
// error. An error ends the stream.
func (sub *subscription) next(ctx context.Context, wait time.Duration) ([]tasks.Event, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		sub.mu.Lock()
		evs, err := sub.pending, sub.err
		sub.pending = nil
		sub.mu.Unlock()
		if len(evs) > 0 || err != nil {
			return evs, err
		}
		select {
		case <-sub.notify:
		case <-t.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (sub *subscription) signal() {
	select {
	case sub.notify <- struct{}{}:
	default:
	}
}

// run is the reader. Its reads are the hub's own (context.Background):
// they end within Block, and the loop ends when no stream is left.
func (h *streamHub) run() {
	ctx := context.Background()
	for {
		cursors, ok := h.cursors()
		if !ok {
			return
		}
		got, err := h.read.ReadStreams(ctx, cursors, hubReadCount, h.cfg.Block)
		if err != nil {
			h.log.Warn().Err(err).Int("streams", len(cursors)).Msg("event streams: read failed")
			h.fail(tasks.WrapError(tasks.CodeUnavailable, err, "the event stream was interrupted; reconnect with Last-Event-ID"))
			time.Sleep(hubRetryWait)
			continue
		}
		h.deliver(got)
	}
}

// cursors lists each followed stream once, from the earliest position any
// of its clients is at; ok is false, and the reader marked stopped, when
// no stream is open.
func (h *streamHub) cursors() (cs []tasks.StreamCursor, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) == 0 {
		h.running = false
		return nil, false
	}
	from := map[tasks.StreamRef]streamPos{}
	for sub := range h.subs {
		sub.mu.Lock()
		pos := sub.after
		sub.mu.Unlock()
		if cur, seen := from[sub.ref]; !seen || pos.less(cur) {
			from[sub.ref] = pos
		}
	}
	for ref, pos := range from {
		cs = append(cs, tasks.StreamCursor{Stream: ref, After: pos.String()})
	}
	return cs, true
}

// deliver hands each client the events after its position.
func (h *streamHub) deliver(got map[tasks.StreamRef][]tasks.Event) {
	if len(got) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		evs := got[sub.ref]
		if len(evs) == 0 {
			continue
		}
		sub.mu.Lock()
		for _, ev := range evs {
			pos, err := parseStreamPos(ev.ID)
			if err != nil || !sub.after.less(pos) {
				continue
			}
			sub.pending = append(sub.pending, ev)
			sub.after = pos
		}
		if len(sub.pending) > h.cfg.MaxPending && sub.err == nil {
			sub.pending = nil
			sub.err = tasks.Errorf(tasks.CodeTooManyStreams, "the client read its events too slowly; reconnect with Last-Event-ID")
		}
		sub.mu.Unlock()
		sub.signal()
	}
}

// fail ends every stream with err.
func (h *streamHub) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		sub.mu.Lock()
		if sub.err == nil {
			sub.err = err
		}
		sub.mu.Unlock()
		sub.signal()
	}
}

// streamPos is a Redis stream id: milliseconds and a sequence number.
type streamPos struct{ ms, seq uint64 }

// parseStreamPos parses "ms-seq" or "ms"; "" is the start.
func parseStreamPos(id string) (streamPos, error) {
	if id == "" {
		return streamPos{}, nil
	}
	msPart, seqPart, hasSeq := strings.Cut(id, "-")
	ms, err := strconv.ParseUint(msPart, 10, 64)
	if err != nil {
		return streamPos{}, errBadStreamID(id)
	}
	var seq uint64
	if hasSeq {
		if seq, err = strconv.ParseUint(seqPart, 10, 64); err != nil {
			return streamPos{}, errBadStreamID(id)
		}
	}
	return streamPos{ms, seq}, nil
}

func errBadStreamID(id string) error {
	return tasks.Errorf(tasks.CodeInvalidRequest, "%q is not an event id", id)
}

func (p streamPos) less(q streamPos) bool {
	return p.ms < q.ms || (p.ms == q.ms && p.seq < q.seq)
}

func (p streamPos) String() string {
	return strconv.FormatUint(p.ms, 10) + "-" + strconv.FormatUint(p.seq, 10)
}
