package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
)

// FuzzSubmitOptions posts fuzzed JSON bodies to POST /v1/jobs. Whatever the
// body, the answer is a 202 with a job whose task carries valid options, or
// a 4xx error whose code goes with its status: never a 5xx, never a panic.
func FuzzSubmitOptions(f *testing.F) {
	for _, seed := range []string{
		`{"url":"https://example.com/a.pdf"}`,
		`{"url":"https://example.com/a.pdf","task":"text_extraction","priority":"critical","max_pages":10,"metadata":{"k":[1,2,{"x":null}]},"password":"s3cret-passw0rd"}`,
		`{"url":"http://example.com/a.pdf","priority":"low","max_pages":2000,"metadata":"just a string","callback_url":"https://hooks.example.com/mmq"}`,
		`{"url":"https://example.com/a.pdf","max_pages":-1}`,
		`{"url":"https://example.com/a.pdf","max_pages":1e309}`,
		`{"url":"https://example.com/a.pdf","max_pages":"10"}`,
		`{"url":"https://example.com/a.pdf","task":"Drop Table"}`,
		`{"url":"https://example.com/a.pdf","priority":"urgent"}`,
		`{"url":"ftp://example.com/a.pdf"}`,
		`{"url":"http://169.254.169.254/latest/meta-data/"}`,
		`{"url":"https://user:pw@example.com/a.pdf"}`,
		`{"url":"https://example.com/a.pdf","callback_url":"javascript:alert(1)"}`,
		`{"url":"https://example.com/a.pdf","pasword":"x"}`,
		`{"url":"https://example.com/a.pdf"}{}`,
		`{"url":"https://example.com/v.mp4","sample":"fps:0.5","max_frames":10,"start":1.5,"end":30}`,
		`{"url":"https://example.com/v.mp4","sample":"scene:2","max_frames":-1,"start":-1,"end":1e308}`,
		`{"url":"https://example.com/a.pdf","provider":"local","max_cost_usd":0.25}`,
		`{"url":"https://example.com/a.pdf","provider":"nope","max_cost_usd":-1}`,
		`{"url":5}`, `[]`, `null`, `""`, `{`, ``,
		"\ufeff{}",
	} {
		f.Add([]byte(seed))
	}
	b := setupFuzz(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/jobs", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		var echo struct {
			URL         string          `json:"url"`
			Task        string          `json:"task"`
			Priority    string          `json:"priority"`
			Password    string          `json:"password"`
			CallbackURL string          `json:"callback_url"`
			Metadata    json.RawMessage `json:"metadata"`
		}
		_ = json.Unmarshal(body, &echo)
		b.check(t, req, echo.Password, echo.URL, echo.Task, echo.Priority, echo.CallbackURL, string(echo.Metadata))
	})
}

