package client

import (
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"github.com/mmq/mmq/tasks"
)

// BatchReply answers a batch submission: the batch and its job ids in
// submission order.
type BatchReply struct {
	tasks.Batch
	JobIDs []string `json:"job_ids"`
}

// SubmitBatchFiles uploads every file of paths as one batch, streaming them
// in one multipart request. opts applies to every job; a password is not
// accepted in batches.
func (c *Client) SubmitBatchFiles(ctx context.Context, paths []string, opts SubmitOptions) (*BatchReply, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(writeBatchForm(mw, paths, opts))
	}()
	req, err := c.newRequest(ctx, http.MethodPost, "/v1/batches", mw.FormDataContentType(), pr)
	if err != nil {
		pr.Close()
		return nil, err
	}
	var out BatchReply
	if err := c.send(req, &out); err != nil {
		pr.CloseWithError(err)
		return nil, err
	}
	return &out, nil
}

func writeBatchForm(mw *multipart.Writer, paths []string, opts SubmitOptions) error {
	fields := [][2]string{{"task", opts.Task}, {"priority", opts.Priority}, {"metadata", string(opts.Metadata)}, {"callback_url", opts.CallbackURL},
		{"provider", opts.Provider}, {"instructions", opts.Instructions}, {"schema", schemaField(opts.Schema)}, {"scope", opts.Scope}, {"mode", opts.Mode}, {"pages", opts.Pages}}
	if opts.MaxPages != 0 {
		fields = append(fields, [2]string{"max_pages", strconv.Itoa(opts.MaxPages)})
	}
	for _, kv := range fields {
		if kv[1] != "" {
			if err := mw.WriteField(kv[0], kv[1]); err != nil {
				return err
			}
		}
	}
	for _, p := range paths {
		if err := copyFilePart(mw, p); err != nil {
			return err
		}
	}
	return mw.Close()
}

func copyFilePart(mw *multipart.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	part, err := mw.CreateFormFile("file", filepath.Base(path))
	if err != nil {
		return err
	}
	_, err = io.Copy(part, f)
	return err
}

// SubmitBatchURLs submits one job per URL as a batch.
func (c *Client) SubmitBatchURLs(ctx context.Context, urls []string, opts SubmitOptions) (*BatchReply, error) {
	req := map[string]any{
		"urls": urls, "task": opts.Task, "priority": opts.Priority,
		"metadata": opts.Metadata, "max_pages": opts.MaxPages,
	}
	for k, v := range map[string]string{"provider": opts.Provider, "instructions": opts.Instructions, "scope": opts.Scope, "mode": opts.Mode, "pages": opts.Pages} {
		if v != "" {
			req[k] = v
		}
	}
	if len(opts.Schema) > 0 {
		req["schema"] = opts.Schema
	}
	if opts.CallbackURL != "" {
		// The batch's: it receives batch.completed.
		req["callback_url"] = opts.CallbackURL
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var out BatchReply
	return &out, c.do(ctx, http.MethodPost, "/v1/batches", "application/json", bytesReader(body), &out)
}

// BatchJobs returns up to limit jobs of batch id in submission order from
// cursor ("" for the first), and the cursor of the next page, "" on the
// last one. limit 0 means the server's default.
func (c *Client) BatchJobs(ctx context.Context, id, cursor string, limit int) (jobs []*tasks.Job, next string, err error) {
	q := url.Values{}
	setQuery(q, "cursor", cursor)
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var resp struct {
		Jobs       []*tasks.Job `json:"jobs"`
		NextCursor string       `json:"next_cursor"`
	}
	if err := c.do(ctx, http.MethodGet, withQuery("/v1/batches/"+url.PathEscape(id)+"/jobs", q), "", nil, &resp); err != nil {
		return nil, "", err
	}
	return resp.Jobs, resp.NextCursor, nil
}

// Batch returns a batch with its counts.
func (c *Client) Batch(ctx context.Context, id string) (*tasks.Batch, error) {
	var b tasks.Batch
	return &b, c.do(ctx, http.MethodGet, "/v1/batches/"+url.PathEscape(id), "", nil, &b)
}
