package providertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Message Batches limits: requests per batch and bytes per create request.
const (
	maxAnthropicBatchRequests = 100_000
	maxAnthropicBatchBody     = 256 << 20
)

// anthropicBatchRoutes serves Message Batches on mux.
func (s *Server) anthropicBatchRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/messages/batches", s.anthropicBatchCreate)
	mux.HandleFunc("GET /v1/messages/batches", s.anthropicBatchList)
	mux.HandleFunc("GET /v1/messages/batches/{id}", s.anthropicBatchGet)
	mux.HandleFunc("POST /v1/messages/batches/{id}/cancel", s.anthropicBatchCancel)
	mux.HandleFunc("GET /v1/messages/batches/{id}/results", s.anthropicBatchResults)
}

// anthropicBatchAuth checks a batch call's headers and the fault script;
// false when it answered.
func (s *Server) anthropicBatchAuth(w http.ResponseWriter, r *http.Request, op string) bool {
	switch key := r.Header.Get("x-api-key"); {
	case key == "":
		anthropicFail(w, http.StatusUnauthorized, "authentication_error", "x-api-key header is required", nil)
		return false
	case key != s.APIKey:
		anthropicFail(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key", nil)
		return false
	case r.Header.Get("anthropic-version") == "":
		anthropicFail(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required", nil)
		return false
	}
	if st := s.Batches.fault(op); st != 0 {
		anthropicFail(w, st, "", "", nil)
		return false
	}
	return true
}

func (s *Server) anthropicBatchCreate(w http.ResponseWriter, r *http.Request) {
	if !s.anthropicBatchAuth(w, r, "create") {
		return
	}
	if ct := r.Header.Get("content-type"); !strings.HasPrefix(ct, "application/json") {
		anthropicFail(w, http.StatusBadRequest, "invalid_request_error", "Content-Type must be application/json", nil)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAnthropicBatchBody+1))
	if err != nil {
		anthropicFail(w, http.StatusBadRequest, "invalid_request_error", "could not read the body", nil)
		return
	}
	if len(body) > maxAnthropicBatchBody {
		anthropicFail(w, http.StatusRequestEntityTooLarge, "request_too_large", "Request exceeds the maximum allowed number of bytes.", nil)
		return
	}
	var req struct {
		Requests []struct {
			CustomID string          `json:"custom_id"`
			Params   json.RawMessage `json:"params"`
		} `json:"requests"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		anthropicFail(w, http.StatusBadRequest, "invalid_request_error", "There was an issue with your request body: "+err.Error(), nil)
		return
	}
	if n := len(req.Requests); n == 0 || n > maxAnthropicBatchRequests {
		anthropicFail(w, http.StatusBadRequest, "invalid_request_error",
			fmt.Sprintf("requests: List should have between 1 and %d items, not %d", maxAnthropicBatchRequests, n), nil)
		return
	}
	fb := &fakeBatch{id: randomID("msgbatch_", 24), createdAt: time.Now().UTC(), lines: make([]fakeLine, len(req.Requests))}
	seen := map[string]bool{}
	for i, q := range req.Requests {
		switch {
		case !schemaNameRE.MatchString(q.CustomID):
			anthropicFail(w, http.StatusBadRequest, "invalid_request_error",
				fmt.Sprintf("requests.%d.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'", i), nil)
			return
		case seen[q.CustomID]:
			anthropicFail(w, http.StatusBadRequest, "invalid_request_error",
				fmt.Sprintf("Duplicate custom_id %q: custom_id must be unique within a batch.", q.CustomID), nil)
			return
		case len(q.Params) == 0 || q.Params[0] != '{':
			anthropicFail(w, http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("requests.%d.params: Field required", i), nil)
			return
		}
		seen[q.CustomID] = true
		fb.lines[i] = fakeLine{customID: q.CustomID, body: q.Params}
	}
	b := &s.Batches
	b.mu.Lock()
	b.add(fb)
	b.count(fb)
	out := s.anthropicBatchJSON(fb)
	b.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// anthropicLook ends the batch id if it is due and returns it, or
// answers 404.
func (s *Server) anthropicLook(w http.ResponseWriter, id string) *fakeBatch {
	b := &s.Batches
	fb := b.byID[id]
	if fb == nil {
		anthropicFail(w, http.StatusNotFound, "not_found_error", "Message batch "+id+" not found", nil)
		return nil
	}
	if now := time.Now().UTC(); b.due(fb, now) {
		b.end(fb, now, anthropicRefusal)
	}
	return fb
}

// anthropicRefusal is what the Messages API would refuse a request's
// params with, "" if nothing.
func anthropicRefusal(params []byte) string {
	var rec Received
	if st, _, msg := anthropicParams(params, &rec); st != 0 {
		return msg
	}
	return ""
}

func (s *Server) anthropicBatchGet(w http.ResponseWriter, r *http.Request) {
	if !s.anthropicBatchAuth(w, r, "get") {
		return
	}
	b := &s.Batches
	b.mu.Lock()
	defer b.mu.Unlock()
	if fb := s.anthropicLook(w, r.PathValue("id")); fb != nil {
		writeJSON(w, http.StatusOK, s.anthropicBatchJSON(fb))
	}
}

func (s *Server) anthropicBatchCancel(w http.ResponseWriter, r *http.Request) {
	if !s.anthropicBatchAuth(w, r, "cancel") {
		return
	}
	b := &s.Batches
	b.mu.Lock()
	defer b.mu.Unlock()
	fb := s.anthropicLook(w, r.PathValue("id"))
	if fb == nil {
		return
	}
	b.cancel(fb)
	writeJSON(w, http.StatusOK, s.anthropicBatchJSON(fb))
}

func (s *Server) anthropicBatchList(w http.ResponseWriter, r *http.Request) {
	if !s.anthropicBatchAuth(w, r, "list") {
		return
	}
	limit, ok := listLimit(r, 20, 1000)
	if !ok {
		anthropicFail(w, http.StatusBadRequest, "invalid_request_error", "limit: Input should be between 1 and 1000", nil)
		return
	}
	b := &s.Batches
	b.mu.Lock()
	defer b.mu.Unlock()
	page, more := pageOf(b.batches, r.URL.Query().Get("after_id"), limit)
	data := make([]any, 0, len(page))
	now := time.Now().UTC()
	for _, fb := range page {
		if b.due(fb, now) {
			b.end(fb, now, anthropicRefusal)
		}
		data = append(data, s.anthropicBatchJSON(fb))
	}
	out := map[string]any{"data": data, "has_more": more, "first_id": nil, "last_id": nil}
	if len(page) > 0 {
		out["first_id"], out["last_id"] = page[0].id, page[len(page)-1].id
	}
	writeJSON(w, http.StatusOK, out)
}

// anthropicBatchJSON is a MessageBatch object; the caller holds the lock.
func (s *Server) anthropicBatchJSON(fb *fakeBatch) map[string]any {
	status := "in_progress"
	counts := map[string]int{"processing": len(fb.lines), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
	var endedAt, cancelAt, resultsURL any
	if !fb.cancelAt.IsZero() {
		status, cancelAt = "canceling", fb.cancelAt.Format(time.RFC3339Nano)
	}
	if !fb.endedAt.IsZero() {
		status, endedAt = "ended", fb.endedAt.Format(time.RFC3339Nano)
		resultsURL = s.URL + "/v1/messages/batches/" + fb.id + "/results"
		counts["processing"] = 0
		for k, v := range fb.counts {
			counts[k] = v
		}
	}
	return map[string]any{
		"id": fb.id, "type": "message_batch", "processing_status": status, "request_counts": counts,
		"ended_at": endedAt, "created_at": fb.createdAt.Format(time.RFC3339Nano),
		"expires_at":  fb.createdAt.Add(24 * time.Hour).Format(time.RFC3339Nano),
		"archived_at": nil, "cancel_initiated_at": cancelAt, "results_url": resultsURL,
	}
}

// anthropicBatchResults streams an ended batch's results as JSONL, each
// line written as it is made.
func (s *Server) anthropicBatchResults(w http.ResponseWriter, r *http.Request) {
	if !s.anthropicBatchAuth(w, r, "results") {
		return
	}
	b := &s.Batches
	b.mu.Lock()
	fb := s.anthropicLook(w, r.PathValue("id"))
	if fb == nil {
		b.mu.Unlock()
		return
	}
	if fb.endedAt.IsZero() {
		b.mu.Unlock()
		anthropicFail(w, http.StatusBadRequest, "invalid_request_error", "Message batch "+fb.id+" has not ended: its results are not available yet.", nil)
		return
	}
	// An ended batch's lines no longer change: stream them unlocked.
	lines := fb.lines
	b.mu.Unlock()
	w.Header().Set("Content-Type", "application/binary")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	enc := json.NewEncoder(bw)
	for _, l := range lines {
		if r.Context().Err() != nil {
			return
		}
		_ = enc.Encode(map[string]any{"custom_id": l.customID, "result": s.anthropicResult(l)})
	}
}

// anthropicResult is the result object of one request of an ended batch.
func (s *Server) anthropicResult(l fakeLine) map[string]any {
	errored := func(typ, msg string) map[string]any {
		return map[string]any{"type": "errored", "error": map[string]any{"type": "error",
			"error": map[string]any{"type": typ, "message": msg}, "request_id": randomID("req_", 24)}}
	}
	switch l.outcome {
	case OutcomeCanceled, OutcomeExpired:
		return map[string]any{"type": l.outcome}
	case OutcomeErrored:
		if l.refused != "" {
			return errored("invalid_request_error", l.refused)
		}
		return errored("api_error", "Internal server error")
	}
	var rec Received
	anthropicParams(l.body, &rec)
	text := s.answer(rec, Reply{})
	in, out := s.usage(rec, text, AnthropicUsage)
	content := []any{map[string]any{"type": "text", "text": text}}
	stop := "end_turn"
	if rec.Schema != nil {
		input := json.RawMessage(text)
		if !json.Valid(input) || !bytes.HasPrefix(bytes.TrimSpace(input), []byte("{")) {
			input, _ = json.Marshal(map[string]string{"answer": text})
		}
		content = []any{map[string]any{"type": "tool_use", "id": randomID("toolu_", 24), "name": rec.SchemaName, "input": input}}
		stop = "tool_use"
	}
	return map[string]any{"type": "succeeded", "message": map[string]any{
		"id": randomID("msg_", 24), "type": "message", "role": "assistant", "model": rec.Model, "content": content,
		"stop_reason": stop, "stop_sequence": nil, "usage": map[string]any{"input_tokens": in, "output_tokens": out},
	}}
}

// pageOf returns batches newest first after the one with id after (from
// the newest when ""), at most limit, and whether more follow.
func pageOf(batches []*fakeBatch, after string, limit int) ([]*fakeBatch, bool) {
	all := make([]*fakeBatch, 0, len(batches))
	for i := len(batches) - 1; i >= 0; i-- {
		all = append(all, batches[i])
	}
	if after != "" {
		for i, fb := range all {
			if fb.id == after {
				all = all[i+1:]
				break
			}
		}
	}
	if len(all) > limit {
		return all[:limit], true
	}
	return all, false
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
