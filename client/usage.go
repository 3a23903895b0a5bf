package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/mmq/mmq/tasks"
)

// Usage reports what the caller's tenant used, by day, since the given day
// (2006-01-02) or duration ("72h"); "" takes the server's default, the
// last 7 days. An admin key may name a tenant ("" for every tenant's).
func (c *Client) Usage(ctx context.Context, since, tenant string) (*tasks.UsageReport, error) {
	q := url.Values{}
	if since != "" {
		q.Set("since", since)
	}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	var rep tasks.UsageReport
	if err := c.do(ctx, http.MethodGet, withQuery("/v1/usage", q), "", nil, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}
