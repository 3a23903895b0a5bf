package providertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// NewOpenAI starts a fake Chat Completions API (POST /v1/chat/completions),
// with the Files and Batch APIs (see Batches), that accepts key; an empty
// key accepts requests without one, as local OpenAI-compatible servers do.
// The client's base URL is URL + "/v1".
func NewOpenAI(tb testing.TB, key string) *Server {
	return newServer(tb, key, func(s *Server) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /v1/chat/completions", s.openAIChat)
		s.openAIBatchRoutes(mux)
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			openAIFail(w, http.StatusNotFound, "invalid_request_error", "unknown_url", "Invalid URL ("+r.Method+" "+r.URL.Path+")", nil)
		})
		return mux
	})
}

// The request shape of Chat Completions, strict.
type (
	openAIRequest struct {
		Model               string          `json:"model"`
		Messages            []openAIMessage `json:"messages"`
		MaxTokens           *int            `json:"max_tokens,omitempty"`
		MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
		Stream              bool            `json:"stream,omitempty"`
		StreamOptions       *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options,omitempty"`
		Temperature    *float64 `json:"temperature,omitempty"`
		ResponseFormat *struct {
			Type       string `json:"type"`
			JSONSchema *struct {
				Name   string          `json:"name"`
				Schema json.RawMessage `json:"schema"`
				Strict *bool           `json:"strict,omitempty"`
			} `json:"json_schema,omitempty"`
		} `json:"response_format,omitempty"`
	}
	openAIMessage struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	openAIPart struct {
		Type     string `json:"type"`
		Text     string `json:"text,omitempty"`
		ImageURL *struct {
			URL    string `json:"url"`
			Detail string `json:"detail,omitempty"`
		} `json:"image_url,omitempty"`
	}
)

func (s *Server) openAIChat(w http.ResponseWriter, r *http.Request) {
	rec := Received{At: time.Now(), Header: r.Header.Clone()}
	status, typ, code, msg, usage := s.validateOpenAI(r, &rec)
	if status != 0 {
		rec.Refused = msg
	}
	rep := s.next(rec)
	if status != 0 {
		openAIFail(w, status, typ, code, msg, nil)
		return
	}
	wait(r.Context(), s.Latency+rep.Delay)
	if rep.Status != 0 && rep.Status != http.StatusOK {
		openAIFail(w, rep.Status, rep.ErrorType, "", rep.Message, rep.Header)
		return
	}
	text := s.answer(rec, rep)
	in, out := s.usage(rec, text, OpenAIUsage)
	for k, vs := range rep.Header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("x-request-id", fmt.Sprintf("req_%d", time.Now().UnixNano()))
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	created := time.Now().Unix()
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if fl != nil {
			fl.Flush()
		}
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": rec.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	send(chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	for i, c := range chunks(text, 5) {
		if rep.Malformed && i == 1 {
			fmt.Fprint(w, "data: {\"id\":\"chatcmpl-fake\",\"choices\":[{\"delta\":{\"content\":\"oo\n\n")
			return
		}
		if rep.StreamError && i == 1 {
			send(map[string]any{"error": map[string]any{"message": rep.Message, "type": rep.ErrorType, "code": nil}})
			return
		}
		if rep.Truncated && i == 1 {
			return
		}
		send(chunk(map[string]any{"content": c}, nil))
	}
	send(chunk(map[string]any{}, "stop"))
	if usage {
		send(map[string]any{"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": rec.Model,
			"choices": []any{}, "usage": map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out}})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

// OpenAIUsage counts like GPT-4o: text at four characters a token, three
// tokens of framing per message, and each image by its 512 px tiles.
//
// A response_format schema counts as its text.
func OpenAIUsage(r Received, answer string) (in, out int) {
	in = 3 + 3*2 + TextTokens(r.System) + TextTokens(r.Prompt) + TextTokens(string(r.Schema))
	for _, p := range r.Parts {
		if w, h, err := imageSize(p.Data); err == nil {
			in += GPTImageTokens(w, h)
		}
	}
	return in, TextTokens(answer)
}

// openAIStrictRefused are keywords strict mode answers "is not permitted"
// for.
var openAIStrictRefused = []string{"allOf", "oneOf", "not", "if", "then", "else", "patternProperties", "propertyNames",
	"minProperties", "maxProperties", "unevaluatedProperties", "unevaluatedItems", "minLength", "maxLength",
	"contains", "uniqueItems", "prefixItems", "dependentRequired", "dependentSchemas"}

