package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/tasks"
	"github.com/rs/zerolog"
)

// Limits of a submit request besides the upload itself.
const (
	// maxMetadataBytes bounds a job's metadata, which travels with every
	// notification.
	maxMetadataBytes = 16 << 10
	maxPasswordBytes = 1 << 10
	// maxFieldBytes bounds any multipart field other than the file.
	maxFieldBytes = maxMetadataBytes
	// formOverhead is what a multipart body may hold beyond the file: the
	// other fields, part headers and boundaries.
	formOverhead = 1 << 20
	// maxJSONBytes bounds a JSON submit body: the options, a schema and
	// instructions of the largest sizes.
	maxJSONBytes = 64<<10 + tasks.MaxSchemaBytes + tasks.MaxInstructionsBytes
	// maxBatchJSONBytes bounds a JSON batch: 10,000 URLs with options.
	maxBatchJSONBytes = 16 << 20
	// commitTimeout bounds storing and enqueueing an accepted job, which
	// run even when the client has gone.
	commitTimeout = 10 * time.Second
	// finishTimeout bounds marking a job failed after its enqueue failed.
	finishTimeout = 5 * time.Second
)

// submitRequest is the JSON form of a submit request; the multipart form has
// the same fields, with a file instead of url and metadata as a JSON string.
type submitRequest struct {
	URL      string          `json:"url"`
	Task     string          `json:"task"`
	Priority string          `json:"priority"`
	Metadata json.RawMessage `json:"metadata"`
	MaxPages int             `json:"max_pages"`
	Password string          `json:"password"`
	// CallbackURL receives the job's signed webhook when it ends.
	CallbackURL string `json:"callback_url"`
	// Video options: see tasks.Options.
	Sample    string  `json:"sample"`
	MaxFrames int     `json:"max_frames"`
	Start     float64 `json:"start"`
	End       float64 `json:"end"`
	// Model options: see tasks.Options.
	Provider   string  `json:"provider"`
	MaxCostUSD float64 `json:"max_cost_usd"`
	// Extraction options: see tasks.Options. In the multipart form, schema
	// is the JSON as a string field.
	Instructions string          `json:"instructions"`
	Schema       json.RawMessage `json:"schema"`
	Scope        string          `json:"scope"`
	// Mode: realtime or economy; see tasks.Options.
	Mode string `json:"mode"`
	// Pages selects the pages of a document: see tasks.ParsePages.
	Pages string `json:"pages"`

	// Upload, from the multipart form only.
	file     []byte
	hasFile  bool
	filename string
}

// handleSubmit accepts a job: POST /v1/jobs.
func (s *Server) handleSubmit(w http.ResponseWriter, r *http.Request) {
	idem, err := s.newIdempotency(r, "job")
	if err != nil {
		writeError(w, err)
		return
	}
	req, err := s.readSubmit(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	opts, meta, err := s.options(req)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	job := &tasks.Job{
		ID:          s.deps.NewID(),
		Tenant:      CallerOf(ctx).Tenant,
		Status:      tasks.StatusQueued,
		Options:     opts,
		Metadata:    meta,
		HasPassword: req.Password != "",
		CallbackURL: req.CallbackURL,
		CreatedAt:   time.Now().UTC(),
	}
	payload := tasks.AnalyzePayload{JobID: job.ID, Options: opts}
	if req.hasFile {
		err = s.acceptUpload(ctx, job, req)
		payload.BlobKey = job.BlobKey
	} else {
		err = s.acceptURL(job, req.URL)
		payload.SourceURL = job.SourceURL
	}
	if err != nil {
		writeError(w, err)
		return
	}
	task, err := tasks.NewAnalyzeTask(job.Kind, payload, s.cfg.Enqueue)
	if err != nil {
		writeError(w, err)
		return
	}
	// Once the input is accepted, storing and enqueueing the job run to
	// their end even if the client goes away, so that no job is left
	// queued without a task.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if prior, err := idem.claim(ctx, job.ID); err != nil || prior != "" {
		if err != nil {
			writeError(w, err)
		} else {
			s.replay(w, r, "job", prior)
		}
		return
	}
	if err := s.deps.Store.CreateJob(ctx, job, req.Password); err != nil {
		idem.release(ctx)
		writeError(w, err)
		return
	}
	if _, err := s.deps.Queue.EnqueueContext(ctx, task); err != nil {
		idem.release(ctx)
		s.failUnqueued(ctx, job.ID, err)
		writeError(w, tasks.WrapError(tasks.CodeUnavailable, err, "the job could not be queued; submit it again"))
		return
	}
	w.Header().Set("Location", "/v1/jobs/"+url.PathEscape(job.ID))
	writeJSON(w, http.StatusAccepted, job)
}

