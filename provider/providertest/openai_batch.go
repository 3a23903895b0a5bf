package providertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// The Batch API's limits: requests per batch and bytes per input file.
const (
	maxOpenAIBatchRequests = 50_000
	maxOpenAIBatchFile     = 200 << 20
)

// openAIBatchError is one reason a batch failed its validation.
type openAIBatchError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   any    `json:"param"`
	Line    int    `json:"line,omitempty"`
}

// openAIBatchRoutes serves the Files and Batch APIs on mux.
func (s *Server) openAIBatchRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/files", s.openAIFileUpload)
	mux.HandleFunc("GET /v1/files/{id}/content", s.openAIFileContent)
	mux.HandleFunc("POST /v1/batches", s.openAIBatchCreate)
	mux.HandleFunc("GET /v1/batches", s.openAIBatchList)
	mux.HandleFunc("GET /v1/batches/{id}", s.openAIBatchGet)
	mux.HandleFunc("POST /v1/batches/{id}/cancel", s.openAIBatchCancel)
}

// openAIBatchAuth checks a call's key and the fault script; false when it
// answered.
func (s *Server) openAIBatchAuth(w http.ResponseWriter, r *http.Request, op string) bool {
	if code, msg := s.openAIKey(r); msg != "" {
		openAIFail(w, http.StatusUnauthorized, "invalid_request_error", code, msg, nil)
		return false
	}
	if st := s.Batches.fault(op); st != 0 {
		openAIFail(w, st, "", "", "", nil)
		return false
	}
	return true
}

func (s *Server) openAIFileUpload(w http.ResponseWriter, r *http.Request) {
	if !s.openAIBatchAuth(w, r, "upload") {
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		openAIFail(w, http.StatusBadRequest, "invalid_request_error", "", "Expected a multipart/form-data body.", nil)
		return
	}
	f := &fakeFile{id: randomID("file-", 22), createdAt: time.Now().UTC()}
	hasFile := false
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			openAIFail(w, http.StatusBadRequest, "invalid_request_error", "", "Could not parse the multipart body.", nil)
			return
		}
		data, err := io.ReadAll(io.LimitReader(p, maxOpenAIBatchFile+1))
		if err != nil {
			openAIFail(w, http.StatusBadRequest, "invalid_request_error", "", "Could not read the multipart body.", nil)
			return
		}
		switch p.FormName() {
		case "purpose":
			f.purpose = string(data)
		case "file":
			f.filename, f.data, hasFile = p.FileName(), data, true
		}
	}
	switch {
	case !hasFile:
		openAIFail(w, http.StatusBadRequest, "invalid_request_error", "", "Missing required parameter: 'file'.", nil)
		return
	case f.purpose != "batch" && f.purpose != "assistants" && f.purpose != "fine-tune" && f.purpose != "vision" && f.purpose != "user_data" && f.purpose != "evals":
		openAIFail(w, http.StatusBadRequest, "invalid_request_error", "", fmt.Sprintf("Invalid value for 'purpose': '%s'.", f.purpose), nil)
		return
	case f.purpose == "batch" && len(f.data) > maxOpenAIBatchFile:
		openAIFail(w, http.StatusBadRequest, "invalid_request_error", "", "File is too large: batch input files may be up to 200 MB.", nil)
		return
	}
	b := &s.Batches
	b.mu.Lock()
	if b.files == nil {
		b.files = map[string]*fakeFile{}
	}
	b.files[f.id] = f
	b.mu.Unlock()
	writeJSON(w, http.StatusOK, openAIFileJSON(f, len(f.data)))
}

func openAIFileJSON(f *fakeFile, size int) map[string]any {
	return map[string]any{"id": f.id, "object": "file", "bytes": size, "created_at": f.createdAt.Unix(),
		"filename": f.filename, "purpose": f.purpose, "status": "processed", "status_details": nil,
		"expires_at": f.createdAt.Add(30 * 24 * time.Hour).Unix()}
}

