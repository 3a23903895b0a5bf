package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/tasks"
)

const testSchema = `{"type":"object","properties":{"total":{"type":"number"},
 "lines":{"type":"array","items":{"type":"object","properties":{"item":{"type":"string"},"amount":{"type":"number"}}}}},
 "required":["total"]}`

func withModels(_ *api.Config, d *api.Deps) { d.Models = stubModels{} }

// The extraction options land on the job and its task, the schema compacted;
// every bad one is refused at submit with its code, and nothing is queued.
func TestSubmitExtractionOptions(t *testing.T) {
	b := setup(t, withModels)
	ctx := context.Background()
	pdf := testdata("linearized-30p.pdf")
	job, err := b.client.SubmitFile(ctx, pdf, client.SubmitOptions{
		Schema: json.RawMessage(testSchema), Instructions: "Totals in EUR.", Scope: "document"})
	if err != nil {
		t.Fatal(err)
	}
	o := job.Options
	if o.Instructions != "Totals in EUR." || o.Scope != tasks.ScopeDocument || strings.ContainsAny(string(o.Schema), "\n ") || !json.Valid(o.Schema) {
		t.Errorf("options %+v", o)
	}
	p, _ := b.taskPayload(t, "default", job.ID)
	if string(p.Options.Schema) != string(o.Schema) {
		t.Errorf("task schema %s, want %s", p.Options.Schema, o.Schema)
	}
	// JSON body, by URL, with the schema as an object.
	body := `{"url":"https://example.com/a.pdf","schema":` + testSchema + `,"instructions":"x"}`
	resp, data := b.do(t, http.MethodPost, "/v1/jobs", "application/json", strings.NewReader(body))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("JSON submit: %d %s", resp.StatusCode, data)
	}

	before := b.queuedTasks(t)
	opts := func(o client.SubmitOptions) func() error {
		return func() error { _, err := b.client.SubmitFile(ctx, pdf, o); return err }
	}
	tests := []struct {
		name    string
		submit  func() error
		status  int
		code    tasks.Code
		pointer string
	}{
		{"schema not an object at the top", opts(client.SubmitOptions{Schema: json.RawMessage(`{"type":"array"}`)}), 400, tasks.CodeInvalidSchema, "/type"},
		{"schema with a bad keyword", opts(client.SubmitOptions{Schema: json.RawMessage(`{"type":"object","properties":{"a":{"type":"strin"}}}`)}), 400, tasks.CodeInvalidSchema, "/properties/a/type"},
		{"schema with an external ref", opts(client.SubmitOptions{Schema: json.RawMessage(`{"type":"object","properties":{"a":{"$ref":"http://169.254.169.254/s"}}}`)}), 400, tasks.CodeInvalidSchema, ""},
		{"schema not JSON", opts(client.SubmitOptions{Schema: json.RawMessage(`{"type":`)}), 400, tasks.CodeInvalidSchema, ""},
		{"schema too large", opts(client.SubmitOptions{Schema: json.RawMessage(`{"type":"object","description":"` + strings.Repeat("x", 64<<10) + `"}`)}), 400, tasks.CodeInvalidRequest, ""},
		{"instructions too large", opts(client.SubmitOptions{Instructions: strings.Repeat("x", 8<<10+1)}), 400, tasks.CodeInvalidRequest, ""},
		{"bad scope", opts(client.SubmitOptions{Scope: "book"}), 400, tasks.CodeInvalidRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ae := wantAPIError(t, tt.submit(), tt.status, tt.code)
			if tt.code == tasks.CodeInvalidSchema && !strings.Contains(ae.Message, "schema") {
				t.Errorf("message %q does not say what is wrong", ae.Message)
			}
		})
	}
	// The pointer is a field of the error body.
	var mb bytes.Buffer
	mw := multipart.NewWriter(&mb)
	_ = mw.WriteField("schema", `{"type":"object","properties":{"a":{"minimum":"x"}}}`)
	fw, _ := mw.CreateFormFile("file", "a.pdf")
	fw.Write(readFile(t, pdf))
	mw.Close()
	resp, data = b.do(t, http.MethodPost, "/v1/jobs", mw.FormDataContentType(), &mb)
	var eb struct {
		Error struct{ Code, Message, Pointer string }
	}
	_ = json.Unmarshal(data, &eb)
	if resp.StatusCode != 400 || eb.Error.Code != "invalid_schema" || eb.Error.Pointer != "/properties/a/minimum" {
		t.Errorf("invalid schema: %d %s", resp.StatusCode, data)
	}
	if n := b.queuedTasks(t); n != before {
		t.Errorf("refused submissions queued %d tasks", n-before)
	}
}