// acceptUpload checks an uploaded file and stores it, filling in job's kind,
// input and page count.
func (s *Server) acceptUpload(ctx context.Context, job *tasks.Job, req *submitRequest) error {
	if len(req.file) == 0 {
		return tasks.Errorf(tasks.CodeEmptyFile, "the uploaded file is empty")
	}
	kind, err := s.deps.Sniff(req.file)
	if err != nil {
		return err
	}
	switch kind {
	case tasks.KindDocument:
	case tasks.KindVideo:
		if job.Options.Economy() {
			return tasks.Errorf(tasks.CodeModeUnsupported, "economy mode is for documents; videos run in realtime")
		}
		if err := s.acceptVideo(ctx, job, req.file); err != nil {
			return err
		}
	default:
		return tasks.Errorf(tasks.CodeUnsupportedType, "unsupported file kind %q", kind)
	}
	if kind == tasks.KindDocument && s.deps.InspectPDF != nil {
		pages, err := s.inspectPDF(ctx, req.file, req.Password, job.Options.OpenLimit())
		if err != nil {
			return err
		}
		if _, job.PagesTotal, err = job.Options.SelectPages(pages); err != nil {
			return err
		}
	}
	// The job's reference to its input before the input: see
	// store.Redis.RefBlob.
	key := tasks.BlobKey(req.file)
	if err := s.deps.Store.RefBlob(ctx, key, job.ID); err != nil {
		return fmt.Errorf("api: store upload: %w", err)
	}
	if _, err := s.deps.Blobs.Put(ctx, req.file); err != nil {
		return fmt.Errorf("api: store upload: %w", err)
	}
	job.Kind = kind
	job.BlobKey = key
	job.Size = int64(len(req.file))
	job.Filename = sanitizeFilename(req.filename)
	return nil
}

// inspectPDF runs Deps.InspectPDF on a document a client sent, at most
// MaxConcurrentInspections at once. A PDF reader that panics on a malformed
// file has found a malformed file: the client gets 422 invalid_pdf, not 500.
func (s *Server) inspectPDF(ctx context.Context, data []byte, password string, maxPages int) (pages int, err error) {
	select {
	case s.inspections <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-s.inspections }()
	defer func() {
		if p := recover(); p != nil {
			zerolog.Ctx(ctx).Warn().Interface("panic", p).Msg("PDF reader panicked")
			pages, err = 0, tasks.WrapError(tasks.CodeInvalidPDF, fmt.Errorf("panic: %v", p), "the PDF could not be read")
		}
	}()
	return s.deps.InspectPDF(ctx, data, password, maxPages)
}

// acceptURL checks a job's source URL. The worker fetches and sniffs it, so
// a URL job is a document job until its input says otherwise.
func (s *Server) acceptURL(job *tasks.Job, raw string) error {
	if raw == "" {
		return tasks.Errorf(tasks.CodeInvalidRequest, "give either a file (multipart/form-data) or a url (application/json)")
	}
	if err := s.checkURL(raw); err != nil {
		return err
	}
	job.Kind = tasks.KindDocument
	job.SourceURL = raw
	return nil
}

// checkURL refuses a URL mmq must not fetch or call: not absolute http or
// https, without a host, with credentials (which would be stored and shown
// with the job), or with a host the SSRF guard refuses on its face (an IP
// literal of a private network, localhost). Names are resolved, and their
// addresses checked, when the worker connects.
func (s *Server) checkURL(raw string) error {
	if _, err := s.cfg.SSRF.CheckURL(raw); err != nil {
		var ue *ssrf.URLError
		if errors.As(err, &ue) {
			return tasks.WrapError(tasks.CodeInvalidURL, err, ue.Reason)
		}
		return tasks.WrapError(tasks.CodeInvalidURL, err, "the URL is not valid")
	}
	return nil
}

