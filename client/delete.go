package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// DeleteJob deletes job id, canceling it first if it runs: its results,
// events, deliveries and password go, and its input unless another job
// uses the same file. An unknown id is an *APIError with status 404.
func (c *Client) DeleteJob(ctx context.Context, id string) error {
	return c.delete(ctx, "/v1/jobs/"+url.PathEscape(id))
}

// DeleteBatch deletes batch id and all its jobs, as DeleteJob does.
func (c *Client) DeleteBatch(ctx context.Context, id string) error {
	return c.delete(ctx, "/v1/batches/"+url.PathEscape(id))
}

// delete sends a DELETE, which answers 204 without a body.
func (c *Client) delete(ctx context.Context, path string) error {
	req, err := c.newRequest(ctx, http.MethodDelete, path, "", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("client: DELETE %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp)
	}
	return nil
}
