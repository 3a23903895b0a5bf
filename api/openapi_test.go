package api_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/internal/openapitest"
	"github.com/mmq/mmq/tasks"
)

// spec is the API's description, loaded once for every test's transport.
var spec = sync.OnceValues(func() (*openapitest.Spec, error) {
	return openapitest.Load(api.OpenAPIYAML, "Error")
})

func loadSpec(t *testing.T) *openapitest.Spec {
	t.Helper()
	s, err := spec()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Every route of the server is an operation of the description, and every
// operation a route.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	b := setup(t)
	s := loadSpec(t)
	routes := b.srv.Routes()
	ops := s.Operations()
	slices.Sort(routes)
	slices.Sort(ops)
	for _, r := range routes {
		if !slices.Contains(ops, r) {
			t.Errorf("route %q has no operation in api/openapi.yaml", r)
		}
	}
	for _, op := range ops {
		if !slices.Contains(routes, op) {
			t.Errorf("operation %q of api/openapi.yaml has no route", op)
		}
	}
	t.Logf("%d operations in the description, %d routes in the router", len(ops), len(routes))
}

// The description's ErrorCode enum is exactly the codes tasks declares.
func TestOpenAPIErrorCodesAreTasksCodes(t *testing.T) {
	s := loadSpec(t)
	var enum []string
	for _, v := range s.Doc.Components.Schemas["ErrorCode"].Value.Enum {
		enum = append(enum, v.(string))
	}
	codes := tasksCodes(t)
	slices.Sort(enum)
	slices.Sort(codes)
	if !slices.Equal(enum, codes) {
		t.Errorf("ErrorCode enum of api/openapi.yaml\n%v\nwant the codes of package tasks\n%v", enum, codes)
	}
}

// tasksCodes parses package tasks for its constants of type Code.
func tasksCodes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../tasks/*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var codes []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, sp := range gd.Specs {
				vs := sp.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok {
						t.Fatalf("a Code constant that is not a string literal: %v", v)
					}
					c, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					codes = append(codes, c)
				}
			}
		}
	}
	if len(codes) < 30 {
		t.Fatalf("found only %d codes in package tasks", len(codes))
	}
	return codes
}

// GET /openapi.json serves the description as JSON, with an ETag that
// answers If-None-Match with 304.
func TestOpenAPIServedWithETag(t *testing.T) {
	b := setup(t)
	resp, body := b.do(t, "GET", "/openapi.json", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Paths["/v1/jobs"]["post"] == nil {
		t.Errorf("openapi %q, paths %d: not the description", doc.OpenAPI, len(doc.Paths))
	}
	if _, err := openapitest.Load(body, "Error"); err != nil {
		t.Errorf("the served JSON does not load: %v", err)
	}
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
		t.Fatalf("ETag %q", etag)
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		resp, body = b.do(t, "GET", "/openapi.json", "", nil, "If-None-Match", inm)
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("If-None-Match %s: status %d with %d bytes, want 304 without a body", inm, resp.StatusCode, len(body))
		}
	}
	resp, _ = b.do(t, "GET", "/openapi.json", "", nil, "If-None-Match", `"other"`)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match of another tag: status %d, want 200", resp.StatusCode)
	}
}

// The batch routes the other tests leave aside answer as described: a
// page past the end, the deliveries, a cancel, the events of the canceled
// batch, a retry refused.
func TestOpenAPIBatchControls(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	reply, err := b.client.SubmitBatchURLs(ctx, []string{"https://example.com/a.pdf", "https://example.com/b.pdf"}, client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resp, data := b.do(t, "GET", "/v1/batches/"+reply.ID+"/jobs?cursor=10", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(data), `"jobs":[]`) {
		t.Errorf("a page past the end: %d %s, want an empty jobs array", resp.StatusCode, data)
	}
	if ds, err := b.client.BatchDeliveries(ctx, reply.ID); err != nil || ds == nil || len(ds) != 0 {
		t.Errorf("deliveries: %v, %v; want an empty list", ds, err)
	}
	canceled, err := b.client.CancelBatch(ctx, reply.ID)
	if err != nil || canceled.Canceled != 2 || canceled.Ended != 2 || canceled.Counts[tasks.StatusCanceled] != 2 {
		t.Errorf("cancel: %+v, %v; want 2 jobs canceled", canceled, err)
	}
	var types []string
	if err := b.client.BatchEvents(ctx, reply.ID, func(ev tasks.Event) error {
		types = append(types, ev.Type)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(types) == 0 || types[len(types)-1] != "state" {
		t.Errorf("events of the canceled batch: %v, want them to end with state", types)
	}
	_, err = b.client.RetryJob(ctx, reply.JobIDs[0])
	wantAPIError(t, err, http.StatusConflict, tasks.CodeConflict)
	_, err = b.client.CancelJob(ctx, reply.JobIDs[0])
	wantAPIError(t, err, http.StatusConflict, tasks.CodeConflict)
}
