package openapitest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mmq/mmq/internal/openapitest"
)

const description = `
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /things:
    get:
      parameters:
        - {name: limit, in: query, schema: {type: integer, maximum: 10}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/List"}
        default:
          description: error
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Error"}
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              required: [name]
              properties: {name: {type: string}}
      responses:
        "201":
          description: made
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Made"}
        default:
          description: error
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Error"}
  /events:
    get:
      responses:
        "200":
          description: events
          content:
            text/event-stream:
              schema: {type: string}
              x-events: {tick: Tick, error: Error}
components:
  schemas:
    Tick:
      type: object
      required: [n]
      properties: {n: {type: integer}}
    Error:
      type: object
      additionalProperties: false
      required: [error]
      properties:
        error: {type: string}
    List:
      type: object
      additionalProperties: false
      required: [things]
      properties:
        things: {type: array, items: {type: string}}
        any: {type: [object, array, string, number, boolean, "null"]}
    Thing:
      type: object
      properties: {name: {type: string}}
    Made:
      allOf: [{$ref: "#/components/schemas/Thing"}]
      properties: {id: {type: string}}
      unevaluatedProperties: false
`

// recorder is a testing.TB that keeps what the transport reports.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// exchange sends req, whose URL is a path, through spec's transport to a
// server that answers status, contentType and respBody, checks the body
// is passed on whole, and returns what the transport reported.
func exchange(t *testing.T, spec *openapitest.Spec, req *http.Request, status int, contentType, respBody string) *recorder {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		io.WriteString(w, respBody)
	}))
	defer srv.Close()
	u, err := url.Parse(srv.URL + req.URL.String())
	if err != nil {
		t.Fatal(err)
	}
	req.URL, req.Host = u, u.Host
	rec := &recorder{TB: t}
	hc := &http.Client{Transport: spec.Transport(rec, http.DefaultTransport)}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != respBody {
		t.Errorf("body %q passed on as %q", respBody, got)
	}
	return rec
}

// want fails t unless the transport reported nothing (wantErr "") or one
// mismatch naming wantErr.
func (r *recorder) want(t *testing.T, wantErr string) {
	t.Helper()
	switch {
	case wantErr == "" && len(r.errs) > 0:
		t.Errorf("reported %q, want nothing", r.errs)
	case wantErr != "" && (len(r.errs) != 1 || !strings.Contains(r.errs[0], wantErr)):
		t.Errorf("reported %q, want one report naming %q", r.errs, wantErr)
	}
}

func TestTransport(t *testing.T) {
	spec, err := openapitest.Load([]byte(description), "Error")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, reqBody string
		status                      int
		respBody                    string
		wantErr                     string
	}{
		{"valid", "GET", "/things", "", 200, `{"things":["a"],"any":null}`, ""},
		{"null array", "GET", "/things", "", 200, `{"things":null}`, "things"},
		{"extra property", "GET", "/things", "", 200, `{"things":[],"more":1}`, "more"},
		{"refused bad request", "GET", "/things?limit=99", "", 400, `{"error":"limit"}`, ""},
		{"accepted bad request", "GET", "/things?limit=99", "", 200, `{"things":[]}`, "not a 4xx"},
		{"bad error body", "GET", "/things", "", 500, `{"message":"x"}`, "error"},
		{"body outside the schema", "POST", "/things", `{"name":"a","x":1}`, 201, `{"id":"1"}`, "not a 4xx"},
		{"composed", "POST", "/things", `{"name":"a"}`, 201, `{"id":"1","name":"a"}`, ""},
		{"composed, extra", "POST", "/things", `{"name":"a"}`, 201, `{"id":"1","extra":true}`, "extra"},
		{"unknown path, 404", "GET", "/nope", "", 404, `{"error":"no"}`, ""},
		{"unknown path, 200", "GET", "/nope", "", 200, `{}`, "not 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.reqBody != "" {
				body = strings.NewReader(tt.reqBody)
			}
			req, _ := http.NewRequest(tt.method, tt.path, body)
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			rec := exchange(t, spec, req, tt.status, "application/json", tt.respBody)
			rec.want(t, tt.wantErr)
		})
	}
}

func TestTransportEventStream(t *testing.T) {
	spec, err := openapitest.Load([]byte(description), "Error")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, stream, wantErr string }{
		{"valid", "id: 1\nevent: tick\ndata: {\"n\":1}\n\n: keep-alive\n\nevent: error\ndata: {\"error\":\"x\"}\n\n", ""},
		{"unknown type", "event: tock\ndata: {\"n\":1}\n\n", `"tock"`},
		{"data off the schema", "event: tick\ndata: {\"n\":\"one\"}\n\n", "tick"},
		{"data not JSON", "event: tick\ndata: {\n\n", "tick"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "/events", nil)
			rec := exchange(t, spec, req, http.StatusOK, "text/event-stream", tt.stream)
			rec.want(t, tt.wantErr)
		})
	}
}
