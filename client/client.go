// Package client is a Go client for mmq's HTTP API, used by the mmq CLI.
//
// It imports nothing of mmq's but the shared vocabulary in package tasks, so
// that a program talking to a running mmq does not link the server.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mmq/mmq/tasks"
)

// Client calls one mmq server. It is safe for concurrent use.
type Client struct {
	base   string
	http   *http.Client
	apiKey string
}

// Option configures a Client.
type Option func(*Client)

// WithAPIKey sends key with every request, as "Authorization: Bearer
// <key>". A server with auth.enabled answers requests without a known key
// with 401 unauthorized. An empty key sends none.
func WithAPIKey(key string) Option {
	return func(c *Client) { c.apiKey = key }
}

// New returns a client of the server at baseURL ("http://localhost:8080").
// A nil httpClient means http.DefaultClient; deadlines come from the
// contexts passed to each call. A transport without ExpectContinueTimeout
// sends an upload's body without waiting for the server's go-ahead, so a
// file over the server's limit may end in a reset connection instead of a 413.
func New(baseURL string, httpClient *http.Client, opts ...Option) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), http: httpClient}
	for _, o := range opts {
		o(c)
	}
	return c
}

// SubmitOptions are the options of a new job. Zero values leave the choice
// to the server.
type SubmitOptions struct {
	// Task names the analysis to run. The server defaults to "general_qa".
	Task string
	// Priority is "critical", "default" or "low". The server defaults to
	// "default".
	Priority string
	// MaxPages refuses documents with more pages; 0 means the server's
	// limit, which a job may lower but not raise.
	MaxPages int
	// Metadata is any JSON value, returned with the job and its
	// notifications; at most 16 KiB.
	Metadata json.RawMessage
	// Password opens an encrypted PDF. The server keeps it apart from the
	// job and never returns it.
	Password string
	// CallbackURL receives the job's signed webhook when it ends.
	CallbackURL string
	// Sample chooses a video's frames: "fps:<n>" (n a second), e.g. "fps:0.5"
	// for one every 2 s, "scene:<threshold>" (where the picture changes,
	// e.g. "scene:0.3") or "keyframes". The server's default is fps:1,
	// slowed down to fit MaxFrames.
	Sample string
	// MaxFrames caps the frames of a video; 0 means the server's limit,
	// which a job may lower but not raise.
	MaxFrames int
	// Start and End bound the part of a video analyzed, in seconds; 0 means
	// its start and its end.
	Start, End float64
	// Provider picks the model provider among those the server lets jobs
	// choose; empty means the server's own.
	Provider string
	// MaxCostUSD caps what the job may spend on model calls; it stops
	// within one page of the cap with error code budget_exceeded. 0: no cap.
	MaxCostUSD float64
	// Instructions are added to the task's prompt (at most 8 KiB).
	Instructions string
	// Schema is a JSON Schema (draft 2020-12, an object at the top, at
	// most 64 KiB) every page's data must follow.
	Schema json.RawMessage
	// Scope is "page" (the default) or "document": one combined answer for
	// the whole job after its pages.
	Scope string
	// Mode is "realtime" (the default) or "economy": the pages go to the
	// provider's batch API at half price and the job ends within 24 hours.
	Mode string
	// Pages selects the pages of a document to analyze, like "1-3,7,10-"
	// (10- runs to the last page); "" is every page. Results keep their
	// page numbers in the document; the job's PagesTotal counts the
	// selected pages.
	Pages string
}

// APIError is the error of a call the server answered with a non-2xx status.
type APIError struct {
	// Status is the HTTP status.
	Status int
	// Code is the server's error code; empty when the body was not an mmq
	// error (a proxy's page, say).
	Code    tasks.Code
	Message string
	// Pointer is, for invalid_schema, the JSON pointer of what is wrong
	// inside the schema sent; empty when the server could not say.
	Pointer string
	// RequestID is the response's X-Request-Id, for the server's logs.
	RequestID string
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
	}
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Message, e.Status)
}

