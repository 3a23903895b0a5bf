package api

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/mmq/mmq/schema"
	"github.com/mmq/mmq/tasks"
)

// maxSchemaFieldBytes bounds the multipart schema field, the one field
// allowed past maxFieldBytes.
const maxSchemaFieldBytes = tasks.MaxSchemaBytes

// extractionOptions checks a request's instructions, schema and scope and
// sets them on opts. The provider must be set on opts already: only a
// model provider can follow them.
func (s *Server) extractionOptions(req *submitRequest, opts *tasks.Options) error {
	switch {
	case len(req.Instructions) > tasks.MaxInstructionsBytes:
		return tasks.Errorf(tasks.CodeInvalidRequest, "instructions are %d bytes; the limit is %d", len(req.Instructions), tasks.MaxInstructionsBytes)
	case len(req.Schema) > tasks.MaxSchemaBytes:
		return tasks.Errorf(tasks.CodeInvalidRequest, "the schema is %d bytes; the limit is %d", len(req.Schema), tasks.MaxSchemaBytes)
	case !tasks.Scope(req.Scope).Valid():
		return tasks.Errorf(tasks.CodeInvalidRequest, `scope must be "page" or "document"`)
	}
	opts.Instructions, opts.Scope = req.Instructions, tasks.Scope(req.Scope)
	if raw := bytes.TrimSpace(req.Schema); len(raw) > 0 && string(raw) != "null" {
		sch, err := schema.Compile(raw, tasks.MaxSchemaBytes)
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
