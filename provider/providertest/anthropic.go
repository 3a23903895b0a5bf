package providertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// NewAnthropic starts a fake Messages API (POST /v1/messages) and Message
// Batches API (see Batches) that accepts key. It is closed when the test
// ends.
func NewAnthropic(tb testing.TB, key string) *Server {
	return newServer(tb, key, func(s *Server) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /v1/messages", s.anthropicMessages)
		s.anthropicBatchRoutes(mux)
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			anthropicFail(w, http.StatusNotFound, "not_found_error", "Not Found", nil)
		})
		return mux
	})
}

// The request shape of the Messages API, strict: unknown fields are refused
// as the real API refuses them.
type (
	anthropicRequest struct {
		Model         string             `json:"model"`
		MaxTokens     *int               `json:"max_tokens"`
		System        json.RawMessage    `json:"system,omitempty"`
		Messages      []anthropicMessage `json:"messages"`
		Stream        bool               `json:"stream,omitempty"`
		Temperature   *float64           `json:"temperature,omitempty"`
		StopSequences []string           `json:"stop_sequences,omitempty"`
		Metadata      json.RawMessage    `json:"metadata,omitempty"`
		Tools         []anthropicTool    `json:"tools,omitempty"`
		ToolChoice    *struct {
			Type string `json:"type"`
			Name string `json:"name,omitempty"`
		} `json:"tool_choice,omitempty"`
	}
	anthropicTool struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		InputSchema json.RawMessage `json:"input_schema"`
	}
	anthropicMessage struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	anthropicBlock struct {
		Type   string           `json:"type"`
		Text   *string          `json:"text,omitempty"`
		Source *anthropicSource `json:"source,omitempty"`
	}
	anthropicSource struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
	}
)

// maxAnthropicBody is the Messages API's request size limit.
const maxAnthropicBody = 32 << 20