// checkCallbackURL checks a job's or batch's callback_url like checkURL,
// then refuses a valid one when this server sends no webhooks.
func (s *Server) checkCallbackURL(raw string) error {
	if err := s.checkURL(raw); err != nil {
		return tasks.WrapError(tasks.CodeInvalidURL, err, "callback_url: "+tasks.ErrorMessage(err))
	}
	if s.cfg.RefuseCallbacks {
		return tasks.Errorf(tasks.CodeInvalidRequest, "callback_url: this server sends no webhooks (webhooks.secret is not set)")
	}
	return nil
}

// options validates a request's analysis options and metadata and returns
// them with defaults applied; Options.MaxPages is the job's effective limit.
func (s *Server) options(req *submitRequest) (tasks.Options, json.RawMessage, error) {
	opts := tasks.Options{
		Task:     req.Task,
		Priority: tasks.Priority(req.Priority),
		MaxPages: s.cfg.MaxPages,
	}
	if opts.Task == "" {
		opts.Task = s.cfg.DefaultTask
	}
	if !taskPattern.MatchString(opts.Task) {
		return opts, nil, tasks.Errorf(tasks.CodeInvalidRequest, "task must be 1 to 64 of a-z, 0-9 and _")
	}
	if opts.Priority == "" {
		opts.Priority = tasks.PriorityDefault
	}
	if !opts.Priority.Valid() {
		return opts, nil, tasks.Errorf(tasks.CodeInvalidRequest, "priority must be critical, default or low")
	}
	switch {
	case req.MaxPages < 0:
		return opts, nil, tasks.Errorf(tasks.CodeInvalidRequest, "max_pages must not be negative")
	case req.MaxPages > s.cfg.MaxPages:
		return opts, nil, tasks.Errorf(tasks.CodeInvalidRequest, "max_pages must not exceed this server's limit of %d", s.cfg.MaxPages)
	case req.MaxPages > 0:
		opts.MaxPages = req.MaxPages
	}
	if len(req.Password) > maxPasswordBytes {
		return opts, nil, tasks.Errorf(tasks.CodeInvalidRequest, "password is longer than %d bytes", maxPasswordBytes)
	}
	if err := s.videoOptions(req, &opts); err != nil {
		return opts, nil, err
	}
	if err := s.modelOptions(req, &opts); err != nil {
		return opts, nil, err
	}
	if err := s.extractionOptions(req, &opts); err != nil {
		return opts, nil, err
	}
	if err := s.modeOption(req, &opts); err != nil {
		return opts, nil, err
	}
	if err := pagesOption(req, &opts); err != nil {
		return opts, nil, err
	}
	if req.CallbackURL != "" {
		if err := s.checkCallbackURL(req.CallbackURL); err != nil {
			return opts, nil, err
		}
	}
	meta, err := checkMetadata(req.Metadata)
	return opts, meta, err
}

// checkMetadata returns raw compacted, or nil for absent or null metadata.
func checkMetadata(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) > maxMetadataBytes {
		return nil, tasks.Errorf(tasks.CodeInvalidRequest, "metadata is larger than %d bytes", maxMetadataBytes)
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, trimmed); err != nil {
		return nil, tasks.Errorf(tasks.CodeInvalidRequest, "metadata is not valid JSON")
	}
	return buf.Bytes(), nil
}

// readSubmit parses a submit request of either form.
func (s *Server) readSubmit(w http.ResponseWriter, r *http.Request) (*submitRequest, error) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, tasks.Errorf(tasks.CodeUnsupportedType, "send multipart/form-data with a file, or application/json with a url")
	}
	switch ct {
	case "multipart/form-data":
		// A declared length over the limit is refused before any byte is
		// read: a client that sent "Expect: 100-continue" then never
		// sends the file.
		if r.ContentLength > s.cfg.MaxUploadBytes+formOverhead {
			return nil, s.tooLarge(nil)
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadBytes+formOverhead)
		return s.readMultipart(r)
	case "application/json":
		if r.ContentLength > maxJSONBytes {
			return nil, tasks.Errorf(tasks.CodeFileTooLarge, "request body is larger than %d bytes", maxJSONBytes)
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxJSONBytes)
		return readJSON(r.Body)
	}
	return nil, tasks.Errorf(tasks.CodeUnsupportedType, "content type %q is not accepted; send multipart/form-data with a file, or application/json with a url", ct)
}

