package api

import (
	"context"
	"net/http"
	"regexp"
	"time"

	"github.com/mmq/mmq/tasks"
)

// Limits of GET /v1/notifications.
const (
	defaultNotificationLimit = 100
	maxNotificationLimit     = 1000
	// maxNotificationWait bounds a long poll, below the write timeouts that
	// proxies and the server commonly use.
	maxNotificationWait = 30 * time.Second
)

// streamIDPattern is a Redis stream id, complete ("1700000000000-0") or as a
// millisecond time ("0" is the start of the stream).
var streamIDPattern = regexp.MustCompile(`^[0-9]{1,20}(-[0-9]{1,20})?$`)

// notificationsResponse is the body of GET /v1/notifications.
type notificationsResponse struct {
	Notifications []tasks.Notification `json:"notifications"`
	// LastID is the id to pass as after in the next poll: the last
	// notification's, or the request's after when none came.
	LastID string `json:"last_id"`
}

// handleNotifications returns completion notifications after a stream id,
// waiting up to wait (at most 30 s) for the first one:
// GET /v1/notifications?after=&limit=&wait=. Without after it reads from the
// start of the stream.
func (s *Server) handleNotifications(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after := q.Get("after")
	if after == "" {
		after = "0"
	}
	if !streamIDPattern.MatchString(after) {
		writeError(w, tasks.Errorf(tasks.CodeInvalidRequest, "after must be a notification id from last_id"))
		return
	}
	limit, err := queryLimit(q, defaultNotificationLimit, maxNotificationLimit)
	if err != nil {
		writeError(w, err)
		return
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 {
			writeError(w, tasks.Errorf(tasks.CodeInvalidRequest, "wait must be a duration such as 10s"))
			return
		}
		wait = min(wait, maxNotificationWait)
	}
	tenant, err := viewTenant(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ns, err := s.waitNotifications(r.Context(), tenant, after, int64(limit), wait)
	if err != nil {
		writeError(w, err)
		return
	}
	resp := notificationsResponse{Notifications: ns, LastID: after}
	if resp.Notifications == nil {
		resp.Notifications = []tasks.Notification{}
	}
	if len(ns) > 0 {
		resp.LastID = ns[len(ns)-1].StreamID
	}
	writeJSON(w, http.StatusOK, resp)
}

// waitNotifications reads the notifications after after, and when there
// are none yet waits up to wait for one through the stream hub: a long
// poll holds no Redis connection, and counts as one of its key's streams.
func (s *Server) waitNotifications(ctx context.Context, tenant, after string, limit int64, wait time.Duration) ([]tasks.Notification, error) {
	ns, err := s.deps.Store.Notifications(ctx, tenant, after, limit, 0)
	if err != nil || len(ns) > 0 || wait <= 0 {
		return ns, err
	}
	sub, err := s.streams.subscribe(tasks.StreamRef{Kind: tasks.StreamNotifications, ID: tenant}, after, CallerOf(ctx).Tenant)
	if err != nil {
		return nil, err
	}
	defer s.streams.unsubscribe(sub)
	// The hub reads from after, so one that came since the read above
	// wakes the wait too.
	evs, err := sub.next(ctx, wait)
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	return s.deps.Store.Notifications(ctx, tenant, after, limit, 0)
}