// Without a model provider the extraction options are refused, never
// accepted into a job that would fail later.
func TestSubmitExtractionNeedsProvider(t *testing.T) {
	b := setup(t)
	for _, o := range []client.SubmitOptions{{Instructions: "x"}, {Schema: json.RawMessage(testSchema)}, {Scope: "document"}} {
		_, err := b.client.SubmitFile(context.Background(), testdata("linearized-30p.pdf"), o)
		wantAPIError(t, err, 400, tasks.CodeProviderRequired)
	}
	// scope page alone asks nothing of the model.
	if _, err := b.client.SubmitFile(context.Background(), testdata("linearized-30p.pdf"), client.SubmitOptions{Scope: "page"}); err != nil {
		t.Error(err)
	}
}

// A batch's shared extraction options apply to its items; an item may set
// its own.
func TestBatchExtractionOptions(t *testing.T) {
	b := setup(t, withModels)
	body := `{"schema":` + testSchema + `,"scope":"document","items":[{"url":"https://example.com/a.pdf"},{"url":"https://example.com/b.pdf","instructions":"own"}]}`
	jobs := b.batchJobs(t, body, 2)
	for _, j := range jobs {
		if j.Options.Scope != tasks.ScopeDocument || len(j.Options.Schema) == 0 {
			t.Errorf("job %s options %+v: want the shared schema and scope", j.ID, j.Options)
		}
	}
	bad := `{"schema":{"type":"string"},"urls":["https://example.com/a.pdf"]}`
	resp, data := b.do(t, http.MethodPost, "/v1/batches", "application/json", strings.NewReader(bad))
	if resp.StatusCode != 400 || !strings.Contains(string(data), "invalid_schema") {
		t.Errorf("batch with a bad schema: %d %s", resp.StatusCode, data)
	}
}

// The idempotency fingerprint covers the extraction options: the same key
// with another schema is a conflict, not the first job.
func TestIdempotencyCoversSchema(t *testing.T) {
	b := setup(t, withModels)
	send := func(schema string) (*http.Response, []byte) {
		body := `{"url":"https://example.com/a.pdf","schema":` + schema + `}`
		return b.do(t, http.MethodPost, "/v1/jobs", "application/json", strings.NewReader(body), "Idempotency-Key", "k-1")
	}
	if resp, data := send(testSchema); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first: %d %s", resp.StatusCode, data)
	}
	other := strings.Replace(testSchema, `"required":["total"]`, `"required":["total","lines"]`, 1)
	if resp, data := send(other); resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK {
		t.Errorf("the same key with another schema: %d %s; want a conflict", resp.StatusCode, data)
	}
}