// readJSON parses the JSON form of a submit request.
func readJSON(body io.Reader) (*submitRequest, error) {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	var req submitRequest
	if err := dec.Decode(&req); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, tasks.Errorf(tasks.CodeInvalidRequest, "request body holds more than one JSON value")
	}
	if req.URL == "" {
		return nil, tasks.Errorf(tasks.CodeInvalidRequest, "url is required in a JSON request; upload a file with multipart/form-data")
	}
	return &req, nil
}

// jsonError turns a decoding error into a client error that names the field
// and not the Go type behind it.
func jsonError(err error) error {
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return tasks.WrapError(tasks.CodeFileTooLarge, err, fmt.Sprintf("request body is larger than %d bytes", maxErr.Limit))
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return tasks.WrapError(tasks.CodeInvalidRequest, err, "request body is not valid JSON")
	case errors.As(err, &typeErr) && typeErr.Field == "":
		// The body itself: an array, a string, a number.
		return tasks.WrapError(tasks.CodeInvalidRequest, err, "request body must be a JSON object")
	case errors.As(err, &typeErr):
		return tasks.WrapError(tasks.CodeInvalidRequest, err, fmt.Sprintf("field %q must be %s", typeErr.Field, jsonType(typeErr.Type.Kind().String())))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return tasks.WrapError(tasks.CodeInvalidRequest, err, strings.TrimPrefix(err.Error(), "json: "))
	}
	return tasks.WrapError(tasks.CodeInvalidRequest, err, "request body is not a valid submit request")
}

// jsonType names a Go kind the way a JSON client thinks of it.
func jsonType(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		// Also said of 1.5 and 1e309, which are JSON numbers all right.
		return "an integer"
	case strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "struct", kind == "map":
		return "a JSON object"
	case kind == "slice", kind == "array":
		return "a JSON array"
	case kind == "bool":
		return "true or false"
	}
	return "a JSON " + kind
}

// readMultipart parses the multipart form of a submit request, streaming the
// parts: the file is spooled to disk once, bounded by MaxUploadBytes, and
// mapped into memory for the request's length (see withUploads).
func (s *Server) readMultipart(r *http.Request) (*submitRequest, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, tasks.WrapError(tasks.CodeInvalidRequest, err, "request body is not a multipart form")
	}
	var req submitRequest
	seen := map[string]bool{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, s.bodyError(err)
		}
		name := part.FormName()
		if seen[name] {
			return nil, tasks.Errorf(tasks.CodeInvalidRequest, "form field %q is given twice", name)
		}
		seen[name] = true
		if name == "file" {
			req.hasFile = true
			req.filename = part.FileName()
			if req.file, err = s.readUpload(r.Context(), part); err != nil {
				return nil, err
			}
			continue
		}
		value, err := readField(part)
		if err != nil {
			return nil, s.bodyError(err)
		}
		if err := req.setField(name, value); err != nil {
			return nil, err
		}
	}
	if !req.hasFile {
		return nil, tasks.Errorf(tasks.CodeInvalidRequest, `form field "file" is required; submit a URL as application/json`)
	}
	return &req, nil
}

// readUpload spools the file part, refusing one larger than MaxUploadBytes.
func (s *Server) readUpload(ctx context.Context, part *multipart.Part) ([]byte, error) {
	data, tooLarge, err := spool(ctx, part, s.cfg.MaxUploadBytes)
	if err != nil {
		return nil, s.bodyError(err)
	}
	if tooLarge {
		return nil, s.tooLarge(nil)
	}
	return data, nil
}

