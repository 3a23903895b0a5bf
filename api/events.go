package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/mmq/mmq/tasks"
)

// eventPoll is how long one read of an event stream waits; between reads
// the server sends a keep-alive comment and checks the client is there.
const eventPoll = 5 * time.Second

// streamID is what a Redis stream id looks like.
var streamID = regexp.MustCompile(`^[0-9]{1,20}(-[0-9]{1,20})?$`)

// eventSource is one job's or batch's event stream: where it is, how to
// read what it holds now, and whether its job or batch has ended (with the
// state to report when its stream has already expired).
type eventSource struct {
	ref   tasks.StreamRef
	read  func(ctx context.Context, after string) ([]tasks.Event, error)
	ended func(ctx context.Context) (bool, any, error)
}

// handleJobEvents streams a job's events as Server-Sent Events:
// GET /v1/jobs/{id}/events. A client that reconnects with Last-Event-ID
// gets every event after that one.
func (s *Server) handleJobEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.streamEvents(w, r, eventSource{
		ref: tasks.StreamRef{Kind: tasks.StreamJob, ID: id},
		read: func(ctx context.Context, after string) ([]tasks.Event, error) {
			return s.deps.Store.JobEvents(ctx, id, after, 0)
		},
		ended: func(ctx context.Context) (bool, any, error) {
			j, err := s.getJob(ctx, id)
			if err != nil {
				return false, nil, err
			}
			return j.Status.Final(), j, nil
		},
	})
}

// handleBatchEvents streams a batch's events: GET /v1/batches/{id}/events.
func (s *Server) handleBatchEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.streamEvents(w, r, eventSource{
		ref: tasks.StreamRef{Kind: tasks.StreamBatch, ID: id},
		read: func(ctx context.Context, after string) ([]tasks.Event, error) {
			return s.deps.Store.BatchEvents(ctx, id, after, 0)
		},
		ended: func(ctx context.Context) (bool, any, error) {
			b, err := s.getBatch(ctx, id)
			if err != nil {
				return false, nil, err
			}
			return b.Status == tasks.BatchCompleted, b, nil
		},
	})
}

// streamEvents serves src as Server-Sent Events. What the stream holds
// already is read at once; what comes later arrives through the process's
// stream hub, so an open stream holds no Redis connection of its own.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, src eventSource) {
	ctx := r.Context()
	after := r.Header.Get("Last-Event-ID")
	if after == "" {
		after = r.URL.Query().Get("after")
	}
	if after != "" && !streamID.MatchString(after) {
		writeError(w, tasks.Errorf(tasks.CodeInvalidRequest, "Last-Event-ID %q is not an event id", after))
		return
	}
	if _, _, err := src.ended(ctx); err != nil {
		writeError(w, err)
		return
	}
	sub, err := s.streams.subscribe(src.ref, after, CallerOf(ctx).Tenant)
	if err != nil {
		writeError(w, err)
		return
	}
	defer s.streams.unsubscribe(sub)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	// Catch up with what is there, then follow the hub. The hub starts
	// from the subscription's position, so events that come between the
	// two are delivered by both; the ids drop the repeats.
	evs, err := src.read(ctx, after)
	for ctx.Err() == nil {
		if err != nil {
			if ctx.Err() == nil {
				writeSSEError(w, err)
				_ = rc.Flush()
			}
			return
		}
		pos, _ := parseStreamPos(after)
		for _, ev := range evs {
			p, perr := parseStreamPos(ev.ID)
			if perr != nil || !pos.less(p) {
				continue
			}
			pos = p
			fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, ev.Data)
			after = ev.ID
			if ev.Final() {
				_ = rc.Flush()
				return
			}
		}
		if len(evs) == 0 {
			// The stream expires with the job; an ended job whose events
			// are gone still gets its final state.
			if done, state, err := src.ended(ctx); err == nil && done {
				data, _ := json.Marshal(state)
				fmt.Fprintf(w, "event: state\ndata: %s\n\n", data)
				_ = rc.Flush()
				return
			}
			fmt.Fprint(w, ": keep-alive\n\n")
		}
		_ = rc.Flush()
		evs, err = sub.next(ctx, eventPoll)
	}
}

// writeSSEError writes err as an "error" event whose data is the error
// object of an HTTP error response's body (errorObject), and records err,
// as writeError does, for the request's access log line: the stream's
// status is already 200, but its code and cause are not lost.
func writeSSEError(w http.ResponseWriter, err error) {
	if rec, ok := w.(interface{ recordError(tasks.Code, error) }); ok {
		rec.recordError(tasks.ErrorCode(err), err)
	}
	data, _ := json.Marshal(errorObject(err))
	fmt.Fprintf(w, "event: error\ndata: %s\n\n", data)
}