func (s *Server) anthropicMessages(w http.ResponseWriter, r *http.Request) {
	rec := Received{At: time.Now(), Header: r.Header.Clone()}
	status, typ, msg := s.validateAnthropic(r, &rec)
	if status != 0 {
		rec.Refused = msg
	}
	rep := s.next(rec)
	if status != 0 {
		anthropicFail(w, status, typ, msg, nil)
		return
	}
	wait(r.Context(), s.Latency+rep.Delay)
	if rep.Status != 0 && rep.Status != http.StatusOK {
		anthropicFail(w, rep.Status, rep.ErrorType, rep.Message, rep.Header)
		return
	}
	text := s.answer(rec, rep)
	in, out := s.usage(rec, text, AnthropicUsage)
	for k, vs := range rep.Header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("request-id", fmt.Sprintf("req_%d", time.Now().UnixNano()))
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	send := func(event string, data any) {
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		if fl != nil {
			fl.Flush()
		}
	}
	send("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": "msg_fake", "type": "message", "role": "assistant", "content": []any{}, "model": rec.Model,
		"stop_reason": nil, "stop_sequence": nil, "usage": map[string]any{"input_tokens": in, "output_tokens": 1},
	}})
	deltaType, deltaField, stop := "text_delta", "text", "end_turn"
	if rec.Schema != nil {
		// A forced tool: the answer is the tool's input, streamed as JSON.
		deltaType, deltaField, stop = "input_json_delta", "partial_json", "tool_use"
		send("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]any{"type": "tool_use", "id": "toolu_fake", "name": rec.SchemaName, "input": map[string]any{}}})
	} else {
		send("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]any{"type": "text", "text": ""}})
	}
	fmt.Fprint(w, "event: ping\ndata: {\"type\": \"ping\"}\n\n")
	for i, c := range chunks(text, 5) {
		if rep.Malformed && i == 1 {
			fmt.Fprint(w, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"oops\n\n")
			return
		}
		if rep.StreamError && i == 1 {
			send("error", map[string]any{"type": "error", "error": map[string]any{"type": rep.ErrorType, "message": rep.Message}})
			return
		}
		if rep.Truncated && i == 1 {
			return
		}
		send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": deltaType, deltaField: c}})
	}
	send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	send("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil}, "usage": map[string]any{"output_tokens": out}})
	send("message_stop", map[string]any{"type": "message_stop"})
}

func (s *Server) usage(rec Received, text string, rule func(Received, string) (int, int)) (int, int) {
	if s.Usage != nil {
		return s.Usage(rec, text)
	}
	return rule(rec, text)
}

// AnthropicUsage counts like Claude: text at four characters a token; a PDF
// page as its extracted text plus an image of the page (rendered at 150
// dpi, within 1568 px and 1.15 megapixels); an image by its pixels; and a
// few tokens of framing.
//
// A forced tool adds its definition's tokens and the 313 tokens of the
// tool-use system prompt Anthropic documents for tool_choice "tool".
func AnthropicUsage(r Received, answer string) (in, out int) {
	in = 8 + TextTokens(r.System) + TextTokens(r.Prompt)
	if r.Schema != nil {
		in += 313 + TextTokens(r.SchemaName) + TextTokens(string(r.Schema))
	}
	for _, p := range r.Parts {
		if p.MIME == "application/pdf" {
			w, h := PDFPageSize(p.Data)
			in += TextTokens(PDFText(p.Data)) + ClaudeImageTokens(w*150/72, h*150/72)
			continue
		}
		if w, h, err := imageSize(p.Data); err == nil {
			in += ClaudeImageTokens(float64(w), float64(h))
		}
	}
	return in, TextTokens(answer)
}

// validateAnthropic checks a request as the Messages API does and fills
// rec; it returns a non-zero status with the error type and message of a
// refusal.
func (s *Server) validateAnthropic(r *http.Request, rec *Received) (int, string, string) {
	switch key := r.Header.Get("x-api-key"); {
	case key == "":
		return http.StatusUnauthorized, "authentication_error", "x-api-key header is required"
	case key != s.APIKey:
		return http.StatusUnauthorized, "authentication_error", "invalid x-api-key"
	}
	if r.Header.Get("anthropic-version") == "" {
		return http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required"
	}
	if ct := r.Header.Get("content-type"); !strings.HasPrefix(ct, "application/json") {
		return http.StatusBadRequest, "invalid_request_error", "Content-Type must be application/json"
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAnthropicBody+1))
	if err != nil {
		return http.StatusBadRequest, "invalid_request_error", "could not read the body"
	}
	if len(body) > maxAnthropicBody {
		return http.StatusRequestEntityTooLarge, "request_too_large", "Request exceeds the maximum allowed number of bytes."
	}
	return anthropicParams(body, rec)
}

// anthropicParams checks the parameters of a Messages request (a request
// body, or the params of a Message Batch request) and fills rec.
func anthropicParams(body []byte, rec *Received) (int, string, string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req anthropicRequest
	if err := dec.Decode(&req); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return http.StatusBadRequest, "invalid_request_error", strings.Trim(f, `"`) + ": Extra inputs are not permitted"
		}
		return http.StatusBadRequest, "invalid_request_error", "There was an issue with your request body: " + err.Error()
	}
	rec.Model = req.Model
	switch {
	case req.Model == "":
		return http.StatusBadRequest, "invalid_request_error", "model: Field required"
	case req.MaxTokens == nil:
		return http.StatusBadRequest, "invalid_request_error", "max_tokens: Field required"
	case *req.MaxTokens < 1:
		return http.StatusBadRequest, "invalid_request_error", "max_tokens: Input should be greater than or equal to 1"
	case len(req.Messages) == 0:
		return http.StatusBadRequest, "invalid_request_error", "messages: at least one message is required"
	}
	if len(req.System) > 0 {
		// A string, or a list of text blocks.
		if err := json.Unmarshal(req.System, &rec.System); err != nil {
			var blocks []anthropicBlock
			if err := json.Unmarshal(req.System, &blocks); err != nil {
				return http.StatusBadRequest, "invalid_request_error", "system: Input should be a valid string or list of text blocks"
			}
			for _, b := range blocks {
				if b.Type != "text" || b.Text == nil {
					return http.StatusBadRequest, "invalid_request_error", "system: blocks must be text blocks"
				}
				rec.System += *b.Text
			}
		}
	}
	if msg := anthropicTools(req, rec); msg != "" {
		return http.StatusBadRequest, "invalid_request_error", msg
	}
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
		if i == 0 && m.Role != "user" {
			return http.StatusBadRequest, "invalid_request_error", "messages: first message must use the \"user\" role"
		}
		var text string
		if json.Unmarshal(m.Content, &text) == nil {
			rec.Prompt += text
			continue
		}
		cd := json.NewDecoder(bytes.NewReader(m.Content))
		cd.DisallowUnknownFields()
		var blocks []anthropicBlock
		if err := cd.Decode(&blocks); err != nil {
			return http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("messages.%d.content: %v", i, err)
		}
		for j, b := range blocks {
			at := fmt.Sprintf("messages.%d.content.%d", i, j)
			switch b.Type {
			case "text":
				if b.Text == nil || *b.Text == "" {
					return http.StatusBadRequest, "invalid_request_error", "messages: text content blocks must be non-empty"
				}
				rec.Prompt += *b.Text
			case "document", "image":
				p, msg := anthropicSourcePart(b)
				if msg != "" {
					return http.StatusBadRequest, "invalid_request_error", at + "." + msg
				}
				rec.Parts = append(rec.Parts, p)
			default:
				return http.StatusBadRequest, "invalid_request_error",
					fmt.Sprintf("%s.type: Input tag '%s' found using 'type' does not match any of the expected tags", at, b.Type)
			}
		}
	}
	return 0, "", ""
}

