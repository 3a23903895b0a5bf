// Package providertest runs fake model APIs for tests and benchmarks: HTTP
// servers that speak Anthropic's Messages API and OpenAI's Chat
// Completions, streaming, validate requests the way the real services do
// and answer from a script: errors with their real bodies and headers, slow
// or garbled answers, or a normal answer with usage.
package providertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // decode the JPEG frames clients send
	_ "image/png"  // decode the PNG pages clients send
	"math"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Reply scripts one answer of a Server.
type Reply struct {
	// Status is the HTTP status; 0 means 200 with a streamed answer.
	Status int
	// ErrorType and Message make the error body of a non-200 Status, or of
	// an error event inside a 200 stream when StreamError is set.
	ErrorType   string
	Message     string
	StreamError bool
	// Header is added to the response (retry-after, rate-limit headers).
	Header http.Header
	// Delay comes before the response headers; a slow provider.
	Delay time.Duration
	// Malformed breaks the JSON of an event in the middle of the stream.
	Malformed bool
	// Truncated ends the stream before its final event.
	Truncated bool
	// Text replaces the answer Server.Answer would give.
	Text string
}

// Part is an attachment a Server received.
type Part struct {
	MIME string
	Data []byte
}

// Received is one request a Server accepted or refused.
type Received struct {
	At     time.Time
	Header http.Header
	Model  string
	System string
	Prompt string
	Parts  []Part
	// Schema is the JSON Schema the answer must follow: the input_schema
	// of the tool an Anthropic request forces, or an OpenAI request's
	// response_format json_schema; SchemaName its name and Strict (OpenAI)
	// whether strict mode was asked for. Nil without one.
	Schema     json.RawMessage
	SchemaName string
	Strict     bool
	// Refused is the validation error the server answered with, if any.
	Refused string
}

// Server is a fake provider. Set its fields before the first request.
type Server struct {
	*httptest.Server
	// APIKey is the key requests must carry.
	APIKey string
	// Latency delays every answer before its headers, as a model's queue
	// and prefill would.
	Latency time.Duration
	// Answer returns the text of a normal answer. Defaults to a
	// deterministic summary of about 1,200 characters.
	Answer func(Received) string
	// Usage returns the input and output tokens reported for a normal
	// answer. Defaults to the provider's documented counting rules (see
	// AnthropicUsage and OpenAIUsage).
	Usage func(r Received, answer string) (in, out int)
	// Faults, if set, picks the reply of every valid request the script
	// leaves to the server: a chaos test injects errors, rate limits and
	// stalls at random or by request with it. The zero Reply is a normal
	// answer. It is called from the requests' goroutines, concurrently.
	Faults func(Received) Reply
	// Batches is the server's batch API.
	Batches Batches

	mu       sync.Mutex
	script   []Reply
	received []Received
}

// Script queues replies, used one per request in order; when the script is
// empty the server answers normally (or as Faults says).
func (s *Server) Script(rs ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, rs...)
}

// Requests returns what the server received so far.
func (s *Server) Requests() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Count returns the number of requests received.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.received)
}

// next records r and returns the reply to give it.
func (s *Server) next(r Received) Reply {
	s.mu.Lock()
	s.received = append(s.received, r)
	if r.Refused != "" {
		s.mu.Unlock()
		return Reply{}
	}
	if len(s.script) > 0 {
		rep := s.script[0]
		s.script = s.script[1:]
		s.mu.Unlock()
		return rep
	}
	s.mu.Unlock()
	if s.Faults != nil {
		return s.Faults(r)
	}
	return Reply{}
}

func newServer(tb testing.TB, key string, h func(s *Server) http.Handler) *Server {
	tb.Helper()
	s := &Server{APIKey: key}
	s.Server = httptest.NewServer(h(s))
	tb.Cleanup(s.Close)
	return s
}

// wait sleeps d or until the request is gone.
func wait(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (s *Server) answer(r Received, rep Reply) string {
	if rep.Text != "" {
		return rep.Text
	}
	if s.Answer != nil {
		return s.Answer(r)
	}
	if r.Schema != nil {
		return SchemaAnswer(r.Schema)
	}
	return DefaultAnswer(r)
}

// SchemaAnswer is a deterministic JSON value shaped by a schema, as a model
// following it would answer, that validates against simple schemas: every
// property (required or not) with a value of its type, a const or an
// enum's first value, the first choice of an anyOf or oneOf, arrays of
// minItems (at least one) items, numbers and strings within their bounds,
// the common formats, and local $refs followed. A schema that is not JSON
// gets "{}".
func SchemaAnswer(schema json.RawMessage) string {
	var root map[string]any
	if json.Unmarshal(schema, &root) != nil {
		return "{}"
	}
	b, _ := json.Marshal(schemaValue(root, root, 0))
	return string(b)
}

// schemaValue is SchemaAnswer's value for the node v of the schema root.
func schemaValue(root map[string]any, v any, depth int) any {
	m, _ := v.(map[string]any)
	if m == nil || depth > 16 {
		return nil
	}
	if ref, ok := m["$ref"].(string); ok {
		return schemaValue(root, resolveRef(root, ref), depth+1)
	}
	if c, ok := m["const"]; ok {
		return c
	}
	if e, ok := m["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		if alts, ok := m[k].([]any); ok && len(alts) > 0 {
			return schemaValue(root, alts[0], depth+1)
		}
	}
	t, _ := m["type"].(string)
	if ts, ok := m["type"].([]any); ok {
		// A nullable type: the value, not the null.
		for _, x := range ts {
			if x, _ := x.(string); x != "null" && t == "" {
				t = x
			}
		}
	}
	if t == "" && m["properties"] != nil {
		t = "object"
	}
	num := func(def float64) float64 {
		if lo, ok := m["minimum"].(float64); ok && def < lo {
			def = lo
		}
		if lo, ok := m["exclusiveMinimum"].(float64); ok && def <= lo {
			def = lo + 1
		}
		if hi, ok := m["maximum"].(float64); ok && def > hi {
			def = hi
		}
		if hi, ok := m["exclusiveMaximum"].(float64); ok && def >= hi {
			def = hi - 1
		}
		return def
	}
	switch t {
	case "object":
		out := map[string]any{}
		props, _ := m["properties"].(map[string]any)
		for name, p := range props {
			out[name] = schemaValue(root, p, depth+1)
		}
		return out
	case "array":
		n := 1
		if lo, ok := m["minItems"].(float64); ok && int(lo) > n {
			n = int(lo)
		}
		items := make([]any, n)
		for i := range items {
			items[i] = schemaValue(root, m["items"], depth+1)
		}
		return items
	case "string":
		return schemaString(m)
	case "integer":
		return int(math.Ceil(num(1)))
	case "number":
		return num(1.5)
	case "boolean":
		return true
	}
	return nil
}

