package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/tasks"
)

func TestReadEvents(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		stream string
		want   []tasks.Event
	}{
		{"one event", "id: 1-0\nevent: page\ndata: {\"page\":1}\n\n",
			[]tasks.Event{{ID: "1-0", Type: "page", Data: []byte(`{"page":1}`)}}},
		{"no space after the colon", "id:1-0\nevent:page\ndata:{}\n\n",
			[]tasks.Event{{ID: "1-0", Type: "page", Data: []byte(`{}`)}}},
		{"data lines joined with newlines", "event: state\ndata: {\"a\":\ndata: 1}\n\n",
			[]tasks.Event{{Type: "state", Data: []byte("{\"a\":\n1}")}}},
		{"comments, unknown fields and typeless events skipped", ": keep-alive\n\nretry: 100\ndata: x\n\nevent: job\ndata: {}\n\n",
			[]tasks.Event{{Type: "job", Data: []byte(`{}`)}}},
		{"an event cut off by the end is not passed on", "event: page\ndata: {}\n\nevent: page\ndata: {",
			[]tasks.Event{{Type: "page", Data: []byte(`{}`)}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var got []tasks.Event
			err := client.ReadEvents(strings.NewReader(c.stream), func(ev tasks.Event) error {
				got = append(got, ev)
				return nil
			})
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("ReadEvents = %q, %v; want %q", got, err, c.want)
			}
		})
	}
	stop := errors.New("stop")
	if err := client.ReadEvents(strings.NewReader("event: a\n\nevent: b\n\n"), func(tasks.Event) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("ReadEvents returned %v, want fn's error", err)
	}
}

// A dropped stream is resumed from the last event's id, with a backoff,
// and ends at the final event.
func TestJobEventsResumes(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		switch requests.Add(1) {
		case 1:
			fmt.Fprint(w, "id: 1-0\nevent: page\ndata: {\"page\":1}\n\n") // then the connection drops
		default:
			if got := r.Header.Get("Last-Event-ID"); got != "1-0" {
				http.Error(w, "Last-Event-ID "+got, http.StatusBadRequest)
				return
			}
			fmt.Fprint(w, "id: 2-0\nevent: state\ndata: {\"status\":\"succeeded\",\"final\":true}\n\n")
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ids []string
	if err := c.JobEvents(ctx, "j1", func(ev tasks.Event) error { ids = append(ids, ev.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids, []string{"1-0", "2-0"}) || requests.Load() != 2 {
		t.Errorf("events %v over %d requests; want 1-0 and 2-0 over 2", ids, requests.Load())
	}
}
