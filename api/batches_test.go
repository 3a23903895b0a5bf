package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/tasks"
)

type batchReply struct {
	tasks.Batch
	JobIDs []string `json:"job_ids"`
}

func TestSubmitBatchOfUploads(t *testing.T) {
	b := setup(t)
	pdf, err := os.ReadFile("testdata/linearized-30p.pdf")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for i := range 3 {
		fw, _ := mw.CreateFormFile("file", fmt.Sprintf("doc%d.pdf", i))
		fw.Write(pdf)
	}
	mw.WriteField("priority", "low")
	mw.WriteField("metadata", `{"batch":"uploads"}`)
	mw.Close()
	resp, data := b.do(t, http.MethodPost, "/v1/batches", mw.FormDataContentType(), &body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/batches: %d %s", resp.StatusCode, data)
	}
	var got batchReply
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Total != 3 || len(got.JobIDs) != 3 || got.Status != tasks.BatchProcessing || string(got.Metadata) != `{"batch":"uploads"}` {
		t.Fatalf("batch = %+v", got)
	}
	for _, id := range got.JobIDs {
		p, _ := b.taskPayload(t, "low", id)
		if p.BlobKey == "" || p.Options.Priority != tasks.PriorityLow {
			t.Errorf("task of %s: %+v", id, p)
		}
	}
	resp, data = b.do(t, http.MethodGet, "/v1/batches/"+got.ID+"/jobs?limit=2", "", nil)
	var page struct {
		Jobs       []tasks.Job `json:"jobs"`
		NextCursor string      `json:"next_cursor"`
	}
	if err := json.Unmarshal(data, &page); err != nil || resp.StatusCode != 200 || len(page.Jobs) != 2 || page.NextCursor != "2" {
		t.Fatalf("batch jobs page: %d %s", resp.StatusCode, data)
	}
	if page.Jobs[0].ID != got.JobIDs[0] || page.Jobs[0].BatchID != got.ID || page.Jobs[0].PagesTotal != 30 {
		t.Errorf("first job = %+v", page.Jobs[0])
	}
}

func TestSubmitBatchOfURLsWithOverrides(t *testing.T) {
	b := setup(t)
	body := `{"priority":"critical","task":"classification","callback_url":"https://hooks.example.com/x","sample":"fps:0.5","max_frames":7,
		"items":[{"url":"https://example.com/a.pdf"},{"url":"https://example.com/b.pdf","priority":"low","metadata":{"n":2},"max_frames":3}],
		"urls":["https://example.com/c.pdf"]}`
	resp, data := b.do(t, http.MethodPost, "/v1/batches", "application/json", strings.NewReader(body))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%d %s", resp.StatusCode, data)
	}
	var got batchReply
	json.Unmarshal(data, &got)
	if len(got.JobIDs) != 3 || got.CallbackURL != "https://hooks.example.com/x" {
		t.Fatalf("batch = %s", data)
	}
	p0, _ := b.taskPayload(t, "critical", got.JobIDs[0])
	p1, _ := b.taskPayload(t, "low", got.JobIDs[1])
	if p0.SourceURL != "https://example.com/a.pdf" || p0.Options.Task != "classification" || p1.Options.Priority != tasks.PriorityLow {
		t.Errorf("payloads: %+v / %+v", p0, p1)
	}
	// Video options are shared too, and an item's own win.
	if p0.Options.Sample != "fps:0.5" || p0.Options.MaxFrames != 7 || p1.Options.Sample != "fps:0.5" || p1.Options.MaxFrames != 3 {
		t.Errorf("video options: %+v / %+v", p0.Options, p1.Options)
	}
	resp, data = b.do(t, http.MethodGet, "/v1/batches/"+got.ID, "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(data), `"total":3`) {
		t.Errorf("GET batch: %d %s", resp.StatusCode, data)
	}
}

func TestSubmitBatchRefused(t *testing.T) {
	b := setup(t, func(c *api.Config, _ *api.Deps) { c.MaxBatchJobs = 2 })
	cases := []struct {
		name, body string
		status     int
		code       tasks.Code
	}{
		{"empty", `{"urls":[]}`, 400, tasks.CodeInvalidRequest},
		{"too many", `{"urls":["https://a/1","https://a/2","https://a/3"]}`, 400, tasks.CodeInvalidRequest},
		{"bad url names the item", `{"urls":["https://a/1","file:///etc/passwd"]}`, 400, tasks.CodeInvalidURL},
		{"unknown field", `{"urls":["https://a/1"],"colour":"red"}`, 400, tasks.CodeInvalidRequest},
		{"password", `{"items":[{"url":"https://a/1","password":"x"}]}`, 400, tasks.CodeInvalidRequest},
		{"bad callback", `{"urls":["https://a/1"],"callback_url":"ftp://x"}`, 400, tasks.CodeInvalidURL},
		{"url on the batch", `{"urls":["https://a/1"],"url":"https://a/2"}`, 400, tasks.CodeInvalidRequest},
		{"bad shared sample", `{"urls":["https://a/1"],"sample":"every:2"}`, 400, tasks.CodeInvalidRequest},
	}
	for _, c := range cases {
		resp, data := b.do(t, http.MethodPost, "/v1/batches", "application/json", strings.NewReader(c.body))
		var e struct {
			Error struct{ Code tasks.Code } `json:"error"`
		}
		json.Unmarshal(data, &e)
		if resp.StatusCode != c.status || e.Error.Code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, resp.StatusCode, data, c.status, c.code)
		}
	}
	if n := b.queuedTasks(t); n != 0 {
		t.Errorf("%d tasks queued by refused batches", n)
	}
	if _, data := b.do(t, http.MethodPost, "/v1/batches", "application/json", strings.NewReader(`{"urls":["https://a/1","file:///x"]}`)); !strings.Contains(string(data), "item 1") {
		t.Errorf("error does not name the item: %s", data)
	}
}
