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

func (c *Client) follow(ctx context.Context, path string, fn func(tasks.Event) error) error {
	last := ""
	for attempt := 0; ; attempt++ {
		err := c.readStream(ctx, path, &last, fn)
		switch {
		case errors.Is(err, errStreamEnded):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) || attempt >= 5 {
			return err
		}
		select {
		case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
		case <-ctx.Done():
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
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var ev tasks.Event
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			ev.ID = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.Type = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.Data = append(ev.Data, line[6:]...)
		case line == "" && ev.Type != "":
			if err := fn(ev); err != nil {
				return err
			}
			if ev.ID != "" {
				*last = ev.ID
			}
			if ev.Final() || ev.ID == "" && ev.Type == "state" {
				return errStreamEnded
			}
			ev = tasks.Event{}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("client: GET %s: %w", path, err)
	}
	return io.ErrUnexpectedEOF
}