// anthropicTools checks the tools and tool_choice as the Messages API does
// and records the input_schema of the forced tool as rec.Schema.
func anthropicTools(req anthropicRequest, rec *Received) string {
	names := map[string]json.RawMessage{}
	for i, t := range req.Tools {
		if !schemaNameRE.MatchString(t.Name) {
			return fmt.Sprintf("tools.%d.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'", i)
		}
		var s map[string]any
		if json.Unmarshal(t.InputSchema, &s) != nil || s["type"] != "object" {
			return fmt.Sprintf("tools.%d.input_schema.type: Input should be 'object'", i)
		}
		names[t.Name] = t.InputSchema
	}
	if req.ToolChoice == nil {
		return ""
	}
	switch req.ToolChoice.Type {
	case "tool":
		s, ok := names[req.ToolChoice.Name]
		if !ok {
			return fmt.Sprintf("tool_choice.name: tool %q not found in tools", req.ToolChoice.Name)
		}
		rec.Schema, rec.SchemaName = s, req.ToolChoice.Name
	case "auto", "any", "none":
	default:
		return "tool_choice.type: Input tag '" + req.ToolChoice.Type + "' does not match any of the expected tags"
	}
	return ""
}

// anthropicSourcePart checks a document or image block's base64 source.
func anthropicSourcePart(b anthropicBlock) (Part, string) {
	if b.Source == nil {
		return Part{}, "source: Field required"
	}
	if b.Source.Type != "base64" {
		return Part{}, "source.type: only base64 sources are accepted by this fake"
	}
	data, err := decodeBase64(b.Source.Data)
	if err != nil {
		return Part{}, "source.data: invalid base64 data"
	}
	switch b.Type {
	case "document":
		if b.Source.MediaType != "application/pdf" {
			return Part{}, "source.media_type: Input should be 'application/pdf'"
		}
		if !bytes.HasPrefix(data, []byte("%PDF-")) {
			return Part{}, "source.data: The PDF specified was not valid."
		}
	case "image":
		switch b.Source.MediaType {
		case "image/jpeg", "image/png", "image/gif", "image/webp":
		default:
			return Part{}, "source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
		}
		if _, _, err := imageSize(data); err != nil {
			return Part{}, "source: Could not process image"
		}
	}
	return Part{MIME: b.Source.MediaType, Data: data}, ""
}

// anthropicFail writes an error the way the Messages API does.
func anthropicFail(w http.ResponseWriter, status int, typ, msg string, h http.Header) {
	if typ == "" {
		typ = map[int]string{429: "rate_limit_error", 500: "api_error", 529: "overloaded_error", 503: "api_error"}[status]
		if typ == "" {
			typ = "api_error"
		}
	}
	if msg == "" {
		msg = map[string]string{"overloaded_error": "Overloaded", "rate_limit_error": "Number of requests has exceeded your rate limit"}[typ]
		if msg == "" {
			msg = "Internal server error"
		}
	}
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", fmt.Sprintf("req_%d", time.Now().UnixNano()))
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}})
	_, _ = w.Write(b)
}
