package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/mmq/mmq/tasks"
)

// Document is a job as one document, the JSON form of GET
// /v1/jobs/{id}/document. It holds what exists when it is read: poll a job
// that has not ended for more pages.
type Document struct {
	JobID  string       `json:"job_id"`
	Status tasks.Status `json:"status"`
	// Answer is the combined answer of a job of scope document, once made;
	// else null.
	Answer json.RawMessage `json:"answer"`
	// Pages are the pages (or frames) with a result, in order.
	Pages []DocumentPage `json:"pages"`
}

// DocumentPage is one page or frame of a Document.
type DocumentPage struct {
	// Page is set for a document's page, Frame and Timestamp (seconds) for
	// a video's frame.
	Page      *int             `json:"page,omitempty"`
	Frame     *int             `json:"frame,omitempty"`
	Timestamp *float64         `json:"timestamp,omitempty"`
	Status    tasks.PageStatus `json:"status"`
	// Text is the analyzer's text of the page; Data its answer following
	// the job's schema, null without one or when the page failed.
	Text      string          `json:"text"`
	Data      json.RawMessage `json:"data"`
	ErrorCode tasks.Code      `json:"error_code,omitempty"`
}

// Document writes job id as one document in format "json" (the job's
// answer and every page's text and data) or "markdown" to w, as the server
// streams it: a job of any size passes through without being held in
// memory.
func (c *Client) Document(ctx context.Context, id, format string, w io.Writer) error {
	req, err := c.newRequest(ctx, http.MethodGet, documentPath(id, format), "", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("client: GET document: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return decodeError(resp)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("client: GET document: %w", err)
	}
	return nil
}

// DocumentJSON returns job id as one document, decoded. It holds every
// page in memory; Document streams instead.
func (c *Client) DocumentJSON(ctx context.Context, id string) (*Document, error) {
	var d Document
	if err := c.do(ctx, http.MethodGet, documentPath(id, "json"), "", nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

func documentPath(id, format string) string {
	return withQuery("/v1/jobs/"+url.PathEscape(id)+"/document", url.Values{"format": {format}})
}
