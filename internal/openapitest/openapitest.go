// Package openapitest holds an HTTP API to its OpenAPI description in
// tests: a transport that validates every request a test sends and every
// response it gets, and fails the test on a mismatch.
//
// A request the description does not allow (the tests send many on
// purpose) must be refused: its response must be a 4xx that matches the
// description. A request the description allows must get a response it
// describes, status, headers and body. A path the description does not
// know must get the description's 404 error body.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// MaxRequestBody bounds the request body the transport keeps to validate;
// a larger one (the upload limit tests) is sent unvalidated.
const MaxRequestBody = 32 << 20

// Spec is a loaded OpenAPI description.
type Spec struct {
	Doc    *openapi3.T
	router routers.Router
	// errSchema is the error body's schema, for the paths Doc lacks.
	errSchema *openapi3.Schema
}

// Load parses and validates an OpenAPI description (YAML or JSON).
// errorSchema names the component schema of the error body.
func Load(data []byte, errorSchema string) (*Spec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("openapitest: load: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapitest: invalid description: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapitest: router: %w", err)
	}
	ref := doc.Components.Schemas[errorSchema]
	if ref == nil {
		return nil, fmt.Errorf("openapitest: no component schema %q", errorSchema)
	}
	return &Spec{Doc: doc, router: router, errSchema: ref.Value}, nil
}

// Operations returns "METHOD /path" for every operation of the description.
func (s *Spec) Operations() []string {
	var ops []string
	for path, item := range s.Doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	return ops
}

// Transport returns a RoundTripper that sends through base and reports,
// with t.Errorf, every exchange that does not match the description.
// Event streams (text/event-stream) are checked for their status and
// content type and passed through unread.
func (s *Spec) Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	return &transport{spec: s, t: t, base: base}
}

type transport struct {
	spec *Spec
	t    testing.TB
	base http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body *teeBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &teeBody{r: req.Body}
		req = req.Clone(req.Context())
		req.Body = body
	}
	resp, err := tr.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if isEventStream(resp) {
		if err := tr.spec.checkStream(req, resp); err != nil {
			tr.t.Errorf("openapi: %s %s: %v", req.Method, req.URL.Path, err)
		}
		return resp, nil
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	var sent []byte
	complete := body == nil
	if body != nil {
		sent, complete = body.captured()
	}
	if err := tr.spec.check(req, sent, complete, resp, data); err != nil {
		tr.t.Errorf("openapi: %s %s → %d: %v\nresponse body: %.2000s", req.Method, req.URL.RequestURI(), resp.StatusCode, err, data)
	}
	return resp, nil
}

// check validates one exchange. The request is validated only when its
// whole body was kept (complete).
func (s *Spec) check(req *http.Request, sent []byte, complete bool, resp *http.Response, data []byte) error {
	ctx := context.Background()
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		// A path or method the description lacks: the API's 404.
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			return fmt.Errorf("no operation in the description (%v), yet the answer is not 404", err)
		}
		return s.checkErrorBody(resp, data)
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		MultiError:         true,
		// A request without a body the description needs is the
		// request's fault, which the answer must then report.
		IncludeResponseStatus: true,
	}
	reqIn := &openapi3filter.RequestValidationInput{
		Request: req.Clone(ctx), PathParams: params, Route: route, Options: opts,
	}
	reqValid := true
	if complete {
		reqIn.Request.Body = io.NopCloser(bytes.NewReader(sent))
		reqValid = openapi3filter.ValidateRequest(ctx, reqIn) == nil
	} else {
		opts.ExcludeRequestBody = true
		reqIn.Request.Body = http.NoBody
		reqValid = openapi3filter.ValidateRequest(ctx, reqIn) == nil
	}
	if !reqValid && (resp.StatusCode < 400 || resp.StatusCode > 499) {
		err := openapi3filter.ValidateRequest(ctx, reqIn)
		return fmt.Errorf("the request does not match the description, yet the answer is not a 4xx: %w", err)
	}
	respIn := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: reqIn,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                opts,
	}
	respIn.SetBodyBytes(data)
	return openapi3filter.ValidateResponse(ctx, respIn)
}

// checkStream validates an event stream's status and headers.
func (s *Spec) checkStream(req *http.Request, resp *http.Response) error {
	ctx := context.Background()
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("an event stream on a path the description lacks: %w", err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, ExcludeResponseBody: true, IncludeResponseStatus: true}
	respIn := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(ctx, respIn); err != nil {
		return err
	}
	if route.Operation.Responses.Status(resp.StatusCode).Value.Content.Get("text/event-stream") == nil {
		return errors.New("an event stream where the description has none")
	}
	return nil
}

// checkErrorBody validates an answer as the description's error body.
func (s *Spec) checkErrorBody(resp *http.Response, data []byte) error {
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct != "application/json" {
		return fmt.Errorf("error answer of content type %q, want application/json", ct)
	}
	v, err := decodeJSON(data)
	if err != nil {
		return fmt.Errorf("error answer: %w", err)
	}
	return s.errSchema.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

func decodeJSON(data []byte) (any, error) {
	var v any
	err := json.Unmarshal(data, &v)
	return v, err
}

func isEventStream(resp *http.Response) bool {
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return ct == "text/event-stream"
}

// teeBody keeps what the transport reads of a request body, up to
// MaxRequestBody, and whether it read all of it.
type teeBody struct {
	r    io.ReadCloser
	mu   sync.Mutex
	buf  bytes.Buffer
	over bool
	eof  bool
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.mu.Lock()
	if !b.over {
		if b.buf.Len()+n > MaxRequestBody {
			b.over = true
			b.buf = bytes.Buffer{}
		} else {
			b.buf.Write(p[:n])
		}
	}
	if err == io.EOF {
		b.eof = true
	}
	b.mu.Unlock()
	return n, err
}

func (b *teeBody) Close() error { return b.r.Close() }

// captured returns the body read and whether it is the whole body.
func (b *teeBody) captured() ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes()), b.eof && !b.over
}

func init() {
	// The description's text answers besides JSON.
	openapi3filter.RegisterBodyDecoder("text/markdown", openapi3filter.PlainBodyDecoder)
}
