package client

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"

	"github.com/mmq/mmq/tasks"
)

// Estimate asks what analyzing the PDF at path with opts would cost, before
// submitting it: tokens (input, of which images, and output) and US
// dollars, per page and in total. Task, Provider, Password, MaxPages, Pages
// and the extraction options (Instructions, Schema, Scope) of opts count;
// the others are ignored.
func (c *Client) Estimate(ctx context.Context, path string, opts SubmitOptions) (*tasks.Estimate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	form := SubmitOptions{Task: opts.Task, Provider: opts.Provider, Password: opts.Password, MaxPages: opts.MaxPages,
		Instructions: opts.Instructions, Schema: opts.Schema, Scope: opts.Scope, Pages: opts.Pages}
	if err := writeForm(mw, bytes.NewReader(data), filepath.Base(path), form); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	var est tasks.Estimate
	if err := c.do(ctx, http.MethodPost, "/v1/estimate", mw.FormDataContentType(), &body, &est); err != nil {
		return nil, err
	}
	return &est, nil
}
