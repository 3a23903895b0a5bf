package openapitest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
components:
  schemas:
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
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.respBody)
			}))
			defer srv.Close()
			rec := &recorder{TB: t}
			hc := &http.Client{Transport: spec.Transport(rec, http.DefaultTransport)}
			var body io.Reader
			if tt.reqBody != "" {
				body = strings.NewReader(tt.reqBody)
			}
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, body)
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(got) != tt.respBody {
				t.Errorf("body %q passed on as %q", tt.respBody, got)
			}
			switch {
			case tt.wantErr == "" && len(rec.errs) > 0:
				t.Errorf("reported %q, want nothing", rec.errs)
			case tt.wantErr != "" && (len(rec.errs) != 1 || !strings.Contains(rec.errs[0], tt.wantErr)):
				t.Errorf("reported %q, want one report naming %q", rec.errs, tt.wantErr)
			}
		})
	}
}
