package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
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
	resp, data := b.do(t, http.MethodPost, "/v1/batches", "application/json", strings.NewReader(body))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("batch: %d %s", resp.StatusCode, data)
	}
	var reply client.BatchReply
	if err := json.Unmarshal(data, &reply); err != nil {
		t.Fatal(err)
	}
	jobs, _, err := b.client.BatchJobs(context.Background(), reply.Batch.ID, "", 10)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("batch jobs: %d, %v", len(jobs), err)
	}
	for _, j := range jobs {
		if j.Options.Scope != tasks.ScopeDocument || len(j.Options.Schema) == 0 {
			t.Errorf("job %s options %+v: want the shared schema and scope", j.ID, j.Options)
		}
	}
	bad := `{"schema":{"type":"string"},"urls":["https://example.com/a.pdf"]}`
	resp, data = b.do(t, http.MethodPost, "/v1/batches", "application/json", strings.NewReader(bad))
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

	var got struct {
		JobID  string          `json:"job_id"`
		Status string          `json:"status"`
		Answer json.RawMessage `json:"answer"`
		Pages  []struct {
			Page      *int            `json:"page"`
			Frame     *int            `json:"frame"`
			Timestamp *float64        `json:"timestamp"`
			Text      string          `json:"text"`
			Data      json.RawMessage `json:"data"`
			ErrorCode string          `json:"error_code"`
		} `json:"pages"`
	}
	var buf bytes.Buffer
	if err := b.client.Document(ctx, doc.ID, "json", &buf); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%s: %v", buf.Bytes(), err)
	}
	if got.JobID != doc.ID || string(got.Answer) != `{"total":12.5}` || len(got.Pages) != 3 {
		t.Fatalf("document %s", buf.Bytes())
	}
	if *got.Pages[0].Page != 1 || got.Pages[0].Text != "Page one text." || string(got.Pages[0].Data) != "null" ||
		*got.Pages[1].Page != 2 || !strings.Contains(string(got.Pages[1].Data), `"total":12.5`) ||
		got.Pages[2].ErrorCode != "schema_mismatch" || string(got.Pages[2].Data) != "null" {
		t.Errorf("pages %s", buf.Bytes())
	}

	buf.Reset()
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