// strictViolation checks a schema as strict structured outputs do and
// returns the API's complaint about the first node that breaks a rule, ""
// if none does: the root an object, not an anyOf; every object with
// additionalProperties false and every property required; no refused
// keyword; at most 10 levels of objects. path is the node's context in the
// API's notation.
func strictViolation(s map[string]any, path []string, depth int) string {
	ctx := "In context=("
	for i, p := range path {
		if i > 0 {
			ctx += ", "
		}
		ctx += "'" + p + "'"
	}
	ctx += "), "
	if len(path) == 0 && (s["type"] != "object" || s["anyOf"] != nil) {
		return ctx + "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"" + fmt.Sprint(s["type"]) + "\"'."
	}
	for _, k := range openAIStrictRefused {
		if _, ok := s[k]; ok {
			return ctx + "'" + k + "' is not permitted."
		}
	}
	props, hasProps := s["properties"].(map[string]any)
	if hasProps || s["type"] == "object" {
		if depth > 10 {
			return ctx + "exceeds the maximum of 10 levels of nesting."
		}
		if s["additionalProperties"] != false {
			return ctx + "'additionalProperties' is required to be supplied and to be false."
		}
		required := map[string]bool{}
		rs, _ := s["required"].([]any)
		for _, r := range rs {
			name, _ := r.(string)
			required[name] = true
		}
		for _, name := range sortedKeys(props) {
			if !required[name] {
				return ctx + "'required' is required to be supplied and to be an array including every key in properties. Missing '" + name + "'."
			}
		}
		for _, name := range sortedKeys(props) {
			if p, ok := props[name].(map[string]any); ok {
				if v := strictViolation(p, append(path[:len(path):len(path)], "properties", name), depth+1); v != "" {
					return v
				}
			}
		}
	}
	if it, ok := s["items"].(map[string]any); ok {
		if v := strictViolation(it, append(path[:len(path):len(path)], "items"), depth); v != "" {
			return v
		}
	}
	anyOf, _ := s["anyOf"].([]any)
	for i, a := range anyOf {
		if m, ok := a.(map[string]any); ok {
			if v := strictViolation(m, append(path[:len(path):len(path)], "anyOf", strconv.Itoa(i)), depth); v != "" {
				return v
			}
		}
	}
	defs, _ := s["$defs"].(map[string]any)
	for _, name := range sortedKeys(defs) {
		if m, ok := defs[name].(map[string]any); ok {
			if v := strictViolation(m, append(path[:len(path):len(path)], "$defs", name), depth); v != "" {
				return v
			}
		}
	}
	return ""
}

func sortedKeys(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}

// validateOpenAI checks a request as Chat Completions does and fills rec;
// it returns a non-zero status with the error's type, code and message for
// a refusal, and whether the usage chunk was asked for.
func (s *Server) validateOpenAI(r *http.Request, rec *Received) (status int, typ, code, msg string, usage bool) {
	if code, msg := s.openAIKey(r); msg != "" {
		return http.StatusUnauthorized, "invalid_request_error", code, msg, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		return http.StatusBadRequest, "invalid_request_error", "", "could not read the body", false
	}
	return openAIBody(body, rec)
}

// openAIKey checks a request's bearer key; a refusal's code and message
// when it is missing or wrong.
func (s *Server) openAIKey(r *http.Request) (code, msg string) {
	auth := r.Header.Get("Authorization")
	switch {
	case s.APIKey == "":
	case auth == "":
		return "", "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
	case auth != "Bearer "+s.APIKey:
		return "invalid_api_key", "Incorrect API key provided."
	}
	return "", ""
}

