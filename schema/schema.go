// Package schema compiles the JSON Schemas clients send with their jobs and
// validates model answers against them, with
// github.com/santhosh-tekuri/jsonschema/v6 (draft 2020-12).
//
// A client's schema is untrusted: Compile refuses every $ref that leaves the
// document (no file, no network), a schema larger than the caller's bound,
// and one whose top is not an object schema. A [Cache] keeps each compiled
// schema by its SHA-256, so the pages of a job (and jobs of a batch) compile
// it once per process.
package schema

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Schema is a compiled JSON Schema.
type Schema struct {
	// Raw is the schema as the client sent it, compacted.
	Raw json.RawMessage
	// Sum is the hex SHA-256 of Raw.
	Sum string
	s   *jsonschema.Schema
}

// Error says why a schema does not compile: the validator's message and the
// JSON pointer, within the schema, of what is wrong.
type Error struct {
	Pointer string
	Message string
}

func (e *Error) Error() string {
	if e.Pointer == "" {
		return "schema: " + e.Message
	}
	return fmt.Sprintf("schema: at %s: %s", e.Pointer, e.Message)
}

// Issue is one reason an answer does not validate: where in the answer (a
// JSON pointer, "" for the top) and what.
type Issue struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// MismatchError lists why an answer does not validate.
type MismatchError struct {
	Issues []Issue
}

func (e *MismatchError) Error() string {
	var b strings.Builder
	b.WriteString("the answer does not match the schema: ")
	for i, is := range e.Issues {
		if i > 0 {
			b.WriteString("; ")
		}
		p := is.Pointer
		if p == "" {
			p = "/"
		}
		b.WriteString(p + ": " + is.Message)
	}
	return b.String()
}

// maxIssues bounds the issues an answer's validation reports.
const maxIssues = 20

// resourceURL names the client's schema inside the compiler.
const resourceURL = "mmq:///schema.json"

// errNoLoad refuses every external reference.
var errNoLoad = errors.New("external $ref is not allowed: a schema must be self-contained")

type noLoader struct{}

func (noLoader) Load(url string) (any, error) { return nil, errNoLoad }

// Compile compiles raw, which must be at most maxBytes long (0: no bound),
// be a JSON object, and describe objects at its top ("type": "object").
func Compile(raw []byte, maxBytes int) (*Schema, error) {
	if maxBytes > 0 && len(raw) > maxBytes {
		return nil, &Error{Message: fmt.Sprintf("the schema is %d bytes; the limit is %d", len(raw), maxBytes)}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, &Error{Message: "the schema is not valid JSON: " + err.Error()}
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, &Error{Message: "the schema must be a JSON object"}
	}
	if !topIsObject(obj["type"]) {
		return nil, &Error{Pointer: "/type", Message: `the top of the schema must be "type": "object"`}
	}
	if v, ok := obj["$schema"].(string); ok && !strings.Contains(v, "2020-12") {
		return nil, &Error{Pointer: "/$schema", Message: fmt.Sprintf("only draft 2020-12 is accepted, not %q", v)}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	if err := c.AddResource(resourceURL, doc); err != nil {
		return nil, &Error{Message: err.Error()}
	}
	s, err := c.Compile(resourceURL)
	if err != nil {
		return nil, compileError(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, &Error{Message: "the schema is not valid JSON: " + err.Error()}
	}
	sum := sha256.Sum256(buf.Bytes())
	return &Schema{Raw: buf.Bytes(), Sum: hex.EncodeToString(sum[:]), s: s}, nil
}

func topIsObject(t any) bool {
	switch t := t.(type) {
	case string:
		return t == "object"
	case []any:
		return len(t) == 1 && t[0] == "object"
	}
	return false
}

// compileError turns the compiler's error into an *Error with a pointer.
func compileError(err error) *Error {
	var sve *jsonschema.SchemaValidationError
	if errors.As(err, &sve) {
		var ve *jsonschema.ValidationError
		if errors.As(sve.Err, &ve) {
			if is := issues(ve); len(is) > 0 {
				return &Error{Pointer: cmpPointer(is[0].Pointer), Message: is[0].Message}
			}
		}
		return &Error{Message: sve.Err.Error()}
	}
	var le *jsonschema.LoadURLError
	if errors.As(err, &le) {
		return &Error{Message: fmt.Sprintf("cannot load %q: %v", strings.TrimPrefix(le.URL, resourceURL), errNoLoad)}
	}
	msg := strings.ReplaceAll(err.Error(), resourceURL, "")
	return &Error{Message: msg}
}

func cmpPointer(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// Validate checks a JSON answer. Its error is a *MismatchError when the
// answer is JSON that does not validate, or says the answer is not JSON.
func (s *Schema) Validate(answer []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(answer))
	if err != nil {
		return &MismatchError{Issues: []Issue{{Message: "the answer is not valid JSON"}}}
	}
	return s.ValidateValue(v)
}

// ValidateValue checks an answer decoded by jsonschema.UnmarshalJSON (or
// encoding/json with UseNumber).
func (s *Schema) ValidateValue(v any) error {
	err := s.s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		return &MismatchError{Issues: issues(ve)}
	}
	return &MismatchError{Issues: []Issue{{Message: err.Error()}}}
}

// issues flattens a validation error into its leaf causes, in order, at
// most maxIssues: the parents ("allOf failed", "validation failed") say
// nothing the leaves do not.
func issues(ve *jsonschema.ValidationError) []Issue {
	var is []Issue
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(is) >= maxIssues {
			return
		}
		if len(e.Causes) == 0 {
			is = append(is, Issue{Pointer: pointer(e.InstanceLocation), Message: e.ErrorKind.LocalizedString(printer)})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return slices.CompactFunc(is, func(a, b Issue) bool { return a == b })
}

// printer renders the validator's messages.
var printer = message.NewPrinter(language.English)

// pointer is the JSON pointer (RFC 6901) of a path.
func pointer(path []string) string {
	var b strings.Builder
	for _, p := range path {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(p))
	}
	return b.String()
}

// Cache keeps compiled schemas by the SHA-256 of their text, bounded: past
// its size it forgets everything and starts over, which costs a compile.
type Cache struct {
	// MaxBytes bounds the schemas Compile takes; 0 means no bound.
	MaxBytes int
	// Size bounds the entries kept. Defaults to 1024.
	Size int

	mu sync.Mutex
	m  map[[32]byte]*Schema
}

// Compile returns raw compiled, from the cache when it was compiled before.
func (c *Cache) Compile(raw []byte) (*Schema, error) {
	key := sha256.Sum256(raw)
	c.mu.Lock()
	s, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := Compile(raw, c.MaxBytes)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	size := c.Size
	if size <= 0 {
		size = 1024
	}
	if c.m == nil || len(c.m) >= size {
		c.m = make(map[[32]byte]*Schema)
	}
	c.m[key] = s
	return s, nil
}