// SubmitFile uploads the file at path as a new job. The file is streamed
// through a pipe, never read into memory whole. For a regular file the
// request carries its exact Content-Length and "Expect: 100-continue", so a
// server that refuses the size answers 413 before any byte of the file is
// sent.
func (c *Client) SubmitFile(ctx context.Context, path string, opts SubmitOptions) (*tasks.Job, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	name := filepath.Base(path)

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	req, err := c.newRequest(ctx, http.MethodPost, "/v1/jobs", mw.FormDataContentType(), pr)
	if err != nil {
		return nil, err
	}
	if fi.Mode().IsRegular() {
		if req.ContentLength, err = formSize(mw.Boundary(), name, opts, fi.Size()); err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		req.Header.Set("Expect", "100-continue")
	}
	// The writer goroutine ends when the whole form is written or when the
	// pipe's reader is closed, which happens below once the request is done.
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(writeForm(mw, f, name, opts))
	}()
	var job tasks.Job
	err = c.send(req, &job)
	pr.CloseWithError(errors.New("client: request finished"))
	<-done
	if err != nil {
		return nil, err
	}
	return &job, nil
}

// formSize returns the length of the form writeForm writes with boundary
// for a file of fileSize bytes, by writing it without the file's bytes.
func formSize(boundary, name string, opts SubmitOptions, fileSize int64) (int64, error) {
	var n countingWriter
	mw := multipart.NewWriter(&n)
	if err := mw.SetBoundary(boundary); err != nil {
		return 0, err
	}
	if err := writeForm(mw, strings.NewReader(""), name, opts); err != nil {
		return 0, err
	}
	return int64(n) + fileSize, nil
}

// countingWriter counts the bytes written to it.
type countingWriter int64

func (w *countingWriter) Write(p []byte) (int, error) {
	*w += countingWriter(len(p))
	return len(p), nil
}