// openAIBody checks a Chat Completions request body (a request's, or a
// batch line's) and fills rec.
func openAIBody(body []byte, rec *Received) (status int, typ, code, msg string, usage bool) {
	invalid := func(m string) (int, string, string, string, bool) {
		return http.StatusBadRequest, "invalid_request_error", "", m, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req openAIRequest
	if err := dec.Decode(&req); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return http.StatusBadRequest, "invalid_request_error", "unknown_parameter", "Unrecognized request argument supplied: " + strings.Trim(f, `"`), false
		}
		return invalid("We could not parse the JSON body of your request.")
	}
	rec.Model = req.Model
	if rf := req.ResponseFormat; rf != nil {
		switch {
		case rf.Type == "json_schema" && (rf.JSONSchema == nil || rf.JSONSchema.Name == ""):
			return invalid("Missing required parameter: 'response_format.json_schema.name'.")
		case rf.Type == "json_schema" && !schemaNameRE.MatchString(rf.JSONSchema.Name):
			return invalid("Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' of at most 64 characters.")
		case rf.Type == "json_schema":
			var s map[string]any
			if len(rf.JSONSchema.Schema) == 0 {
				return invalid("Missing required parameter: 'response_format.json_schema.schema'.")
			}
			if json.Unmarshal(rf.JSONSchema.Schema, &s) != nil {
				return invalid("Invalid type for 'response_format.json_schema.schema': expected an object.")
			}
			rec.Schema, rec.SchemaName = rf.JSONSchema.Schema, rf.JSONSchema.Name
			rec.Strict = rf.JSONSchema.Strict != nil && *rf.JSONSchema.Strict
			if v := strictViolation(s, nil, 1); rec.Strict && v != "" {
				return invalid("Invalid schema for response_format '" + rf.JSONSchema.Name + "': " + v)
			}
		case rf.Type != "text" && rf.Type != "json_object":
			return invalid("Invalid value: '" + rf.Type + "'. Supported values are: 'json_object', 'json_schema', and 'text'.")
		}
	}
	switch {
	case req.Model == "":
		return invalid("you must provide a model parameter")
	case len(req.Messages) == 0:
		return invalid("[] is too short - 'messages'")
	case req.StreamOptions != nil && !req.Stream:
		return invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.")
	case req.MaxTokens != nil && *req.MaxTokens < 1:
		return invalid("Invalid 'max_tokens': integer below minimum value.")
	}
	for i, m := range req.Messages {
		switch m.Role {
		case "system", "developer", "user", "assistant":
		default:
			return invalid(fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", m.Role))
		}
		var text string
		if json.Unmarshal(m.Content, &text) == nil {
			if m.Role == "system" || m.Role == "developer" {
				rec.System += text
			} else {
				rec.Prompt += text
			}
			continue
		}
		pd := json.NewDecoder(bytes.NewReader(m.Content))
		pd.DisallowUnknownFields()
		var parts []openAIPart
		if err := pd.Decode(&parts); err != nil {
			return invalid(fmt.Sprintf("Invalid type for 'messages[%d].content': expected a string or an array of content parts.", i))
		}
		for j, p := range parts {
			switch p.Type {
			case "text":
				rec.Prompt += p.Text
			case "image_url":
				if m.Role != "user" {
					return invalid(fmt.Sprintf("Invalid 'messages[%d]': image_url is only supported for messages with role 'user'.", i))
				}
				if p.ImageURL == nil {
					return invalid(fmt.Sprintf("Missing required parameter: 'messages[%d].content[%d].image_url'.", i, j))
				}
				part, bad := dataURI(p.ImageURL.URL)
				if bad != "" {
					return invalid(bad)
				}
				rec.Parts = append(rec.Parts, part)
			default:
				return invalid(fmt.Sprintf("Invalid value: '%s'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', and 'file'.", p.Type))
			}
		}
	}
	return 0, "", "", "", req.StreamOptions != nil && req.StreamOptions.IncludeUsage
}

// dataURI decodes a base64 image data URI.
func dataURI(u string) (Part, string) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return Part{}, "Invalid image URL: this fake accepts data URIs only."
	}
	meta, b64, ok := strings.Cut(rest, ",")
	mime, isB64 := strings.CutSuffix(meta, ";base64")
	if !ok || !isB64 {
		return Part{}, "Invalid image URL: expected a base64 data URI."
	}
	switch mime {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
	default:
		return Part{}, "Invalid MIME type. Only image types are supported."
	}
	data, err := decodeBase64(b64)
	if err != nil {
		return Part{}, "Invalid base64 image_url."
	}
	if _, _, err := imageSize(data); err != nil {
		return Part{}, "You uploaded an unsupported image. Please make sure your image is valid."
	}
	return Part{MIME: mime, Data: data}, ""
}

// openAIFail writes an error the way the OpenAI API does.
func openAIFail(w http.ResponseWriter, status int, typ, code, msg string, h http.Header) {
	if typ == "" {
		typ = map[int]string{429: "requests", 500: "server_error", 502: "server_error", 503: "server_error"}[status]
	}
	if msg == "" {
		msg = map[int]string{429: "Rate limit reached for requests", 500: "The server had an error while processing your request. Sorry about that!",
			503: "The engine is currently overloaded, please try again later"}[status]
	}
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	var c any
	if code != "" {
		c = code
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": c}})
	_, _ = w.Write(b)
}