// schemaString is a string for a string schema: its format's example, or
// "text" padded to minLength.
func schemaString(m map[string]any) string {
	s := map[string]string{"date": "2024-01-31", "date-time": "2024-01-31T12:00:00Z", "time": "12:00:00",
		"email": "someone@example.com", "uri": "https://example.com/", "uuid": "123e4567-e89b-12d3-a456-426614174000"}[fmt.Sprint(m["format"])]
	if s == "" {
		s = "text"
	}
	if lo, ok := m["minLength"].(float64); ok && utf8.RuneCountInString(s) < int(lo) {
		s += strings.Repeat("x", int(lo)-utf8.RuneCountInString(s))
	}
	return s
}

// resolveRef returns the node a local reference ("#/$defs/line") points
// to, nil if it is not one.
func resolveRef(root map[string]any, ref string) any {
	path, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil
	}
	var node any = root
	for _, seg := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		if seg == "" {
			continue
		}
		m, _ := node.(map[string]any)
		node = m[strings.NewReplacer("~1", "/", "~0", "~").Replace(seg)]
	}
	return node
}

// DefaultAnswer is a deterministic JSON answer of about 1,200 characters
// (300 tokens) that names the request's model and prompt.
func DefaultAnswer(r Received) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"summary":"Answer of %s to a %d-part request.","key_points":[`, r.Model, len(r.Parts))
	for i := 0; b.Len() < 1150; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"point %d of the page, stated in a sentence of ordinary length"`, i+1)
	}
	b.WriteString("]}")
	return b.String()
}

// chunks splits s into about n pieces, on rune boundaries.
func chunks(s string, n int) []string {
	if s == "" {
		return nil
	}
	size := max(len(s)/n, 1)
	var out []string
	for len(s) > 0 {
		i := min(size, len(s))
		for i < len(s) && !utf8.RuneStart(s[i]) {
			i++
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return out
}

// TextTokens counts tokens the way the fakes do: a token per four
// characters, rounded up.
func TextTokens(s string) int { return (utf8.RuneCountInString(s) + 3) / 4 }

// PDFText extracts a PDF's text with pdftotext, "" if it cannot.
func PDFText(pdf []byte) string {
	cmd := exec.Command("pdftotext", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// schemaNameRE is what both APIs take as a tool's or a response format's
// name.
var schemaNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

var pageSizeRE = regexp.MustCompile(`Page size:\s+([\d.]+) x ([\d.]+) pts`)

// PDFPageSize returns the first page's size in points, with pdfinfo;
// letter size if it cannot tell.
func PDFPageSize(pdf []byte) (w, h float64) {
	cmd := exec.Command("pdfinfo", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, _ := cmd.Output()
	if m := pageSizeRE.FindSubmatch(out); m != nil {
		w, _ = strconv.ParseFloat(string(m[1]), 64)
		h, _ = strconv.ParseFloat(string(m[2]), 64)
		if w > 0 && h > 0 {
			return w, h
		}
	}
	return 612, 792
}

// ClaudeImageTokens is Anthropic's documented image cost: width × height /
// 750, after the image is scaled to fit a 1568 px long side and 1.15
// megapixels.
func ClaudeImageTokens(w, h float64) int {
	if long := max(w, h); long > 1568 {
		w, h = w*1568/long, h*1568/long
	}
	if area := w * h; area > 1.15e6 {
		f := math.Sqrt(1.15e6 / area)
		w, h = w*f, h*f
	}
	return int(math.Ceil(w * h / 750))
}

// GPTImageTokens is OpenAI's documented cost of an image at detail "high"
// (what "auto" picks for large images): scale to fit 2048×2048, then the
// short side to 768, then 170 tokens per 512 px tile plus 85.
func GPTImageTokens(w, h int) int {
	fw, fh := float64(w), float64(h)
	if long := max(fw, fh); long > 2048 {
		fw, fh = fw*2048/long, fh*2048/long
	}
	if short := min(fw, fh); short > 768 {
		fw, fh = fw*768/short, fh*768/short
	}
	tiles := int(math.Ceil(fw/512)) * int(math.Ceil(fh/512))
	return 85 + 170*tiles
}

// imageSize decodes an image's dimensions.
func imageSize(data []byte) (int, int, error) {
	c, _, err := image.DecodeConfig(bytes.NewReader(data))
	return c.Width, c.Height, err
}

// decodeBase64 decodes standard base64 as the providers do, refusing
// anything else.
func decodeBase64(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	return base64.StdEncoding.DecodeString(s)
}
