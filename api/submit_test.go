package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
)

func TestSubmitPDF(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	job, err := b.client.SubmitFile(ctx, testdata("linearized-30p.pdf"), client.SubmitOptions{
		Task:     "text_extraction",
		Priority: "low",
		Metadata: json.RawMessage(`{ "order": 42, "tags": ["a", "b"] }`),
	})
	if err != nil {
		t.Fatal(err)
	}
	size := fileSize(t, testdata("linearized-30p.pdf"))
	want := tasks.Job{
		ID:         job.ID,
		Kind:       tasks.KindDocument,
		Status:     tasks.StatusQueued,
		Options:    tasks.Options{Task: "text_extraction", Priority: tasks.PriorityLow, MaxPages: api.DefaultMaxPages},
		Metadata:   json.RawMessage(`{"order":42,"tags":["a","b"]}`),
		Filename:   "linearized-30p.pdf",
		Size:       size,
		PagesTotal: 30,
	}
	for _, got := range []*tasks.Job{job, mustJob(t, b, job.ID)} {
		if got.ID == "" || got.BlobKey != "" || got.CreatedAt.Before(before) {
			t.Errorf("job id %q, blob %q (internal: never shown), created %v", got.ID, got.BlobKey, got.CreatedAt)
		}
		got.CreatedAt = time.Time{}
		if !jobsEqual(*got, want) {
			t.Errorf("job\n got %+v\nwant %+v", *got, want)
		}
	}

	p, raw := b.taskPayload(t, "low", job.ID)
	stored, err := b.store.GetJob(context.Background(), job.ID)
	if err != nil || stored.BlobKey == "" {
		t.Fatalf("stored job: blob key %q, %v", stored.BlobKey, err)
	}
	wantP := tasks.AnalyzePayload{JobID: job.ID, BlobKey: stored.BlobKey, Options: want.Options}
	if !reflect.DeepEqual(p, wantP) {
		t.Errorf("payload %+v, want %+v", p, wantP)
	}
	if len(raw) > 512 {
		t.Errorf("payload of %d bytes: it carries more than references", len(raw))
	}
}

