package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/tasks"
)

// setup serves h and returns a client of it, on http.DefaultClient, whose
// transport waits for "100 Continue" before sending an upload.
func setup(t *testing.T, h http.HandlerFunc) *client.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return client.New(srv.URL+"/", nil)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func tempFile(t *testing.T, name string, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func TestSubmitFileStreamsFormWithExactLength(t *testing.T) {
	t.Parallel()
	path, data := tempFile(t, "doc.pdf", 3<<20+17)
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/jobs" {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		if r.ContentLength <= int64(len(data)) {
			t.Errorf("Content-Length %d, want more than the file's %d", r.ContentLength, len(data))
		}
		if got := r.Header.Get("Expect"); got != "100-continue" {
			t.Errorf("Expect %q", got)
		}
		mr, err := r.MultipartReader()
		if err != nil {
			t.Fatalf("MultipartReader: %v", err)
		}
		fields := map[string]string{}
		var file []byte
		var filename string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("NextPart: %v", err)
			}
			b, _ := io.ReadAll(p)
			if p.FormName() == "file" {
				file, filename = b, p.FileName()
				continue
			}
			fields[p.FormName()] = string(b)
		}
		want := map[string]string{"task": "text_extraction", "priority": "low", "max_pages": "7", "metadata": `{"a":1}`, "password": "pw"}
		for k, v := range want {
			if fields[k] != v {
				t.Errorf("field %s = %q, want %q", k, fields[k], v)
			}
		}
		if len(fields) != len(want) {
			t.Errorf("fields %v, want %v", fields, want)
		}
		if filename != "doc.pdf" || !bytes.Equal(file, data) {
			t.Errorf("file %q of %d bytes, want doc.pdf of %d", filename, len(file), len(data))
		}
		writeJSON(w, http.StatusAccepted, tasks.Job{ID: "j1", Status: tasks.StatusQueued})
	})
	job, err := c.SubmitFile(context.Background(), path, client.SubmitOptions{
		Task: "text_extraction", Priority: "low", MaxPages: 7, Metadata: json.RawMessage(`{"a":1}`), Password: "pw",
	})
	if err != nil {
		t.Fatal(err)
	}
	if job.ID != "j1" || job.Status != tasks.StatusQueued {
		t.Errorf("job %+v", job)
	}
}

func TestSubmitFileRefusedBeforeBodyIsSent(t *testing.T) {
	t.Parallel()
	path, _ := tempFile(t, "big.pdf", 8<<20)
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength <= 1<<20 {
			t.Errorf("Content-Length %d, want the declared size", r.ContentLength)
		}
		// Answering without reading the body: the client, waiting for
		// "100 Continue", never sends it.
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": map[string]string{"code": "file_too_large", "message": "too big"}})
	})
	_, err := c.SubmitFile(context.Background(), path, client.SubmitOptions{})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusRequestEntityTooLarge || apiErr.Code != tasks.CodeFileTooLarge {
		t.Fatalf("err %v, want APIError 413 file_too_large", err)
	}
}

func TestSubmitFileMissing(t *testing.T) {
	t.Parallel()
	c := setup(t, func(w http.ResponseWriter, r *http.Request) { t.Errorf("request sent") })
	_, err := c.SubmitFile(context.Background(), filepath.Join(t.TempDir(), "nope.pdf"), client.SubmitOptions{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err %v, want ErrNotExist", err)
	}
}

func TestSubmitURLSendsOnlySetFields(t *testing.T) {
	t.Parallel()
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"url": "https://example.com/a.pdf", "priority": "critical"}
		if len(body) != len(want) || body["url"] != want["url"] || body["priority"] != want["priority"] {
			t.Errorf("body %v, want %v", body, want)
		}
		writeJSON(w, http.StatusAccepted, tasks.Job{ID: "j2", SourceURL: "https://example.com/a.pdf"})
	})
	job, err := c.SubmitURL(context.Background(), "https://example.com/a.pdf", client.SubmitOptions{Priority: "critical"})
	if err != nil {
		t.Fatal(err)
	}
	if job.ID != "j2" {
		t.Errorf("job %+v", job)
	}
}

func TestAPIError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   client.APIError
		text   string
	}{
		{
			name: "mmq error", status: 404, body: `{"error":{"code":"not_found","message":"job x not found"}}`,
			want: client.APIError{Status: 404, Code: tasks.CodeNotFound, Message: "job x not found", RequestID: "rid"},
			text: "not_found: job x not found (HTTP 404)",
		},
		{
			name: "proxy page", status: 502, body: "Bad Gateway\n",
			want: client.APIError{Status: 502, Message: "Bad Gateway", RequestID: "rid"},
			text: "Bad Gateway (HTTP 502)",
		},
		{
			name: "empty body", status: 503, body: "",
			want: client.APIError{Status: 503, Message: "Service Unavailable", RequestID: "rid"},
			text: "Service Unavailable (HTTP 503)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := setup(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Request-Id", "rid")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			_, err := c.Job(context.Background(), "x")
			var apiErr *client.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err %v, want *APIError", err)
			}
			if *apiErr != tt.want {
				t.Errorf("APIError %+v, want %+v", *apiErr, tt.want)
			}
			if apiErr.Error() != tt.text {
				t.Errorf("Error() %q, want %q", apiErr.Error(), tt.text)
			}
		})
	}
}