// schemaField is a schema as a form field: compacted, so that an indented
// schema file fits the server's bound as it does in a JSON body (which
// encoding/json compacts). Text that is not JSON goes as it is, for the
// server to refuse.
func schemaField(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// writeForm writes opts as form fields, then the file.
func writeForm(mw *multipart.Writer, f io.Reader, name string, opts SubmitOptions) error {
	fields := [][2]string{
		{"task", opts.Task},
		{"priority", opts.Priority},
		{"metadata", string(opts.Metadata)},
		{"password", opts.Password},
		{"callback_url", opts.CallbackURL},
	}
	if opts.MaxPages != 0 {
		fields = append(fields, [2]string{"max_pages", strconv.Itoa(opts.MaxPages)})
	}
	fields = append(fields, [2]string{"sample", opts.Sample})
	if opts.MaxFrames != 0 {
		fields = append(fields, [2]string{"max_frames", strconv.Itoa(opts.MaxFrames)})
	}
	if opts.Start != 0 {
		fields = append(fields, [2]string{"start", strconv.FormatFloat(opts.Start, 'f', -1, 64)})
	}
	if opts.End != 0 {
		fields = append(fields, [2]string{"end", strconv.FormatFloat(opts.End, 'f', -1, 64)})
	}
	fields = append(fields, [2]string{"provider", opts.Provider})
	if opts.MaxCostUSD != 0 {
		fields = append(fields, [2]string{"max_cost_usd", strconv.FormatFloat(opts.MaxCostUSD, 'f', -1, 64)})
	}
	fields = append(fields, [2]string{"instructions", opts.Instructions}, [2]string{"schema", schemaField(opts.Schema)},
		[2]string{"scope", opts.Scope}, [2]string{"mode", opts.Mode}, [2]string{"pages", opts.Pages})
	for _, kv := range fields {
		if kv[1] == "" {
			continue
		}
		if err := mw.WriteField(kv[0], kv[1]); err != nil {
			return err
		}
	}
	part, err := mw.CreateFormFile("file", name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, f); err != nil {
		return err
	}
	return mw.Close()
}

// submitURLRequest is the JSON form of a submission.
type submitURLRequest struct {
	URL         string          `json:"url"`
	Task        string          `json:"task,omitempty"`
	Priority    string          `json:"priority,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	MaxPages    int             `json:"max_pages,omitempty"`
	Password    string          `json:"password,omitempty"`
	CallbackURL string          `json:"callback_url,omitempty"`
	Sample      string          `json:"sample,omitempty"`
	MaxFrames   int             `json:"max_frames,omitempty"`
	Start       float64         `json:"start,omitempty"`
	End         float64         `json:"end,omitempty"`
	Provider    string          `json:"provider,omitempty"`
	MaxCostUSD  float64         `json:"max_cost_usd,omitempty"`
	// Extraction options.
	Instructions string          `json:"instructions,omitempty"`
	Schema       json.RawMessage `json:"schema,omitempty"`
	Scope        string          `json:"scope,omitempty"`
	Mode         string          `json:"mode,omitempty"`
	Pages        string          `json:"pages,omitempty"`
}

// SubmitURL submits a job whose input the server's worker fetches from
// rawURL. The server checks only the URL's form; a target that cannot be
// fetched or analyzed ends as a failed job.
func (c *Client) SubmitURL(ctx context.Context, rawURL string, opts SubmitOptions) (*tasks.Job, error) {
	body, err := json.Marshal(submitURLRequest{
		URL:          rawURL,
		Task:         opts.Task,
		Priority:     opts.Priority,
		Metadata:     opts.Metadata,
		MaxPages:     opts.MaxPages,
		Password:     opts.Password,
		CallbackURL:  opts.CallbackURL,
		Sample:       opts.Sample,
		MaxFrames:    opts.MaxFrames,
		Start:        opts.Start,
		End:          opts.End,
		Provider:     opts.Provider,
		MaxCostUSD:   opts.MaxCostUSD,
		Instructions: opts.Instructions,
		Schema:       opts.Schema,
		Scope:        opts.Scope,
		Mode:         opts.Mode,
		Pages:        opts.Pages,
	})
	if err != nil {
		return nil, fmt.Errorf("client: encode request: %w", err)
	}
	var job tasks.Job
	if err := c.do(ctx, http.MethodPost, "/v1/jobs", "application/json", bytes.NewReader(body), &job); err != nil {
		return nil, err
	}
	return &job, nil
}

// Job returns the job id.
func (c *Client) Job(ctx context.Context, id string) (*tasks.Job, error) {
	var job tasks.Job
	if err := c.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id), "", nil, &job); err != nil {
		return nil, err
	}
	return &job, nil
}

// Jobs returns up to limit jobs, newest first, in status if not empty, and
// the cursor of the next page, "" on the last one. limit 0 means the
// server's default.
func (c *Client) Jobs(ctx context.Context, status tasks.Status, cursor string, limit int) (jobs []*tasks.Job, next string, err error) {
	q := url.Values{}
	setQuery(q, "status", string(status))
	setQuery(q, "cursor", cursor)
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var resp struct {
		Jobs       []*tasks.Job `json:"jobs"`
		NextCursor string       `json:"next_cursor"`
	}
	if err := c.do(ctx, http.MethodGet, withQuery("/v1/jobs", q), "", nil, &resp); err != nil {
		return nil, "", err
	}
	return resp.Jobs, resp.NextCursor, nil
}

// Results returns up to limit of job id's page results that follow cursor,
// in index order, and the cursor of the next page, "" when no more results
// are stored yet. An empty cursor starts at the first result; limit 0 means
// the server's default.
func (c *Client) Results(ctx context.Context, id, cursor string, limit int) (rs []tasks.PageResult, next string, err error) {
	q := url.Values{}
	setQuery(q, "cursor", cursor)
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var resp struct {
		Results    []tasks.PageResult `json:"results"`
		NextCursor string             `json:"next_cursor"`
	}
	if err := c.do(ctx, http.MethodGet, withQuery("/v1/jobs/"+url.PathEscape(id)+"/results", q), "", nil, &resp); err != nil {
		return nil, "", err
	}
	return resp.Results, resp.NextCursor, nil
}

// AllResults returns every page result stored for job id, in index order.
func (c *Client) AllResults(ctx context.Context, id string) ([]tasks.PageResult, error) {
	var all []tasks.PageResult
	cursor := ""
	for {
		rs, next, err := c.Results(ctx, id, cursor, 0)
		if err != nil {
			return nil, err
		}
		all = append(all, rs...)
		if next == "" {
			return all, nil
		}
		cursor = next
	}
}

// Notifications returns up to limit completion notifications after the
// notification id after ("" reads from the oldest kept), waiting up to wait
// (the server caps it at 30 s) for the first, and the id to pass as after
// next time.
func (c *Client) Notifications(ctx context.Context, after string, limit int, wait time.Duration) (ns []tasks.Notification, lastID string, err error) {
	q := url.Values{}
	setQuery(q, "after", after)
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	var resp struct {
		Notifications []tasks.Notification `json:"notifications"`
		LastID        string               `json:"last_id"`
	}
	if err := c.do(ctx, http.MethodGet, withQuery("/v1/notifications", q), "", nil, &resp); err != nil {
		return nil, "", err
	}
	return resp.Notifications, resp.LastID, nil
}

// Wait polls job id every interval (1 s when 0 or less) until its status is
// final, and returns it. progress, if not nil, sees the job after every poll,
// the last one included.
func (c *Client) Wait(ctx context.Context, id string, interval time.Duration, progress func(*tasks.Job)) (*tasks.Job, error) {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		job, err := c.Job(ctx, id)
		if err != nil {
			return nil, err
		}
		if progress != nil {
			progress(job)
		}
		if job.Status.Final() {
			return job, nil
		}
		select {
		case <-ctx.Done():
			return job, ctx.Err()
		case <-t.C:
		}
	}
}

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// do sends a request and decodes a 2xx response's JSON body into out, or
// returns an *APIError.
func (c *Client) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := c.newRequest(ctx, method, path, contentType, body)
	if err != nil {
		return err
	}
	return c.send(req, out)
}

func (c *Client) newRequest(ctx context.Context, method, path, contentType string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	return req, nil
}

// send does req and decodes a 2xx response's JSON body into out, or returns
// an *APIError.
func (c *Client) send(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("client: %s %s: decode response: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

// decodeError reads an error response.
func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &APIError{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	var body struct {
		Error struct {
			Code    tasks.Code `json:"code"`
			Message string     `json:"message"`
			Pointer string     `json:"pointer"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message, e.Pointer = body.Error.Code, body.Error.Message, body.Error.Pointer
		return e
	}
	e.Message = strings.TrimSpace(string(b))
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

func setQuery(q url.Values, key, value string) {
	if value != "" {
		q.Set(key, value)
	}
}

func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// Deliveries returns the webhook delivery attempts of job id, oldest first.
func (c *Client) Deliveries(ctx context.Context, id string) ([]tasks.DeliveryAttempt, error) {
	var resp struct {
		Deliveries []tasks.DeliveryAttempt `json:"deliveries"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id)+"/deliveries", "", nil, &resp); err != nil {
		return nil, err
	}
	return resp.Deliveries, nil
}

// Redeliver sends the webhook of ended job id again, and returns its
// message id, which is the first delivery's.
func (c *Client) Redeliver(ctx context.Context, id string) (webhookID string, err error) {
	var resp struct {
		WebhookID string `json:"webhook_id"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(id)+"/deliveries/redeliver", "", nil, &resp); err != nil {
		return "", err
	}
	return resp.WebhookID, nil
}