// FuzzSubmitForm uploads a small PDF with fuzzed form fields and file name.
// It holds the upload to FuzzSubmitOptions' rules, and the stored file name
// to its own: a base name without separators or control characters, at
// most 255 bytes of UTF-8.
func FuzzSubmitForm(f *testing.F) {
	f.Add("general_qa", "default", "10", `{"tag":"x"}`, "", "", "report.pdf")
	f.Add("", "", "", "", "", "", "")
	f.Add("text_extraction", "critical", " 5 ", `[1,2]`, "s3cret-passw0rd", "https://hooks.example.com/mmq", `..\..\Windows\win.ini`)
	f.Add("a", "low", "-5", `{"a":`, "p", "ftp://x", "../../etc/passwd")
	f.Add("Drop Table", "urgent", "1e3", "null", "", "http://[::1]/", "..")
	f.Add("x", "default", "99999999999999999999", "\"\xff\"", "", "http://10.0.0.1/", "a\x1b[31m.pdf")
	b := setupFuzz(f)
	f.Fuzz(func(t *testing.T, task, priority, maxPages, metadata, password, callback, filename string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, kv := range [][2]string{{"task", task}, {"priority", priority}, {"max_pages", maxPages}, {"metadata", metadata}, {"password", password}, {"callback_url", callback}} {
			if kv[1] != "" {
				_ = mw.WriteField(kv[0], kv[1])
			}
		}
		quote := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Disposition": {fmt.Sprintf(`form-data; name="file"; filename="%s"`, quote.Replace(filename))},
		})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(b.pdf)
		_ = mw.Close()
		req := httptest.NewRequest(http.MethodPost, "/v1/jobs", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		job := b.check(t, req, password, task, priority, metadata, callback, filename)
		if job == nil {
			return
		}
		name := job.Filename
		if len(name) > 255 || !utf8.ValidString(name) || strings.ContainsAny(name, `/\`) || name == "." || name == ".." ||
			strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			t.Fatalf("file name %q stored as %q", filename, name)
		}
	})
}

// fuzzBundle is a submit handler with an in-memory store and queue.
type fuzzBundle struct {
	handler  http.Handler
	store    *memStore
	queue    *memQueue
	pdf      []byte
	maxPages int
}

func setupFuzz(f *testing.F) *fuzzBundle {
	f.Helper()
	pdf, err := os.ReadFile(testdata("linearized-30p.pdf"))
	if err != nil {
		f.Fatal(err)
	}
	b := &fuzzBundle{store: &memStore{jobs: map[string]*tasks.Job{}}, queue: &memQueue{}, pdf: pdf, maxPages: api.DefaultMaxPages}
	srv, err := api.New(api.Config{}, api.Deps{
		Store: b.store, Blobs: memBlobs{}, Queue: b.queue, Sniff: media.SniffKind, Logger: zerolog.Nop(),
	})
	if err != nil {
		f.Fatal(err)
	}
	b.handler = srv.Handler()
	return b
}

// statusCodes are the codes each status may carry in an answer to a
// client's submit.
var statusCodes = map[int][]tasks.Code{
	http.StatusBadRequest:            {tasks.CodeInvalidRequest, tasks.CodeInvalidURL, tasks.CodeEmptyFile},
	http.StatusRequestEntityTooLarge: {tasks.CodeFileTooLarge},
	http.StatusUnsupportedMediaType:  {tasks.CodeUnsupportedType},
	http.StatusUnprocessableEntity:   {tasks.CodeInvalidPDF, tasks.CodeEncryptedPDF, tasks.CodeWrongPassword, tasks.CodeTooManyPages},
}

var taskName = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// check serves req and holds the answer to the rules of FuzzSubmitOptions.
// The password must not come back in the answer nor go into the task,
// unless one of echoed (fields the job does show) contains it. It returns
// the accepted job, or nil.
func (b *fuzzBundle) check(t *testing.T, req *http.Request, password string, echoed ...string) *tasks.Job {
	t.Helper()
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	body := rec.Body.Bytes()
	if rec.Code != http.StatusAccepted {
		codes, ok := statusCodes[rec.Code]
		var e struct {
			Error struct {
				Code    tasks.Code `json:"code"`
				Message string     `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil || !ok || e.Error.Message == "" || !contains(codes, e.Error.Code) {
			t.Fatalf("HTTP %d %s", rec.Code, body)
		}
		return nil
	}

	var job tasks.Job
	if err := json.Unmarshal(body, &job); err != nil {
		t.Fatalf("202 body %s: %v", body, err)
	}
	task := b.queue.take(job.ID)
	if task == nil {
		t.Fatalf("job %s accepted without a task", job.ID)
	}
	if b.store.get(job.ID) == nil {
		t.Fatalf("job %s accepted without a record", job.ID)
	}
	p, err := tasks.DecodeAnalyzePayload(task.Payload())
	if err != nil || p.JobID != job.ID || !reflect.DeepEqual(p.Options, job.Options) {
		t.Fatalf("task payload %s (%v) does not match job %+v", task.Payload(), err, job)
	}
	o := job.Options
	if !o.Priority.Valid() || !taskName.MatchString(o.Task) || o.MaxPages < 1 || o.MaxPages > b.maxPages {
		t.Fatalf("accepted options %+v", o)
	}
	if len(job.Metadata) > 16<<10 || (len(job.Metadata) > 0 && !json.Valid(job.Metadata)) {
		t.Fatalf("accepted metadata %q", job.Metadata)
	}
	if p.SourceURL != "" {
		u, err := url.Parse(p.SourceURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			t.Fatalf("accepted source URL %q", p.SourceURL)
		}
	}
	if len(password) >= 8 && !containsAny(echoed, password) &&
		(bytes.Contains(body, []byte(password)) || bytes.Contains(task.Payload(), []byte(password))) {
		t.Fatalf("password %q echoed: %s / %s", password, body, task.Payload())
	}
	if job.HasPassword != (password != "") {
		t.Fatalf("has_password %v for password %q", job.HasPassword, password)
	}
	return &job
}

func contains(codes []tasks.Code, c tasks.Code) bool {
	for _, x := range codes {
		if x == c {
			return true
		}
	}
	return false
}

func containsAny(fields []string, s string) bool {
	for _, f := range fields {
		if strings.Contains(f, s) {
			return true
		}
	}
	return false
}

// memStore keeps created jobs. The submit handler needs nothing more of a
// store; any other method would panic on the nil embedded interface, and
// the fuzzer would report it.
type memStore struct {
	api.Store
	mu   sync.Mutex
	jobs map[string]*tasks.Job
}

func (s *memStore) CreateJob(_ context.Context, j *tasks.Job, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[j.ID] = j
	return nil
}

// RefBlob has no blobs to protect: the fuzzer's jobs are never deleted.
func (*memStore) RefBlob(context.Context, string, string) error { return nil }

func (s *memStore) get(id string) *tasks.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	delete(s.jobs, id) // the fuzzer runs millions of inputs
	return j
}

// memQueue keeps enqueued tasks by id.
type memQueue struct {
	mu    sync.Mutex
	tasks map[string]*asynq.Task
}

func (q *memQueue) EnqueueContext(_ context.Context, t *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
	p, err := tasks.DecodeAnalyzePayload(t.Payload())
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.tasks == nil {
		q.tasks = map[string]*asynq.Task{}
	}
	q.tasks[p.JobID] = t
	return &asynq.TaskInfo{ID: p.JobID}, nil
}

func (q *memQueue) take(id string) *asynq.Task {
	q.mu.Lock()
	defer q.mu.Unlock()
	t := q.tasks[id]
	delete(q.tasks, id)
	return t
}

// memBlobs keeps nothing: the fuzzers never read an input back.
type memBlobs struct{}

func (memBlobs) Put(context.Context, []byte) (string, error) { return "blob", nil }
