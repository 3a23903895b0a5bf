package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mmq/mmq/tasks"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// JobEvents follows a job's live events until its final one, calling fn for
// each. A dropped connection is resumed with Last-Event-ID, so fn sees every
// event once.
func (c *Client) JobEvents(ctx context.Context, id string, fn func(tasks.Event) error) error {
	return c.follow(ctx, "/v1/jobs/"+url.PathEscape(id)+"/events", fn)
}

// BatchEvents is JobEvents for a batch.
func (c *Client) BatchEvents(ctx context.Context, id string, fn func(tasks.Event) error) error {
	return c.follow(ctx, "/v1/batches/"+url.PathEscape(id)+"/events", fn)
}

// errStreamEnded reports a final event.
var errStreamEnded = errors.New("client: stream ended")

// reconnect spaces the reconnections of a dropped event stream.
var reconnect = tasks.Backoff{Base: 200 * time.Millisecond, Cap: 5 * time.Second}

// maxReconnects is how many times in a row a stream is resumed without an
// event in between before the error is returned.
const maxReconnects = 5

func (c *Client) follow(ctx context.Context, path string, fn func(tasks.Event) error) error {
	last := ""
	for attempt := 0; ; attempt++ {
		before := last
		err := c.readStream(ctx, path, &last, fn)
		switch {
		case errors.Is(err, errStreamEnded):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		}
		if last != before {
			attempt = 0 // the stream moved on: this is a new drop
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) || attempt >= maxReconnects {
			return err
		}
		t := time.NewTimer(reconnect.Delay(attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// readStream reads one connection's events, keeping *last at the id of the
// last event passed to fn.
func (c *Client) readStream(ctx context.Context, path string, last *string, fn func(tasks.Event) error) error {
	req, err := c.newRequest(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if *last != "" {
		req.Header.Set("Last-Event-ID", *last)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("client: GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return decodeError(resp)
	}
	err = ReadEvents(resp.Body, func(ev tasks.Event) error {
		if err := fn(ev); err != nil {
			return err
		}
		if ev.ID != "" {
			*last = ev.ID
		}
		if ev.Final() || ev.ID == "" && ev.Type == "state" {
			return errStreamEnded
		}
		return nil
	})
	if err == nil {
		return io.ErrUnexpectedEOF
	}
	if errors.Is(err, errStreamEnded) || !errors.Is(err, errEventStream) {
		return err
	}
	return fmt.Errorf("client: GET %s: %w", path, err)
}

// errEventStream is wrapped by ReadEvents' errors about the stream itself.
var errEventStream = errors.New("client: event stream")

// maxEventLine bounds one line of an event stream.
const maxEventLine = 1 << 20

// ReadEvents reads Server-Sent Events (text/event-stream, as GET
// /v1/jobs/{id}/events sends them) from r until it ends, calling fn with
// each event that has a type. Data lines of one event are joined with
// newlines; comments and unknown fields are skipped. It returns fn's first
// error, the stream's read error, or nil at the end of r.
func ReadEvents(r io.Reader, fn func(tasks.Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxEventLine)
	var ev tasks.Event
	hasData := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if ev.Type != "" {
				if err := fn(ev); err != nil {
					return err
				}
			}
			ev, hasData = tasks.Event{}, false
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			ev.ID = value
		case "event":
			ev.Type = value
		case "data":
			if hasData {
				ev.Data = append(ev.Data, '\n')
			}
			ev.Data, hasData = append(ev.Data, value...), true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: %w", errEventStream, err)
	}
	return nil
}
