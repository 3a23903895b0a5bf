package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mmq/mmq/schema"
	"github.com/mmq/mmq/tasks"
)

const (
	// maxSchemaFieldBytes bounds the multipart schema field, the one field
	// allowed past maxFieldBytes: twice a schema's bound, which is on the
	// compacted schema, leaves room for an indented file (curl -F
	// "schema=<file").
	maxSchemaFieldBytes = 2 * tasks.MaxSchemaBytes
	// maxSchemaDepth bounds how deeply a schema's JSON nests. Compiling
	// takes time quadratic in the depth (1000 levels of "items", 10 KB,
	// take 2 s), while a real schema nests a few dozen levels at most.
	maxSchemaDepth = 64
	// schemaCacheSize is how many compiled schemas the server keeps.
	schemaCacheSize = 256
)

// extractionOptions checks a request's instructions, schema and scope and
// sets them on opts. The provider must be set on opts already: only a
// model provider can follow them.
func (s *Server) extractionOptions(req *submitRequest, opts *tasks.Options) error {
	raw := bytes.TrimSpace(req.Schema)
	if len(raw) > tasks.MaxSchemaBytes {
		// The bound is on the schema, not on the indentation of the
		// request it came in.
		var b bytes.Buffer
		if json.Compact(&b, raw) == nil {
			raw = b.Bytes()
		}
	}
	switch {
	case len(req.Instructions) > tasks.MaxInstructionsBytes:
		return tasks.Errorf(tasks.CodeInvalidRequest, "instructions are %d bytes; the limit is %d", len(req.Instructions), tasks.MaxInstructionsBytes)
	case len(raw) > tasks.MaxSchemaBytes:
		return tasks.Errorf(tasks.CodeInvalidRequest, "the schema is %d bytes; the limit is %d", len(raw), tasks.MaxSchemaBytes)
	case !tasks.Scope(req.Scope).Valid():
		return tasks.Errorf(tasks.CodeInvalidRequest, `scope must be "page" or "document"`)
	}
	opts.Instructions, opts.Scope = req.Instructions, tasks.Scope(req.Scope)
	if len(raw) > 0 && string(raw) != "null" {
		sch, err := s.compileSchema(raw)
		if err != nil {
			var se *schema.Error
			if errors.As(err, &se) {
				return &tasks.Error{Code: tasks.CodeInvalidSchema, Message: "invalid schema: " + schemaMessage(se), Err: err}
			}
			return tasks.WrapError(tasks.CodeInvalidSchema, err, "invalid schema")
		}
		opts.Schema = sch.Raw
	}
	if !opts.Extracting() {
		return nil
	}
	ok := false
	if s.deps.Models != nil {
		var err error
		if ok, err = s.deps.Models.FollowsInstructions(opts.Provider); err != nil {
			return err
		}
	}
	if !ok {
		return tasks.Errorf(tasks.CodeProviderRequired,
			"instructions, a schema and scope document need a model provider; this job's analyzer is the local one")
	}
	return nil
}

// compileSchema compiles a client's schema, refusing one nested too deeply
// before the compiler sees it.
func (s *Server) compileSchema(raw []byte) (*schema.Schema, error) {
	if err := checkDepth(raw, maxSchemaDepth); err != nil {
		return nil, err
	}
	return s.schemas.Compile(raw)
}

// checkDepth returns a *schema.Error when raw nests objects and arrays more
// than max levels deep. It leaves other faults of raw to the compiler.
func checkDepth(raw []byte, max int) error {
	depth, inString, escaped := 0, false, false
	for _, c := range raw {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > max {
				return &schema.Error{Message: fmt.Sprintf("the schema nests more than %d levels deep", max)}
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// schemaMessage says what is wrong with a schema and where.
func schemaMessage(e *schema.Error) string {
	if e.Pointer == "" {
		return e.Message
	}
	return "at " + e.Pointer + ": " + e.Message
}

// schemaPointer is the JSON pointer of an invalid_schema error, for the
// error body's pointer field.
func schemaPointer(err error) string {
	var se *schema.Error
	if errors.As(err, &se) {
		return se.Pointer
	}
	return ""
}

// decodeSchemaField reads the multipart schema field: JSON text.
func decodeSchemaField(value string) (json.RawMessage, error) {
	if !json.Valid([]byte(value)) {
		return nil, tasks.Errorf(tasks.CodeInvalidSchema, "invalid schema: the schema field is not valid JSON")
	}
	return json.RawMessage(value), nil
}