func (s *Server) openAIBatchCreate(w http.ResponseWriter, r *http.Request) {
	if !s.openAIBatchAuth(w, r, "create") {
		return
	}
	var req struct {
		InputFileID        string            `json:"input_file_id"`
		Endpoint           string            `json:"endpoint"`
		CompletionWindow   string            `json:"completion_window"`
		Metadata           map[string]string `json:"metadata"`
		OutputExpiresAfter json.RawMessage   `json:"output_expires_after"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		openAIFail(w, http.StatusBadRequest, "invalid_request_error", "", "We could not parse the JSON body of your request.", nil)
		return
	}
	b := &s.Batches
	b.mu.Lock()
	defer b.mu.Unlock()
	in := b.files[req.InputFileID]
	switch {
	case req.InputFileID == "":
		openAIFail(w, http.StatusBadRequest, "invalid_request_error", "", "Missing required parameter: 'input_file_id'.", nil)
	case req.Endpoint != "/v1/chat/completions":
		openAIFail(w, http.StatusBadRequest, "invalid_request_error", "", fmt.Sprintf("Invalid value for 'endpoint': '%s'. This fake serves '/v1/chat/completions'.", req.Endpoint), nil)
	case req.CompletionWindow != "24h":
		openAIFail(w, http.StatusBadRequest, "invalid_request_error", "", fmt.Sprintf("Invalid value for 'completion_window': '%s'. Supported values are: '24h'.", req.CompletionWindow), nil)
	case len(req.Metadata) > 16:
		openAIFail(w, http.StatusBadRequest, "invalid_request_error", "", "Invalid 'metadata': too many properties. Expected an object with at most 16 properties.", nil)
	case in == nil || in.batch != nil:
		openAIFail(w, http.StatusNotFound, "invalid_request_error", "", fmt.Sprintf("No such File object: %s", req.InputFileID), nil)
	case in.purpose != "batch":
		openAIFail(w, http.StatusBadRequest, "invalid_request_error", "", fmt.Sprintf("File %s has purpose '%s', not 'batch'.", in.id, in.purpose), nil)
	default:
		fb := &fakeBatch{id: randomID("batch_", 32), createdAt: time.Now().UTC(), inputFile: in.id, metadata: req.Metadata}
		b.add(fb)
		writeJSON(w, http.StatusOK, s.openAIBatchJSON(fb))
	}
}

// openAILook validates a batch at its first look and ends it when due;
// the caller holds the lock.
func (s *Server) openAILook(fb *fakeBatch) {
	b := &s.Batches
	if !fb.validated {
		fb.validated = true
		s.openAIValidate(fb)
		if len(fb.failed) == 0 {
			b.count(fb)
		}
		return
	}
	if now := time.Now().UTC(); len(fb.failed) == 0 && b.due(fb, now) {
		b.end(fb, now, openAIRefusal)
		fb.status = "completed"
		for _, l := range fb.lines {
			switch {
			case l.outcome == OutcomeExpired:
				fb.status = "expired"
			case l.outcome == OutcomeCanceled && fb.status != "expired":
				fb.status = "cancelled"
			}
		}
		if fb.counts[OutcomeSucceeded] > 0 {
			fb.outputFile = s.resultFile(fb, false)
		}
		if len(fb.lines) > fb.counts[OutcomeSucceeded] {
			fb.errorFile = s.resultFile(fb, true)
		}
	}
}

// resultFile registers an ended batch's output (or error) file.
func (s *Server) resultFile(fb *fakeBatch, errors bool) string {
	f := &fakeFile{id: randomID("file-", 22), purpose: "batch_output", createdAt: fb.endedAt, batch: fb, errors: errors,
		filename: fb.id + "_output.jsonl"}
	if errors {
		f.filename = fb.id + "_error.jsonl"
	}
	s.Batches.files[f.id] = f
	return f.id
}

// openAIRefusal is what Chat Completions would refuse a line's body with.
func openAIRefusal(body []byte) string {
	var rec Received
	if st, _, _, msg, _ := openAIBody(body, &rec); st != 0 {
		return msg
	}
	return ""
}

// openAIValidate checks a batch's input file as the Batch API does while
// the batch is validating: JSONL of {custom_id, method, url, body}, POST
// to the batch's endpoint, unique custom_ids, one model, at most 50,000
// lines.
func (s *Server) openAIValidate(fb *fakeBatch) {
	in := s.Batches.files[fb.inputFile]
	fail := func(line int, code, msg string) {
		fb.failed = append(fb.failed, openAIBatchError{Code: code, Message: msg, Line: line})
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(in.data))
	sc.Buffer(nil, maxOpenAIBatchFile)
	for n := 1; sc.Scan(); n++ {
		var l struct {
			CustomID string          `json:"custom_id"`
			Method   string          `json:"method"`
			URL      string          `json:"url"`
			Body     json.RawMessage `json:"body"`
		}
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			fail(n, "invalid_json_line", "This line is not parseable as valid JSON.")
			continue
		}
		var model struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
		}
		_ = json.Unmarshal(l.Body, &model)
		switch {
		case l.CustomID == "":
			fail(n, "missing_required_parameter", "Missing required parameter: 'custom_id'.")
		case seen[l.CustomID]:
			fail(n, "duplicate_custom_id", fmt.Sprintf("The custom_id for this request is a duplicate of another request: %s.", l.CustomID))
		case l.Method != "POST":
			fail(n, "invalid_method", "The method for this request must be POST.")
		case l.URL != "/v1/chat/completions":
			fail(n, "mismatched_url", "The url for this request does not match the batch's endpoint /v1/chat/completions.")
		case len(l.Body) == 0 || l.Body[0] != '{':
			fail(n, "missing_required_parameter", "Missing required parameter: 'body'.")
		case model.Stream:
			fail(n, "invalid_request", "Streaming is not supported in a batch.")
		case fb.model != "" && model.Model != fb.model:
			fail(n, "mismatched_model", "The provided model does not match the model of the other requests in this batch.")
		}
		seen[l.CustomID] = true
		if fb.model == "" {
			fb.model = model.Model
		}
		fb.lines = append(fb.lines, fakeLine{customID: l.CustomID, body: l.Body})
	}
	switch {
	case len(fb.lines) == 0:
		fail(0, "empty_file", "The batch input file is empty.")
	case len(fb.lines) > maxOpenAIBatchRequests:
		fail(0, "too_many_tasks", fmt.Sprintf("The batch input file has %d requests, more than %d.", len(fb.lines), maxOpenAIBatchRequests))
	}
	if len(fb.failed) > 0 {
		fb.endedAt, fb.status = time.Now().UTC(), "failed"
	}
}

func (s *Server) openAIBatchGet(w http.ResponseWriter, r *http.Request) {
	if !s.openAIBatchAuth(w, r, "get") {
		return
	}
	s.Batches.mu.Lock()
	defer s.Batches.mu.Unlock()
	if fb := s.openAIFind(w, r); fb != nil {
		writeJSON(w, http.StatusOK, s.openAIBatchJSON(fb))
	}
}

// openAIFind looks at the batch of the request's path, or answers 404;
// the caller holds the lock.
func (s *Server) openAIFind(w http.ResponseWriter, r *http.Request) *fakeBatch {
	fb := s.Batches.byID[r.PathValue("id")]
	if fb == nil {
		openAIFail(w, http.StatusNotFound, "invalid_request_error", "", "No batch found with id '"+r.PathValue("id")+"'.", nil)
		return nil
	}
	s.openAILook(fb)
	return fb
}

func (s *Server) openAIBatchCancel(w http.ResponseWriter, r *http.Request) {
	if !s.openAIBatchAuth(w, r, "cancel") {
		return
	}
	s.Batches.mu.Lock()
	defer s.Batches.mu.Unlock()
	fb := s.openAIFind(w, r)
	switch {
	case fb == nil:
	case !fb.endedAt.IsZero():
		openAIFail(w, http.StatusConflict, "invalid_request_error", "",
			fmt.Sprintf("Cannot cancel a batch with status '%s'.", fb.status), nil)
	default:
		s.Batches.cancel(fb)
		writeJSON(w, http.StatusOK, s.openAIBatchJSON(fb))
	}
}

func (s *Server) openAIBatchList(w http.ResponseWriter, r *http.Request) {
	if !s.openAIBatchAuth(w, r, "list") {
		return
	}
	limit, ok := listLimit(r, 20, 100)
	if !ok {
		openAIFail(w, http.StatusBadRequest, "invalid_request_error", "", "Invalid 'limit': expected an integer between 1 and 100.", nil)
		return
	}
	b := &s.Batches
	b.mu.Lock()
	defer b.mu.Unlock()
	page, more := pageOf(b.batches, r.URL.Query().Get("after"), limit)
	data := make([]any, 0, len(page))
	for _, fb := range page {
		s.openAILook(fb)
		data = append(data, s.openAIBatchJSON(fb))
	}
	out := map[string]any{"object": "list", "data": data, "has_more": more, "first_id": nil, "last_id": nil}
	if len(page) > 0 {
		out["first_id"], out["last_id"] = page[0].id, page[len(page)-1].id
	}
	writeJSON(w, http.StatusOK, out)
}

// openAIBatchJSON is a Batch object; the caller holds the lock.
func (s *Server) openAIBatchJSON(fb *fakeBatch) map[string]any {
	unix := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.Unix()
	}
	orNil := func(id string) any {
		if id == "" {
			return nil
		}
		return id
	}
	out := map[string]any{
		"id": fb.id, "object": "batch", "endpoint": "/v1/chat/completions", "errors": nil, "input_file_id": fb.inputFile,
		"completion_window": "24h", "status": "validating", "output_file_id": orNil(fb.outputFile), "error_file_id": orNil(fb.errorFile),
		"created_at": fb.createdAt.Unix(), "in_progress_at": nil, "expires_at": fb.createdAt.Add(24 * time.Hour).Unix(),
		"finalizing_at": nil, "completed_at": nil, "failed_at": nil, "expired_at": nil, "cancelling_at": unix(fb.cancelAt),
		"cancelled_at": nil, "request_counts": map[string]int{"total": 0, "completed": 0, "failed": 0},
		"metadata": fb.metadata, "model": fb.model,
	}
	if fb.metadata == nil {
		out["metadata"] = nil
	}
	switch {
	case !fb.validated:
	case len(fb.failed) > 0:
		out["status"], out["failed_at"] = "failed", fb.endedAt.Unix()
		out["errors"] = map[string]any{"object": "list", "data": fb.failed}
	case fb.endedAt.IsZero():
		out["status"], out["in_progress_at"] = "in_progress", fb.createdAt.Unix()
		if !fb.cancelAt.IsZero() {
			out["status"] = "cancelling"
		}
		out["request_counts"] = map[string]int{"total": len(fb.lines), "completed": 0, "failed": 0}
	default:
		out["status"], out["in_progress_at"], out["finalizing_at"] = fb.status, fb.createdAt.Unix(), fb.endedAt.Unix()
		out[map[string]string{"completed": "completed_at", "expired": "expired_at", "cancelled": "cancelled_at"}[fb.status]] = fb.endedAt.Unix()
		out["request_counts"] = map[string]int{"total": len(fb.lines), "completed": fb.counts[OutcomeSucceeded], "failed": fb.counts[OutcomeErrored]}
	}
	return out
}

// openAIFileContent serves a file: an upload as it was, a batch's output
// or error file as JSONL written line by line.
func (s *Server) openAIFileContent(w http.ResponseWriter, r *http.Request) {
	if !s.openAIBatchAuth(w, r, "results") {
		return
	}
	b := &s.Batches
	b.mu.Lock()
	f := b.files[r.PathValue("id")]
	b.mu.Unlock()
	if f == nil {
		openAIFail(w, http.StatusNotFound, "invalid_request_error", "", "No such File object: "+r.PathValue("id"), nil)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if f.batch == nil {
		_, _ = w.Write(f.data)
		return
	}
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	enc := json.NewEncoder(bw)
	for _, l := range f.batch.lines {
		if r.Context().Err() != nil {
			return
		}
		if (l.outcome == OutcomeSucceeded) == f.errors {
			continue
		}
		_ = enc.Encode(s.openAIResultLine(l))
	}
}

// openAIResultLine is one line of a batch's output or error file.
func (s *Server) openAIResultLine(l fakeLine) map[string]any {
	out := map[string]any{"id": randomID("batch_req_", 32), "custom_id": l.customID, "response": nil, "error": nil}
	response := func(status int, body any) {
		out["response"] = map[string]any{"status_code": status, "request_id": randomID("req_", 32), "body": body}
	}
	switch l.outcome {
	case OutcomeExpired:
		out["error"] = map[string]any{"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}
	case OutcomeCanceled:
		out["error"] = map[string]any{"code": "batch_cancelled", "message": "This request was not executed because the batch was cancelled."}
	case OutcomeErrored:
		if l.refused != "" {
			response(http.StatusBadRequest, map[string]any{"error": map[string]any{"message": l.refused, "type": "invalid_request_error", "param": nil, "code": nil}})
		} else {
			response(http.StatusInternalServerError, map[string]any{"error": map[string]any{
				"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error", "param": nil, "code": nil}})
		}
	default:
		var rec Received
		openAIBody(l.body, &rec)
		text := s.answer(rec, Reply{})
		in, n := s.usage(rec, text, OpenAIUsage)
		response(http.StatusOK, map[string]any{
			"id": randomID("chatcmpl-", 24), "object": "chat.completion", "created": time.Now().Unix(), "model": rec.Model,
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": text, "refusal": nil},
				"logprobs": nil, "finish_reason": "stop"}},
			"usage": map[string]any{"prompt_tokens": in, "completion_tokens": n, "total_tokens": in + n},
		})
	}
	return out
}