// readField reads a multipart field other than the file: at most
// maxFieldBytes, the schema at most maxSchemaFieldBytes.
func readField(part *multipart.Part) (string, error) {
	limit := maxFieldBytes
	if part.FormName() == "schema" {
		limit = maxSchemaFieldBytes
	}
	b, err := io.ReadAll(io.LimitReader(part, int64(limit)+1))
	if err != nil {
		return "", err
	}
	if len(b) > limit {
		return "", tasks.Errorf(tasks.CodeInvalidRequest, "form field %q is longer than %d bytes", part.FormName(), limit)
	}
	if !utf8.Valid(b) {
		return "", tasks.Errorf(tasks.CodeInvalidRequest, "form field %q is not UTF-8", part.FormName())
	}
	return string(b), nil
}

// bodyError classifies an error met while reading a request body.
func (s *Server) bodyError(err error) error {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return s.tooLarge(err)
	}
	var te *tasks.Error
	if errors.As(err, &te) {
		return err
	}
	return tasks.WrapError(tasks.CodeInvalidRequest, err, "request body is not a valid multipart form")
}

func (s *Server) tooLarge(cause error) error {
	return tasks.WrapError(tasks.CodeFileTooLarge, cause, fmt.Sprintf("the file is larger than the limit of %d bytes", s.cfg.MaxUploadBytes))
}

// failUnqueued marks failed a job that was stored but could not be enqueued,
// so that it does not stay queued forever. It runs even if the client has
// gone: the job record exists either way.
func (s *Server) failUnqueued(ctx context.Context, id string, cause error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	j, err := s.deps.Store.FinishJob(ctx, id, tasks.StatusFailed, tasks.CodeUnavailable, "the job could not be queued")
	log := zerolog.Ctx(ctx).Error().Str("job_id", id).AnErr("cause", cause)
	if err != nil {
		log = log.AnErr("finish_error", err)
	}
	log.Msg("enqueue failed; job marked failed")
	if err == nil {
		// Its client hears of the end like any other: job.failed, and
		// batch.completed when it was the batch's last job. (When Redis
		// itself is failing, this enqueue fails too and is logged.)
		s.announce(ctx, j)
	}
}

// setField sets the option a multipart form field names (every field of
// the JSON form but url, with metadata as a JSON string).
func (req *submitRequest) setField(name, value string) error {
	var err error
	switch name {
	case "task":
		req.Task = value
	case "priority":
		req.Priority = value
	case "metadata":
		// An empty field is no metadata, as curl -F metadata= means.
		req.Metadata = json.RawMessage(value)
		if strings.TrimSpace(value) != "" && !json.Valid(req.Metadata) {
			return tasks.Errorf(tasks.CodeInvalidRequest, "metadata is not valid JSON")
		}
	case "max_pages":
		if req.MaxPages, err = strconv.Atoi(strings.TrimSpace(value)); err != nil {
			return tasks.Errorf(tasks.CodeInvalidRequest, "max_pages must be an integer")
		}
	case "password":
		req.Password = value
	case "callback_url":
		req.CallbackURL = value
	case "provider":
		req.Provider = value
	case "instructions":
		req.Instructions = value
	case "scope":
		req.Scope = strings.TrimSpace(value)
	case "mode":
		req.Mode = strings.TrimSpace(value)
	case "pages":
		req.Pages = value
	case "schema":
		if strings.TrimSpace(value) != "" {
			if req.Schema, err = decodeSchemaField(value); err != nil {
				return err
			}
		}
	case "max_cost_usd":
		if req.MaxCostUSD, err = strconv.ParseFloat(strings.TrimSpace(value), 64); err != nil {
			return tasks.Errorf(tasks.CodeInvalidRequest, "max_cost_usd must be a number")
		}
	case "sample":
		req.Sample = value
	case "max_frames":
		if req.MaxFrames, err = strconv.Atoi(strings.TrimSpace(value)); err != nil {
			return tasks.Errorf(tasks.CodeInvalidRequest, "max_frames must be an integer")
		}
	case "start", "end":
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return tasks.Errorf(tasks.CodeInvalidRequest, "%s must be a number of seconds", name)
		}
		if name == "start" {
			req.Start = f
		} else {
			req.End = f
		}
	default:
		return tasks.Errorf(tasks.CodeInvalidRequest, "unknown form field %q", name)
	}
	return nil
}

// sanitizeFilename keeps the base name of a client's file name, without
// control characters and at most 255 bytes long.
func sanitizeFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "." || name == ".." {
		return ""
	}
	for len(name) > 255 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}
