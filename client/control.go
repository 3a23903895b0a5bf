package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/mmq/mmq/tasks"
)

// CancelJob cancels job id: a queued job's task is removed, a running one
// stops and keeps the pages done. It returns the canceled job; a job that
// has already ended is an *APIError 409 conflict.
func (c *Client) CancelJob(ctx context.Context, id string) (*tasks.Job, error) {
	return c.postJob(ctx, "/v1/jobs/"+url.PathEscape(id)+"/cancel")
}

// RetryJob re-runs the failed pages of failed or partially succeeded job
// id, keeping the done ones, and returns the job queued again. A job in any
// other state is an *APIError 409 conflict.
func (c *Client) RetryJob(ctx context.Context, id string) (*tasks.Job, error) {
	return c.postJob(ctx, "/v1/jobs/"+url.PathEscape(id)+"/retry")
}

func (c *Client) postJob(ctx context.Context, path string) (*tasks.Job, error) {
	var job tasks.Job
	if err := c.do(ctx, http.MethodPost, path, "", nil, &job); err != nil {
		return nil, err
	}
	return &job, nil
}

// BatchCancel answers CancelBatch: the batch after the cancellations and
// how many of its jobs they ended.
type BatchCancel struct {
	tasks.Batch
	Canceled int `json:"canceled"`
}

// CancelBatch cancels every job of batch id that has not ended.
func (c *Client) CancelBatch(ctx context.Context, id string) (*BatchCancel, error) {
	var resp BatchCancel
	if err := c.do(ctx, http.MethodPost, "/v1/batches/"+url.PathEscape(id)+"/cancel", "", nil, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// BatchDeliveries returns the delivery attempts of batch id's webhook
// (batch.completed), oldest first.
func (c *Client) BatchDeliveries(ctx context.Context, id string) ([]tasks.DeliveryAttempt, error) {
	var resp struct {
		Deliveries []tasks.DeliveryAttempt `json:"deliveries"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/batches/"+url.PathEscape(id)+"/deliveries", "", nil, &resp); err != nil {
		return nil, err
	}
	return resp.Deliveries, nil
}