func TestSubmitLocationAndStatus(t *testing.T) {
	b := setup(t)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", `C:\Users\x\..\evil/../report.pdf`)
	_, _ = fw.Write(readFile(t, testdata("linearized-30p.pdf")))
	_ = mw.Close()
	resp, data := b.do(t, http.MethodPost, "/v1/jobs", mw.FormDataContentType(), &body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	var job tasks.Job
	if err := json.Unmarshal(data, &job); err != nil {
		t.Fatal(err)
	}
	if loc := resp.Header.Get("Location"); loc != "/v1/jobs/"+job.ID {
		t.Errorf("Location %q, want /v1/jobs/%s", loc, job.ID)
	}
	if job.Filename != "report.pdf" {
		t.Errorf("filename %q, want report.pdf", job.Filename)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestSubmitEncryptedWithPassword(t *testing.T) {
	b := setup(t)
	const password = "view" // the user password of encrypted-r3.pdf
	job, err := b.client.SubmitFile(context.Background(), testdata("encrypted-r3.pdf"), client.SubmitOptions{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	if !job.HasPassword || job.PagesTotal != 30 {
		t.Errorf("has_password %v, pages_total %d; want true, 30", job.HasPassword, job.PagesTotal)
	}
	got, err := b.store.Password(context.Background(), job.ID)
	if err != nil || got != password {
		t.Errorf("stored password %q, %v", got, err)
	}
	mustJob(t, b, job.ID)
	b.taskPayload(t, "default", job.ID)
	b.assertNoSecret(t, password)
}

func TestSubmitURL(t *testing.T) {
	b := setup(t)
	const secret = "Pa55-url-job"
	const u = "https://example.com/files/report.pdf?v=2"
	job, err := b.client.SubmitURL(context.Background(), u, client.SubmitOptions{
		Priority: "critical", MaxPages: 10, Metadata: json.RawMessage(`"tag"`), Password: secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := tasks.Job{
		ID:          job.ID,
		Kind:        tasks.KindDocument,
		Status:      tasks.StatusQueued,
		Options:     tasks.Options{Task: api.DefaultTask, Priority: tasks.PriorityCritical, MaxPages: 10},
		Metadata:    json.RawMessage(`"tag"`),
		SourceURL:   u,
		HasPassword: true,
	}
	got := mustJob(t, b, job.ID)
	got.CreatedAt = time.Time{}
	if !jobsEqual(*got, want) {
		t.Errorf("job\n got %+v\nwant %+v", *got, want)
	}
	p, _ := b.taskPayload(t, "critical", job.ID)
	wantP := tasks.AnalyzePayload{JobID: job.ID, SourceURL: u, Options: want.Options}
	if !reflect.DeepEqual(p, wantP) {
		t.Errorf("payload %+v, want %+v", p, wantP)
	}
	b.assertNoSecret(t, secret)
}

// TestSubmitRefused sends every kind of bad submission; none may leave a job
// or a task behind, and none may echo its password.
func TestSubmitRefused(t *testing.T) {
	b := setup(t)
	const secret = "s3cret-Wr0ng"
	ctx := context.Background()
	pdf := testdata("linearized-30p.pdf")
	file := func(path string, opts client.SubmitOptions) func() error {
		return func() error { _, err := b.client.SubmitFile(ctx, path, opts); return err }
	}
	byURL := func(u string) func() error {
		return func() error { _, err := b.client.SubmitURL(ctx, u, client.SubmitOptions{}); return err }
	}
	raw := func(contentType, body string) func() error {
		return func() error {
			resp, data := b.do(t, http.MethodPost, "/v1/jobs", contentType, strings.NewReader(body))
			return decodeAPIError(resp, data)
		}
	}
	tests := []struct {
		name   string
		submit func() error
		status int
		code   tasks.Code
	}{
		{"empty file", file(writeTemp(t, "empty.pdf", nil), client.SubmitOptions{}), 400, tasks.CodeEmptyFile},
		{"plain text", file(writeTemp(t, "notes.txt", []byte("just some notes\n")), client.SubmitOptions{}), 415, tasks.CodeUnsupportedType},
		{"HTML named .pdf", file(writeTemp(t, "x.pdf", []byte("<!DOCTYPE html><html><body>login</body></html>")), client.SubmitOptions{}), 415, tasks.CodeUnsupportedType},
		{"corrupt PDF", file(testdata("corrupt-no-startxref.pdf"), client.SubmitOptions{}), 422, tasks.CodeInvalidPDF},
		{"encrypted without password", file(testdata("encrypted-r3.pdf"), client.SubmitOptions{}), 422, tasks.CodeEncryptedPDF},
		{"wrong password", file(testdata("encrypted-r3.pdf"), client.SubmitOptions{Password: secret}), 422, tasks.CodeWrongPassword},
		{"too many pages", file(pdf, client.SubmitOptions{MaxPages: 2, Password: secret}), 422, tasks.CodeTooManyPages},
		{"max_pages above limit", file(pdf, client.SubmitOptions{MaxPages: api.DefaultMaxPages + 1}), 400, tasks.CodeInvalidRequest},
		{"negative max_pages", file(pdf, client.SubmitOptions{MaxPages: -1}), 400, tasks.CodeInvalidRequest},
		{"bad priority", file(pdf, client.SubmitOptions{Priority: "urgent", Password: secret}), 400, tasks.CodeInvalidRequest},
		{"bad task", file(pdf, client.SubmitOptions{Task: "Drop Table"}), 400, tasks.CodeInvalidRequest},
		{"metadata not JSON", file(pdf, client.SubmitOptions{Metadata: json.RawMessage(`{"a":`)}), 400, tasks.CodeInvalidRequest},
		{"metadata too large", file(pdf, client.SubmitOptions{Metadata: json.RawMessage(`"` + strings.Repeat("x", 16<<10) + `"`)}), 400, tasks.CodeInvalidRequest},
		{"ftp url", byURL("ftp://example.com/a.pdf"), 400, tasks.CodeInvalidURL},
		{"file url", byURL("file:///etc/passwd"), 400, tasks.CodeInvalidURL},
		{"url without host", byURL("https:///a.pdf"), 400, tasks.CodeInvalidURL},
		{"relative url", byURL("/a.pdf"), 400, tasks.CodeInvalidURL},
		{"url with credentials", byURL("https://user:" + secret + "@example.com/a.pdf"), 400, tasks.CodeInvalidURL},
		{"unknown JSON field", raw("application/json", `{"url":"https://example.com/a.pdf","pasword":"`+secret+`"}`), 400, tasks.CodeInvalidRequest},
		{"JSON metadata too large", raw("application/json", `{"url":"https://example.com/a.pdf","metadata":"`+strings.Repeat("x", 16<<10)+`"}`), 400, tasks.CodeInvalidRequest},
		{"JSON wrong type", raw("application/json", `{"url":"https://example.com/a.pdf","max_pages":"2"}`), 400, tasks.CodeInvalidRequest},
		{"JSON two values", raw("application/json", `{"url":"https://example.com/a.pdf"}{}`), 400, tasks.CodeInvalidRequest},
		{"JSON without url", raw("application/json", `{"task":"general_qa"}`), 400, tasks.CodeInvalidRequest},
		{"JSON not JSON", raw("application/json", `url=https://example.com`), 400, tasks.CodeInvalidRequest},
		{"JSON too large", raw("application/json", `{"url":"https://example.com/`+strings.Repeat("a", 140<<10)+`"}`), 413, tasks.CodeFileTooLarge},
		{"form without file", raw("multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"task\"\r\n\r\ngeneral_qa\r\n--XX--\r\n"), 400, tasks.CodeInvalidRequest},
		{"form with unknown field", raw("multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"url\"\r\n\r\nhttps://example.com\r\n--XX--\r\n"), 400, tasks.CodeInvalidRequest},
		{"form broken", raw("multipart/form-data; boundary=XX", "--XX\r\nContent-Disp"), 400, tasks.CodeInvalidRequest},
		{"other content type", raw("text/plain", "https://example.com/a.pdf"), 415, tasks.CodeUnsupportedType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantAPIError(t, tt.submit(), tt.status, tt.code)
		})
	}

	jobs, _, err := b.client.Jobs(ctx, "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 0 {
		t.Errorf("refused submissions left %d jobs", len(jobs))
	}
	if n := b.queuedTasks(t); n != 0 {
		t.Errorf("refused submissions left %d tasks", n)
	}
	b.assertNoSecret(t, secret)
}

func TestSubmitTooLarge(t *testing.T) {
	b := setup(t, func(c *api.Config, _ *api.Deps) { c.MaxUploadBytes = 4 << 10 })
	ctx := context.Background()
	pdf := testdata("linearized-30p.pdf") // 11 KB

	t.Run("declared length", func(t *testing.T) {
		_, err := b.client.SubmitFile(ctx, pdf, client.SubmitOptions{})
		wantAPIError(t, err, http.StatusRequestEntityTooLarge, tasks.CodeFileTooLarge)
	})
	t.Run("chunked", func(t *testing.T) {
		// Without a Content-Length the limit is met while reading.
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			fw, _ := mw.CreateFormFile("file", "big.pdf")
			_, _ = fw.Write(readFile(t, pdf))
			pw.CloseWithError(mw.Close())
		}()
		resp, data := b.do(t, http.MethodPost, "/v1/jobs", mw.FormDataContentType(), pr)
		wantAPIError(t, decodeAPIError(resp, data), http.StatusRequestEntityTooLarge, tasks.CodeFileTooLarge)
	})
	t.Run("at the limit", func(t *testing.T) {
		data := readFile(t, pdf)[:4<<10]
		_, err := b.client.SubmitFile(ctx, writeTemp(t, "cut.pdf", data), client.SubmitOptions{})
		// Cut short, the PDF is invalid: the size passed.
		wantAPIError(t, err, http.StatusUnprocessableEntity, tasks.CodeInvalidPDF)
	})
}

// failingQueue is a queue that is down.
type failingQueue struct{}

func (failingQueue) EnqueueContext(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
	return nil, errQueueDown
}

var errQueueDown = errors.New("dial tcp 10.0.0.1:6379: connection refused")

func TestSubmitEnqueueFails(t *testing.T) {
	b := setup(t, func(_ *api.Config, d *api.Deps) { d.Queue = failingQueue{} })
	ctx := context.Background()
	_, err := b.client.SubmitFile(ctx, testdata("linearized-30p.pdf"), client.SubmitOptions{})
	apiErr := wantAPIError(t, err, http.StatusServiceUnavailable, tasks.CodeUnavailable)
	if strings.Contains(apiErr.Message, "10.0.0.1") {
		t.Errorf("message %q shows the cause", apiErr.Message)
	}
	jobs, _, err := b.client.Jobs(ctx, "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].Status != tasks.StatusFailed || jobs[0].ErrorCode != tasks.CodeUnavailable {
		t.Fatalf("jobs %+v, want one failed with unavailable", jobs)
	}
	if !strings.Contains(b.logs.String(), "10.0.0.1") {
		t.Errorf("logs do not hold the cause:\n%s", b.logs)
	}
}

// TestSubmitPanics shows a PDF reader's panic becomes invalid_pdf and
// a handler's panic a 500 that the server survives.
func TestSubmitPanics(t *testing.T) {
	b := setup(t, func(_ *api.Config, d *api.Deps) {
		d.InspectPDF = func(context.Context, []byte, string, int) (int, error) { panic("pdf reader bug") }
		d.Sniff = func(data []byte) (tasks.Kind, error) {
			if bytes.HasPrefix(data, []byte("PANIC")) {
				panic("sniffer bug")
			}
			return tasks.KindDocument, nil
		}
	})
	ctx := context.Background()
	_, err := b.client.SubmitFile(ctx, testdata("linearized-30p.pdf"), client.SubmitOptions{})
	wantAPIError(t, err, http.StatusUnprocessableEntity, tasks.CodeInvalidPDF)

	_, err = b.client.SubmitFile(ctx, writeTemp(t, "p.pdf", []byte("PANIC")), client.SubmitOptions{})
	apiErr := wantAPIError(t, err, http.StatusInternalServerError, tasks.CodeInternal)
	if strings.Contains(apiErr.Message, "sniffer") {
		t.Errorf("message %q shows the panic", apiErr.Message)
	}
	if !strings.Contains(b.logs.String(), "sniffer bug") {
		t.Errorf("logs do not hold the panic")
	}
	if resp, _ := b.do(t, http.MethodGet, "/healthz", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("healthz after panic: %d", resp.StatusCode)
	}
}

func mustJob(t *testing.T, b *testBundle, id string) *tasks.Job {
	t.Helper()
	j, err := b.client.Job(context.Background(), id)
	if err != nil {
		t.Fatalf("job %s: %v", id, err)
	}
	return j
}

// jobsEqual compares jobs field by field, metadata as bytes.
func jobsEqual(a, b tasks.Job) bool {
	if !bytes.Equal(a.Metadata, b.Metadata) {
		return false
	}
	a.Metadata, b.Metadata = nil, nil
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	return int64(len(readFile(t, path)))
}

// decodeAPIError returns the error a raw response stands for, as the client
// would, or nil for a 2xx.
func decodeAPIError(resp *http.Response, body []byte) error {
	if resp.StatusCode < 300 {
		return nil
	}
	var e struct {
		Error struct {
			Code    tasks.Code `json:"code"`
			Message string     `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return &client.APIError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
}

// TestSubmitInspectionsBounded holds one inspection open and shows a second
// upload waits for it instead of reading its PDF alongside.
func TestSubmitInspectionsBounded(t *testing.T) {
	var active, peak atomic.Int32
	sniffed := make(chan struct{}, 2)
	entered := make(chan struct{})
	release := make(chan struct{})
	b := setup(t, func(c *api.Config, d *api.Deps) {
		c.MaxConcurrentInspections = 1
		d.Sniff = func(data []byte) (tasks.Kind, error) {
			sniffed <- struct{}{}
			return media.SniffKind(data)
		}
		d.InspectPDF = func(ctx context.Context, data []byte, password string, maxPages int) (int, error) {
			n := active.Add(1)
			defer active.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			entered <- struct{}{}
			<-release
			return inspectPDF(ctx, data, password, maxPages)
		}
	})
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := b.client.SubmitFile(context.Background(), testdata("linearized-30p.pdf"), client.SubmitOptions{})
			errs <- err
		}()
	}
	<-entered
	<-sniffed
	<-sniffed // the second upload is past sniffing, at the semaphore
	release <- struct{}{}
	<-entered
	release <- struct{}{}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if p := peak.Load(); p != 1 {
		t.Errorf("%d inspections ran at once, want 1", p)
	}
}
