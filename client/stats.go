package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/mmq/mmq/tasks"
)

// Stats sums up the jobs submitted in the last since (the server's default,
// one hour, when 0) against the service's targets.
func (c *Client) Stats(ctx context.Context, since time.Duration) (*tasks.Stats, error) {
	q := url.Values{}
	if since > 0 {
		q.Set("since", since.String())
	}
	var st tasks.Stats
	if err := c.do(ctx, http.MethodGet, withQuery("/v1/stats", q), "", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}
