package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hibiken/asynq"

	"github.com/mmq/mmq/tasks"
)

// enqueueParallelism is how many enqueues of one batch run at once. asynq
// (v0.26 has no batch enqueue) runs one script call per task. With a queue
// client on an autopipelining Redis client (internal/autopipe, as cmd/mmq
// wires it) the calls that wait at the same time go to Redis together as one
// pipeline, so a wide fan-out turns a 10,000-job batch into a few dozen round
// trips; on a plain client it still overlaps them. Each waiting enqueue is a
// parked goroutine holding its encoded task, a few KiB at most.
const enqueueParallelism = 1024

// batchRequest is the JSON form of a batch: shared options (those of a
// job, but url and password), and items that each name a URL and may
// override them. urls is a shorthand for items with a URL and nothing
// else. The batch's callback_url receives batch.completed; an item's own
// callback_url receives that job's events.
type batchRequest struct {
	Items []submitRequest `json:"items"`
	URLs  []string        `json:"urls"`
	submitRequest
}

// batchResponse answers a batch submission.
type batchResponse struct {
	*tasks.Batch
	JobIDs []string `json:"job_ids"`
}

// handleSubmitBatch accepts many jobs at once: POST /v1/batches, either
// multipart with the field "file" repeated (and shared option fields) or
// JSON with items or urls.
func (s *Server) handleSubmitBatch(w http.ResponseWriter, r *http.Request) {
	idem, err := s.newIdempotency(r, "batch")
	if err != nil {
		writeError(w, err)
		return
	}
	shared, items, err := s.readBatch(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	if len(items) == 0 {
		writeError(w, tasks.Errorf(tasks.CodeInvalidRequest, "a batch needs at least one item"))
		return
	}
	if len(items) > s.cfg.MaxBatchJobs {
		writeError(w, tasks.Errorf(tasks.CodeInvalidRequest, "a batch holds at most %d items, not %d", s.cfg.MaxBatchJobs, len(items)))
		return
	}
	batchMeta, err := checkMetadata(shared.Metadata)
	if err == nil && shared.CallbackURL != "" {
		err = s.checkCallbackURL(shared.CallbackURL)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	now := time.Now().UTC()
	batch := &tasks.Batch{ID: s.deps.NewID(), Tenant: CallerOf(r.Context()).Tenant, Metadata: batchMeta, CallbackURL: shared.CallbackURL, CreatedAt: now}
	jobs := make([]*tasks.Job, len(items))
	taskList := make([]*asynq.Task, len(items))
	for i, it := range items {
		job, task, err := s.prepareItem(ctx, shared, it, now)
		if err != nil {
			writeError(w, itemError(i, err))
			return
		}
		jobs[i], taskList[i] = job, task
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if prior, err := idem.claim(ctx, batch.ID); err != nil || prior != "" {
		if err != nil {
			writeError(w, err)
		} else {
			s.replay(w, r, "batch", prior)
		}
		return
	}
	if err := s.deps.Store.CreateBatch(ctx, batch, jobs); err != nil {
		idem.release(ctx)
		writeError(w, err)
		return
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(enqueueParallelism)
	for i, task := range taskList {
		g.Go(func() error {
			if _, err := s.deps.Queue.EnqueueContext(gctx, task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
				s.failUnqueued(ctx, jobs[i].ID, err)
				return err
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		writeError(w, tasks.WrapError(tasks.CodeUnavailable, err, "some jobs of the batch could not be queued; they are marked failed"))
		return
	}
	resp := batchResponse{Batch: batch, JobIDs: make([]string, len(jobs))}
	for i, j := range jobs {
		resp.JobIDs[i] = j.ID
	}
	w.Header().Set("Location", "/v1/batches/"+url.PathEscape(batch.ID))
	writeJSON(w, http.StatusAccepted, resp)
}

// prepareItem turns one item, with the batch's shared options under its
// own, into a job and its task.
func (s *Server) prepareItem(ctx context.Context, shared, it submitRequest, now time.Time) (*tasks.Job, *asynq.Task, error) {
	req := it.inherit(shared)
	opts, meta, err := s.options(&req)
	if err != nil {
		return nil, nil, err
	}
	job := &tasks.Job{ID: s.deps.NewID(), Tenant: CallerOf(ctx).Tenant, Status: tasks.StatusQueued, Options: opts, Metadata: meta, CallbackURL: req.CallbackURL, CreatedAt: now}
	payload := tasks.AnalyzePayload{JobID: job.ID, Options: opts}
	if req.hasFile {
		err = s.acceptUpload(ctx, job, &req)
		payload.BlobKey = job.BlobKey
	} else {
		err = s.acceptURL(job, req.URL)
		payload.SourceURL = job.SourceURL
	}
	if err != nil {
		return nil, nil, err
	}
	task, err := tasks.NewAnalyzeTask(job.Kind, payload, s.cfg.Enqueue)
	return job, task, err
}

// inherit returns r with every option it leaves unset taken from shared,
// but callback_url: the batch's is for the batch.
func (r submitRequest) inherit(shared submitRequest) submitRequest {
	set := func(v *string, from string) {
		if *v == "" {
			*v = from
		}
	}
	set(&r.Task, shared.Task)
	set(&r.Priority, shared.Priority)
	set(&r.Sample, shared.Sample)
	set(&r.Provider, shared.Provider)
	set(&r.Instructions, shared.Instructions)
	set(&r.Scope, shared.Scope)
	set(&r.Mode, shared.Mode)
	set(&r.Pages, shared.Pages)
	if len(r.Schema) == 0 {
		r.Schema = shared.Schema
	}
	if len(r.Metadata) == 0 {
		r.Metadata = shared.Metadata
	}
	if r.MaxPages == 0 {
		r.MaxPages = shared.MaxPages
	}
	if r.MaxFrames == 0 {
		r.MaxFrames = shared.MaxFrames
	}
	if r.Start == 0 && r.End == 0 {
		r.Start, r.End = shared.Start, shared.End
	}
	if r.MaxCostUSD == 0 {
		r.MaxCostUSD = shared.MaxCostUSD
	}
	return r
}

// itemError says which item of a batch was refused.
func itemError(i int, err error) error {
	var te *tasks.Error
	if errors.As(err, &te) {
		return &tasks.Error{Code: te.Code, Message: "item " + strconv.Itoa(i) + ": " + te.Message, Err: te.Err}
	}
	return err
}

// readBatch parses a batch request of either form.
func (s *Server) readBatch(w http.ResponseWriter, r *http.Request) (shared submitRequest, items []submitRequest, err error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		r.Body = http.MaxBytesReader(w, r.Body, maxBatchJSONBytes)
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		var req batchRequest
		if err := dec.Decode(&req); err != nil {
			return shared, nil, jsonError(err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return shared, nil, tasks.Errorf(tasks.CodeInvalidRequest, "request body holds more than one JSON value")
		}
		shared = req.submitRequest
		if shared.URL != "" || shared.Password != "" {
			return shared, nil, tasks.Errorf(tasks.CodeInvalidRequest, "url and password belong to items, not to the batch")
		}
		for _, u := range req.URLs {
			req.Items = append(req.Items, submitRequest{URL: u})
		}
		for i, it := range req.Items {
			if it.URL == "" || it.Password != "" {
				return shared, nil, itemError(i, tasks.Errorf(tasks.CodeInvalidRequest, "each JSON item needs a url (and passwords are not accepted in batches)"))
			}
		}
		return shared, req.Items, nil
	case "multipart/form-data":
		if r.ContentLength > s.cfg.MaxBatchUploadBytes {
			return shared, nil, tasks.Errorf(tasks.CodeFileTooLarge, "a batch upload is limited to %d bytes", s.cfg.MaxBatchUploadBytes)
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBatchUploadBytes)
		return s.readBatchMultipart(r)
	}
	return shared, nil, tasks.Errorf(tasks.CodeUnsupportedType, "send multipart/form-data with repeated file fields, or application/json with items or urls")
}

// readBatchMultipart reads a multipart batch: every "file" part is an item;
// the other fields are the shared options.
func (s *Server) readBatchMultipart(r *http.Request) (shared submitRequest, items []submitRequest, err error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return shared, nil, tasks.WrapError(tasks.CodeInvalidRequest, err, "request body is not a multipart form")
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return shared, items, nil
		}
		if err != nil {
			return shared, nil, s.bodyError(err)
		}
		if part.FormName() == "file" {
			data, err := s.readUpload(r.Context(), part)
			if err != nil {
				return shared, nil, itemError(len(items), err)
			}
			items = append(items, submitRequest{file: data, hasFile: true, filename: part.FileName()})
			continue
		}
		value, err := readField(part)
		if err != nil {
			return shared, nil, s.bodyError(err)
		}
		if part.FormName() == "password" {
			return shared, nil, tasks.Errorf(tasks.CodeInvalidRequest, "passwords are not accepted in batches")
		}
		if err := shared.setField(part.FormName(), value); err != nil {
			return shared, nil, err
		}
	}
}

// handleGetBatch returns a batch's counts: GET /v1/batches/{id}.
func (s *Server) handleGetBatch(w http.ResponseWriter, r *http.Request) {
	b, err := s.getBatch(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// handleBatchJobs pages through a batch's jobs in submission order:
// GET /v1/batches/{id}/jobs?cursor=&limit=, the cursor being an offset.
func (s *Server) handleBatchJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, limit := 0, 100
	var err error
	if c := q.Get("cursor"); c != "" {
		if offset, err = strconv.Atoi(c); err != nil || offset < 0 {
			writeError(w, tasks.Errorf(tasks.CodeInvalidRequest, "cursor must be a non-negative integer"))
			return
		}
	}
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > 1000 {
			writeError(w, tasks.Errorf(tasks.CodeInvalidRequest, "limit must be between 1 and 1000"))
			return
		}
	}
	if _, err := s.getBatch(r.Context(), r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	jobs, more, err := s.deps.Store.BatchJobs(r.Context(), r.PathValue("id"), offset, limit)
	if err != nil {
		writeError(w, err)
		return
	}
	resp := struct {
		Jobs       []*tasks.Job `json:"jobs"`
		NextCursor string       `json:"next_cursor,omitempty"`
	}{Jobs: jobs}
	if resp.Jobs == nil {
		resp.Jobs = []*tasks.Job{}
	}
	if more {
		resp.NextCursor = strconv.Itoa(offset + limit)
	}
	writeJSON(w, http.StatusOK, resp)
}