func TestWaitPollsUntilFinal(t *testing.T) {
	t.Parallel()
	states := []tasks.Status{tasks.StatusQueued, tasks.StatusProcessing, tasks.StatusSucceeded}
	var polls atomic.Int32
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/jobs/a%2Fb" && r.URL.RawPath != "/v1/jobs/a%2Fb" {
			t.Errorf("path %q (raw %q)", r.URL.Path, r.URL.RawPath)
		}
		n := int(polls.Add(1)) - 1
		writeJSON(w, http.StatusOK, tasks.Job{ID: "a/b", Status: states[min(n, len(states)-1)]})
	})
	var seen []tasks.Status
	job, err := c.Wait(context.Background(), "a/b", time.Millisecond, func(j *tasks.Job) { seen = append(seen, j.Status) })
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != tasks.StatusSucceeded || len(seen) != 3 {
		t.Errorf("final %s after %v", job.Status, seen)
	}
}

func TestWaitStopsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, tasks.Job{ID: "j", Status: tasks.StatusProcessing})
	})
	_, err := c.Wait(ctx, "j", time.Hour, func(*tasks.Job) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestAllResultsFollowsCursor(t *testing.T) {
	t.Parallel()
	const total = 7
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/jobs/j/results" {
			t.Errorf("path %q", r.URL.Path)
		}
		after := -1
		if v := r.URL.Query().Get("cursor"); v != "" {
			after, _ = strconv.Atoi(v)
		}
		resp := map[string]any{"job_id": "j", "status": "succeeded"}
		var rs []tasks.PageResult
		for i := after + 1; i <= total && len(rs) < 3; i++ {
			rs = append(rs, tasks.PageResult{Index: i, Status: tasks.PageDone})
		}
		resp["results"] = rs
		if last := rs[len(rs)-1].Index; last < total {
			resp["next_cursor"] = strconv.Itoa(last)
		}
		writeJSON(w, http.StatusOK, resp)
	})
	rs, err := c.AllResults(context.Background(), "j")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != total+1 {
		t.Fatalf("%d results, want %d", len(rs), total+1)
	}
	for i, r := range rs {
		if r.Index != i {
			t.Errorf("result %d has index %d", i, r.Index)
		}
	}
}

// The extraction options go in the form, the schema compacted; an
// invalid_schema error carries its pointer; DocumentJSON decodes the
// document and Document streams the format asked for.
func TestExtractionOptionsAndDocument(t *testing.T) {
	t.Parallel()
	path, _ := tempFile(t, "doc.pdf", 10)
	c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1/jobs":
			if err := r.ParseMultipartForm(1 << 20); err != nil {
				t.Fatal(err)
			}
			if got := r.FormValue("schema"); got != `{"type":"array"}` || r.FormValue("instructions") != "EUR" || r.FormValue("scope") != "document" {
				t.Errorf("form schema %q, instructions %q, scope %q", got, r.FormValue("instructions"), r.FormValue("scope"))
			}
			writeJSON(w, 400, map[string]any{"error": map[string]string{"code": "invalid_schema", "message": "invalid schema: at /type: no", "pointer": "/type"}})
		case r.URL.Query().Get("format") == "markdown":
			io.WriteString(w, "<!-- page 1 -->\n\nhello\n")
		default:
			io.WriteString(w, `{"job_id":"j","status":"succeeded","answer":{"n":1},"pages":[{"page":1,"status":"done","text":"hello","data":{"n":1}},{"frame":0,"timestamp":1.5,"status":"failed","text":"","data":null,"error_code":"schema_mismatch"}]}`)
		}
	})
	ctx := context.Background()
	_, err := c.SubmitFile(ctx, path, client.SubmitOptions{Schema: json.RawMessage("{\n  \"type\": \"array\"\n}\n"), Instructions: "EUR", Scope: "document"})
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Code != tasks.CodeInvalidSchema || ae.Pointer != "/type" {
		t.Errorf("err %#v, want invalid_schema at /type", err)
	}
	d, err := c.DocumentJSON(ctx, "j")
	if err != nil {
		t.Fatal(err)
	}
	if d.JobID != "j" || string(d.Answer) != `{"n":1}` || len(d.Pages) != 2 || *d.Pages[0].Page != 1 || string(d.Pages[0].Data) != `{"n":1}` ||
		*d.Pages[1].Frame != 0 || *d.Pages[1].Timestamp != 1.5 || d.Pages[1].ErrorCode != tasks.CodeSchemaMismatch {
		t.Errorf("document %+v", d)
	}
	var md bytes.Buffer
	if err := c.Document(ctx, "j", "markdown", &md); err != nil || md.String() != "<!-- page 1 -->\n\nhello\n" {
		t.Errorf("markdown %q, %v", md.String(), err)
	}
}