// /document serves the job's answer and pages in order, as JSON and as
// Markdown with page or frame markers and data as lists and tables.
func TestDocument(t *testing.T) {
	b := setup(t, withModels)
	ctx := context.Background()
	now := time.Now().UTC()
	doc := &tasks.Job{ID: "doc-1", Kind: tasks.KindDocument, Status: tasks.StatusProcessing, CreatedAt: now, PagesTotal: 3,
		Options: tasks.Options{Scope: tasks.ScopeDocument}}
	vid := &tasks.Job{ID: "vid-1", Kind: tasks.KindVideo, Status: tasks.StatusProcessing, CreatedAt: now, PagesTotal: 1}
	for _, j := range []*tasks.Job{doc, vid} {
		if err := b.store.CreateJob(ctx, j, ""); err != nil {
			t.Fatal(err)
		}
	}
	pages := []tasks.PageResult{
		{Index: 2, Status: tasks.PageDone, Output: json.RawMessage(`{"text":"{}","data":{"total":12.5,"lines":[{"item":"pen | ink","amount":2.5},{"item":"pad\nA4","amount":10}]}}`)},
		{Index: 1, Status: tasks.PageDone, Output: json.RawMessage(`{"text":"Page one text."}`)},
		{Index: 3, Status: tasks.PageFailed, ErrorCode: tasks.CodeSchemaMismatch, Output: json.RawMessage(`{"text":"bad","schema_errors":[{"pointer":"","message":"x"}]}`)},
	}
	for _, r := range pages {
		r.FinishedAt = now
		if err := b.store.SavePage(ctx, doc.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.store.SaveAnswer(ctx, doc.ID, json.RawMessage(`{"total": 12.5}`), tasks.Usage{}); err != nil {
		t.Fatal(err)
	}
	if err := b.store.SavePage(ctx, vid.ID, tasks.PageResult{Index: 0, Status: tasks.PageDone, Timestamp: 12.5, FinishedAt: now,
		Output: json.RawMessage(`{"text":"a frame"}`)}); err != nil {
		t.Fatal(err)
	}

	got, err := b.client.DocumentJSON(ctx, doc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.JobID != doc.ID || string(got.Answer) != `{"total":12.5}` || len(got.Pages) != 3 {
		t.Fatalf("document %+v", got)
	}
	if *got.Pages[0].Page != 1 || got.Pages[0].Text != "Page one text." || string(got.Pages[0].Data) != "null" ||
		*got.Pages[1].Page != 2 || !strings.Contains(string(got.Pages[1].Data), `"total":12.5`) ||
		got.Pages[2].ErrorCode != tasks.CodeSchemaMismatch || got.Pages[2].Status != tasks.PageFailed || string(got.Pages[2].Data) != "null" {
		t.Errorf("pages %+v", got.Pages)
	}

	var buf bytes.Buffer
	if err := b.client.Document(ctx, doc.ID, "markdown", &buf); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{"<!-- document -->\n\n- **total**: 12.5\n", "<!-- page 1 -->\n\nPage one text.\n",
		"<!-- page 2 -->", "| item | amount |\n| --- | --- |\n| pen \\| ink | 2.5 |\n| pad A4 | 10 |\n",
		"<!-- page 3 -->\n\n_This page failed: schema_mismatch._"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Index(md, "<!-- page 1 -->") > strings.Index(md, "<!-- page 2 -->") {
		t.Errorf("pages out of order:\n%s", md)
	}

	buf.Reset()
	if err := b.client.Document(ctx, vid.ID, "markdown", &buf); err != nil || !strings.Contains(buf.String(), "<!-- frame 0 t=12.5s -->\n\na frame") {
		t.Errorf("video markdown %q, %v", buf.String(), err)
	}
	buf.Reset()
	if err := b.client.Document(ctx, vid.ID, "json", &buf); err != nil || !strings.Contains(buf.String(), `"frame":0,"timestamp":12.5`) {
		t.Errorf("video json %s, %v", buf.String(), err)
	}
	wantAPIError(t, b.client.Document(ctx, "nope", "json", &buf), 404, tasks.CodeNotFound)
	wantAPIError(t, b.client.Document(ctx, doc.ID, "pdf", &buf), 400, tasks.CodeInvalidRequest)
}

// nestedSchema is an object schema whose JSON nests depth levels deep.
func nestedSchema(depth int) string {
	n := depth - 3 // the top, its properties and the innermost {}
	return `{"type":"object","properties":{"a":` + strings.Repeat(`{"items":`, n) + `{}` + strings.Repeat(`}`, n) + `}}`
}

// Every extraction option of a JSON submit body: accepted into the job,
// the schema compacted, or refused with its code and, for a schema, the
// JSON pointer of the problem as a field of the error body.
func TestSubmitExtractionJSON(t *testing.T) {
	b := setup(t, withModels)
	tests := []struct {
		name    string
		fields  string // members of the body besides url
		status  int
		code    tasks.Code
		pointer string
	}{
		{"schema", `"schema":` + testSchema, 202, "", ""},
		{"schema null", `"schema":null`, 202, "", ""},
		{"scope page", `"scope":"page"`, 202, "", ""},
		{"scope document and instructions", `"scope":"document","instructions":"Totals in EUR."`, 202, "", ""},
		{"schema nested 64 deep", `"schema":` + nestedSchema(64), 202, "", ""},
		{"braces inside strings", `"schema":{"type":"object","description":"` + strings.Repeat(`{[\"`, 100) + `"}`, 202, "", ""},
		{"schema nested 65 deep", `"schema":` + nestedSchema(65), 400, tasks.CodeInvalidSchema, ""},
		{"schema a string", `"schema":"{\"type\":\"object\"}"`, 400, tasks.CodeInvalidSchema, ""},
		{"schema an array", `"schema":[]`, 400, tasks.CodeInvalidSchema, ""},
		{"schema a bad keyword", `"schema":{"type":"object","properties":{"a":{"minimum":"x"}}}`, 400, tasks.CodeInvalidSchema, "/properties/a/minimum"},
		{"schema not an object at the top", `"schema":{"type":"array"}`, 400, tasks.CodeInvalidSchema, "/type"},
		{"schema with an external ref", `"schema":{"type":"object","properties":{"a":{"$ref":"https://example.com/s.json"}}}`, 400, tasks.CodeInvalidSchema, ""},
		{"schema too large", `"schema":{"type":"object","description":"` + strings.Repeat("x", 64<<10) + `"}`, 400, tasks.CodeInvalidRequest, ""},
		{"schema large only indented", `"schema":{` + strings.Repeat(" ", 8<<10) + `"type":"object","description":"` + strings.Repeat("x", 60<<10) + `"}`, 202, "", ""},
		{"instructions too large", `"instructions":"` + strings.Repeat("x", 8<<10+1) + `"`, 400, tasks.CodeInvalidRequest, ""},
		{"instructions not a string", `"instructions":["x"]`, 400, tasks.CodeInvalidRequest, ""},
		{"bad scope", `"scope":"chapter"`, 400, tasks.CodeInvalidRequest, ""},
		{"scope not a string", `"scope":true`, 400, tasks.CodeInvalidRequest, ""},
		{"local provider with instructions", `"provider":"local","instructions":"x"`, 400, tasks.CodeProviderRequired, ""},
		{"local provider with a schema", `"provider":"local","schema":` + testSchema, 400, tasks.CodeProviderRequired, ""},
		{"local provider with scope document", `"provider":"local","scope":"document"`, 400, tasks.CodeProviderRequired, ""},
		{"local provider with scope page", `"provider":"local","scope":"page"`, 202, "", ""},
		{"mode economy", `"mode":"economy"`, 202, "", ""},
		{"mode realtime", `"mode":"realtime"`, 202, "", ""},
		{"bad mode", `"mode":"cheap"`, 400, tasks.CodeInvalidRequest, ""},
		{"local provider in economy mode", `"provider":"local","mode":"economy"`, 400, tasks.CodeModeUnsupported, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.queuedTasks(t)
			body := `{"url":"https://example.com/a.pdf",` + tt.fields + `}`
			resp, data := b.do(t, http.MethodPost, "/v1/jobs", "application/json", strings.NewReader(body))
			if resp.StatusCode != tt.status {
				t.Fatalf("%d %.300s, want %d %s", resp.StatusCode, data, tt.status, tt.code)
			}
			if tt.status != http.StatusAccepted {
				var eb struct {
					Error struct {
						Code    tasks.Code
						Message string
						Pointer *string
					}
				}
				if err := json.Unmarshal(data, &eb); err != nil {
					t.Fatal(err)
				}
				e := eb.Error
				if e.Code != tt.code || e.Message == "" {
					t.Errorf("error %s %q, want %s", e.Code, e.Message, tt.code)
				}
				if got := ptrValue(e.Pointer); got != tt.pointer || (e.Pointer != nil) != (tt.pointer != "") {
					t.Errorf("pointer %q, want %q (absent when empty)", got, tt.pointer)
				}
				if tt.pointer != "" && !strings.Contains(e.Message, tt.pointer) {
					t.Errorf("message %q does not say where: %s", e.Message, tt.pointer)
				}
				if n := b.queuedTasks(t); n != before {
					t.Errorf("a refused submission queued %d tasks", n-before)
				}
				return
			}
			var j tasks.Job
			if err := json.Unmarshal(data, &j); err != nil {
				t.Fatal(err)
			}
			var req struct {
				Schema json.RawMessage
				Scope  tasks.Scope
			}
			_ = json.Unmarshal([]byte(body), &req)
			if want := compact(t, req.Schema); string(j.Options.Schema) != want {
				t.Errorf("job schema %s, want %s", j.Options.Schema, want)
			}
			if j.Options.Scope != req.Scope {
				t.Errorf("job scope %q, want %q", j.Options.Scope, req.Scope)
			}
		})
	}
}

func ptrValue(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// compact returns raw compacted, "" for no schema or null.
func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// In a multipart form the schema field may be as large as a schema may
// be (64 KiB), past the 16 KiB of any other field, and no larger; the
// client's error carries the pointer.
func TestSubmitExtractionMultipart(t *testing.T) {
	b := setup(t, withModels)
	ctx := context.Background()
	pdf := testdata("linearized-30p.pdf")
	sized := func(n int) json.RawMessage {
		const head, tail = `{"type":"object","description":"`, `"}`
		return json.RawMessage(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
	}
	job, err := b.client.SubmitFile(ctx, pdf, client.SubmitOptions{Schema: sized(64 << 10), Scope: "page"})
	if err != nil {
		t.Fatalf("a 64 KiB schema: %v", err)
	}
	if len(job.Options.Schema) != 64<<10 || job.Options.Scope != tasks.ScopePage {
		t.Errorf("job schema of %d bytes, scope %q", len(job.Options.Schema), job.Options.Scope)
	}
	_, err = b.client.SubmitFile(ctx, pdf, client.SubmitOptions{Schema: sized(64<<10 + 1)})
	wantAPIError(t, err, 400, tasks.CodeInvalidRequest)
	// The bound is on the compacted schema: an indented one, as curl sends
	// a file, may be larger, up to twice the bound.
	for _, tt := range []struct {
		indent int
		status int
	}{{0, 202}, {1 << 10, 202}, {60 << 10, 202}, {66 << 10, 400}} {
		var mb bytes.Buffer
		mw := multipart.NewWriter(&mb)
		_ = mw.WriteField("schema", "{\n"+strings.Repeat(" ", tt.indent)+`"type": "object", "description": "`+strings.Repeat("x", 63<<10)+"\"\n}\n")
		_ = mw.WriteField("instructions", "x")
		fw, _ := mw.CreateFormFile("file", "a.pdf")
		fw.Write(readFile(t, pdf))
		mw.Close()
		if resp, data := b.do(t, http.MethodPost, "/v1/jobs", mw.FormDataContentType(), &mb); resp.StatusCode != tt.status {
			t.Errorf("schema of 63 KiB indented by %d: %d %.200s, want %d", tt.indent, resp.StatusCode, data, tt.status)
		}
	}
	_, err = b.client.SubmitFile(ctx, pdf, client.SubmitOptions{Schema: json.RawMessage(`{"type":"object","required":"total"}`)})
	if ae := wantAPIError(t, err, 400, tasks.CodeInvalidSchema); ae.Pointer != "/required" {
		t.Errorf("pointer %q, want /required", ae.Pointer)
	}
	_, err = b.client.SubmitFile(ctx, pdf, client.SubmitOptions{Provider: "local", Instructions: "x"})
	wantAPIError(t, err, 400, tasks.CodeProviderRequired)
}

// A multipart batch takes the extraction options as shared fields; a JSON
// batch's item may set its own, and a bad one is refused with the item's
// number, the pointer kept.
func TestBatchExtractionErrors(t *testing.T) {
	b := setup(t, withModels)
	ctx := context.Background()
	pdf := testdata("linearized-30p.pdf")
	reply, err := b.client.SubmitBatchFiles(ctx, []string{pdf, pdf}, client.SubmitOptions{
		Schema: json.RawMessage(testSchema), Instructions: "EUR", Scope: "document"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range reply.JobIDs {
		o := mustJob(t, b, id).Options
		if o.Scope != tasks.ScopeDocument || o.Instructions != "EUR" || string(o.Schema) != compact(t, json.RawMessage(testSchema)) {
			t.Errorf("job %s options %+v", id, o)
		}
	}
	_, err = b.client.SubmitBatchFiles(ctx, []string{pdf}, client.SubmitOptions{Schema: json.RawMessage(`{"type":"object","properties":{"a":{"type":1}}}`)})
	if ae := wantAPIError(t, err, 400, tasks.CodeInvalidSchema); ae.Pointer != "/properties/a/type" {
		t.Errorf("pointer %q", ae.Pointer)
	}
	_, err = b.client.SubmitBatchFiles(ctx, []string{pdf}, client.SubmitOptions{Scope: "chapter"})
	wantAPIError(t, err, 400, tasks.CodeInvalidRequest)

	before := b.queuedTasks(t)
	for _, tt := range []struct {
		name, body string
		code       tasks.Code
		pointer    string
	}{
		{"item schema", `{"items":[{"url":"https://example.com/a.pdf"},{"url":"https://example.com/b.pdf","schema":{"type":"object","properties":{"a":{"minimum":"x"}}}}]}`,
			tasks.CodeInvalidSchema, "/properties/a/minimum"},
		{"item local provider", `{"instructions":"x","items":[{"url":"https://example.com/a.pdf"},{"url":"https://example.com/b.pdf","provider":"local"}]}`,
			tasks.CodeProviderRequired, ""},
		{"item instructions too large", `{"items":[{"url":"https://example.com/a.pdf"},{"url":"https://example.com/b.pdf","instructions":"` + strings.Repeat("x", 8<<10+1) + `"}]}`,
			tasks.CodeInvalidRequest, ""},
		{"item scope", `{"items":[{"url":"https://example.com/a.pdf"},{"url":"https://example.com/b.pdf","scope":"book"}]}`,
			tasks.CodeInvalidRequest, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := b.do(t, http.MethodPost, "/v1/batches", "application/json", strings.NewReader(tt.body))
			var eb struct {
				Error struct{ Code, Message, Pointer string }
			}
			_ = json.Unmarshal(data, &eb)
			if resp.StatusCode != 400 || eb.Error.Code != string(tt.code) || eb.Error.Pointer != tt.pointer || !strings.HasPrefix(eb.Error.Message, "item 1: ") {
				t.Errorf("%d %s, want 400 %s saying item 1, pointer %q", resp.StatusCode, data, tt.code, tt.pointer)
			}
		})
	}
	if n := b.queuedTasks(t); n != before {
		t.Errorf("refused batches queued %d tasks", n-before)
	}
}

// recordingModels is stubModels that keeps the options of each estimate.
type recordingModels struct {
	stubModels
	opts chan tasks.Options
}

func (m recordingModels) Estimate(ctx context.Context, data []byte, password string, opts tasks.Options) (*tasks.Estimate, error) {
	m.opts <- opts
	return m.stubModels.Estimate(ctx, data, password, opts)
}

// An estimate takes the extraction options to the models, checked as at
// submit.
func TestEstimateExtractionOptions(t *testing.T) {
	models := recordingModels{opts: make(chan tasks.Options, 1)}
	b := setup(t, func(_ *api.Config, d *api.Deps) { d.Models = models })
	ctx := context.Background()
	pdf := testdata("linearized-30p.pdf")
	if _, err := b.client.Estimate(ctx, pdf, client.SubmitOptions{Schema: json.RawMessage(testSchema), Instructions: "EUR", Scope: "document"}); err != nil {
		t.Fatal(err)
	}
	o := <-models.opts
	if o.Instructions != "EUR" || o.Scope != tasks.ScopeDocument || string(o.Schema) != compact(t, json.RawMessage(testSchema)) {
		t.Errorf("estimated with options %+v", o)
	}
	_, err := b.client.Estimate(ctx, pdf, client.SubmitOptions{Schema: json.RawMessage(`{"type":"array"}`)})
	if ae := wantAPIError(t, err, 400, tasks.CodeInvalidSchema); ae.Pointer != "/type" {
		t.Errorf("pointer %q", ae.Pointer)
	}
	_, err = b.client.Estimate(ctx, pdf, client.SubmitOptions{Provider: "local", Scope: "document"})
	wantAPIError(t, err, 400, tasks.CodeProviderRequired)
	_, err = b.client.Estimate(ctx, pdf, client.SubmitOptions{Instructions: strings.Repeat("x", 8<<10+1)})
	wantAPIError(t, err, 400, tasks.CodeInvalidRequest)
	select {
	case o := <-models.opts:
		t.Errorf("a refused estimate reached the models with %+v", o)
	default:
	}
}

// The idempotency fingerprint covers every extraction option: the same key
// replays the same request and refuses one that differs in any of them.
func TestIdempotencyCoversExtraction(t *testing.T) {
	b := setup(t, withModels)
	const first = `{"url":"https://example.com/a.pdf","instructions":"EUR","scope":"page","schema":` + testSchema + `}`
	send := func(body string) int {
		resp, _ := b.do(t, http.MethodPost, "/v1/jobs", "application/json", strings.NewReader(body), "Idempotency-Key", "k-x")
		return resp.StatusCode
	}
	if code := send(first); code != http.StatusAccepted {
		t.Fatalf("first: %d", code)
	}
	if code := send(first); code != http.StatusOK {
		t.Errorf("the same request again: %d, want 200", code)
	}
	for _, other := range []string{
		strings.Replace(first, `"EUR"`, `"USD"`, 1),
		strings.Replace(first, `"page"`, `"document"`, 1),
		strings.Replace(first, `"number"`, `"integer"`, 1),
	} {
		if code := send(other); code != http.StatusConflict {
			t.Errorf("another request with the key: %d, want 409\n%s", code, other)
		}
	}
}

// /document pages through the results: a job of more pages than one read
// of the store returns is served whole, in order.
func TestDocumentPagesThrough(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	const pages = 2345
	j := &tasks.Job{ID: "doc-big", Kind: tasks.KindDocument, Status: tasks.StatusProcessing, CreatedAt: time.Now().UTC(), PagesTotal: pages}
	if err := b.store.CreateJob(ctx, j, ""); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= pages; i++ {
		r := tasks.PageResult{Index: i, Status: tasks.PageDone, FinishedAt: time.Now().UTC(), Output: json.RawMessage(`{"text":"page ` + strconv.Itoa(i) + `"}`)}
		if err := b.store.SavePage(ctx, j.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	doc, err := b.client.DocumentJSON(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Status != tasks.StatusProcessing || string(doc.Answer) != "null" || len(doc.Pages) != pages {
		t.Fatalf("document of %d pages, status %s, answer %s", len(doc.Pages), doc.Status, doc.Answer)
	}
	for i, p := range doc.Pages {
		if p.Page == nil || *p.Page != i+1 || p.Text != "page "+strconv.Itoa(i+1) {
			t.Fatalf("page %d of the document: %+v", i, p)
		}
	}
	var md bytes.Buffer
	if err := b.client.Document(ctx, j.ID, "markdown", &md); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(md.String(), "<!-- page "); n != pages || !strings.HasSuffix(md.String(), "<!-- page 2345 -->\n\npage 2345\n\n") {
		t.Errorf("markdown has %d page markers, ends %q", n, md.String()[max(0, md.Len()-40):])
	}
}
