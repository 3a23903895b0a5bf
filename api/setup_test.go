package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
	"github.com/rs/zerolog"
)

// The API's Deps are satisfied by the real parts.
var (
	_ api.Store          = (*store.Redis)(nil)
	_ api.Blobs          = (*fsblob.Blobs)(nil)
	_ api.Enqueuer       = (*asynq.Client)(nil)
	_ api.SniffFunc      = media.SniffKind
	_ api.InspectPDFFunc = inspectPDF
)

// inspectPDF is the InspectPDF cmd/mmq wires: media's reader, opened once.
func inspectPDF(ctx context.Context, data []byte, password string, maxPages int) (int, error) {
	doc, err := media.OpenPDF(ctx, data, media.PDFOptions{Password: password, MaxPages: maxPages})
	if err != nil {
		return 0, err
	}
	return doc.PageCount(), nil
}

// testBundle is one API server on real Redis, blobs and queue.
type testBundle struct {
	client  *client.Client
	url     string
	http    *http.Client
	store   *store.Redis
	insp    *asynq.Inspector
	bodies  *bodyRecorder
	logs    *syncBuffer
	cfg     api.Config
	enqueue *asynq.Client
	srv     *api.Server
}

// setup starts an API server on a flushed Redis DB. Tests that call it share
// the DB and so must not run in parallel.
func setup(t *testing.T, configure ...func(*api.Config, *api.Deps)) *testBundle {
	t.Helper()
	rdb := redistest.New(t, redistest.DBAPI)
	st, err := store.New(rdb, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	redisOpt := asynq.RedisClientOpt{Addr: redistest.Addr(t), DB: redistest.DBAPI}
	queue := asynq.NewClient(redisOpt)
	t.Cleanup(func() { _ = queue.Close() })
	insp := asynq.NewInspector(redisOpt)
	t.Cleanup(func() { _ = insp.Close() })

	logs := &syncBuffer{}
	cfg := api.Config{}
	deps := api.Deps{
		Store:      st,
		Blobs:      blobs,
		Queue:      queue,
		Sniff:      media.SniffKind,
		InspectPDF: inspectPDF,
		Logger:     zerolog.New(logs),
	}
	for _, f := range configure {
		f(&cfg, &deps)
	}
	srv, err := api.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	// Every exchange of every test is held to api/openapi.yaml.
	bodies := &bodyRecorder{base: loadSpec(t).Transport(t, transport)}
	hc := &http.Client{Transport: bodies}
	return &testBundle{
		client:  client.New(ts.URL, hc),
		url:     ts.URL,
		http:    hc,
		store:   st,
		insp:    insp,
		bodies:  bodies,
		logs:    logs,
		cfg:     cfg,
		enqueue: queue,
		srv:     srv,
	}
}

// do sends a raw request and returns the response with its body read.
func (b *testBundle) do(t *testing.T, method, path, contentType string, body io.Reader, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, b.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// taskPayload returns the payload of the analysis task of job id, which must
// be pending on queue.
func (b *testBundle) taskPayload(t *testing.T, queue, id string) (tasks.AnalyzePayload, []byte) {
	t.Helper()
	info, err := b.insp.GetTaskInfo(queue, id)
	if err != nil {
		t.Fatalf("task %s on queue %s: %v", id, queue, err)
	}
	if info.State != asynq.TaskStatePending {
		t.Errorf("task %s is %v, want pending", id, info.State)
	}
	var p tasks.AnalyzePayload
	if err := json.Unmarshal(info.Payload, &p); err != nil {
		t.Fatal(err)
	}
	if info.Type != tasks.TypeDocumentAnalyze {
		t.Errorf("task type %q, want %q", info.Type, tasks.TypeDocumentAnalyze)
	}
	return p, info.Payload
}

// queuedTasks counts the tasks in every queue.
func (b *testBundle) queuedTasks(t *testing.T) int {
	t.Helper()
	queues, err := b.insp.Queues()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, q := range queues {
		info, err := b.insp.GetQueueInfo(q)
		if err != nil {
			t.Fatal(err)
		}
		n += info.Size
	}
	return n
}

// assertNoSecret fails if secret appears in any response body, in the logs
// or in any task payload.
func (b *testBundle) assertNoSecret(t *testing.T, secret string) {
	t.Helper()
	for _, body := range b.bodies.all() {
		if strings.Contains(body, secret) {
			t.Errorf("response body holds the password: %s", body)
		}
	}
	if strings.Contains(b.logs.String(), secret) {
		t.Errorf("logs hold the password")
	}
	for q := range tasks.Queues {
		infos, _ := b.insp.ListPendingTasks(q)
		for _, info := range infos {
			if bytes.Contains(info.Payload, []byte(secret)) {
				t.Errorf("task payload holds the password: %s", info.Payload)
			}
		}
	}
}

// wantAPIError fails unless err is an *client.APIError with status and code.
func wantAPIError(t *testing.T, err error, status int, code tasks.Code) *client.APIError {
	t.Helper()
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err %v, want APIError %d %s", err, status, code)
	}
	if apiErr.Status != status || apiErr.Code != code {
		t.Errorf("APIError %d %s (%q), want %d %s", apiErr.Status, apiErr.Code, apiErr.Message, status, code)
	}
	if apiErr.Message == "" {
		t.Errorf("APIError without message")
	}
	return apiErr
}

// testdata returns the path of a file in testdata.
func testdata(name string) string { return filepath.Join("testdata", name) }

// writeTemp writes data to a file called name and returns its path.
func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// bodyRecorder is a transport that keeps every response body.
type bodyRecorder struct {
	base   http.RoundTripper
	mu     sync.Mutex
	bodies []string
}

func (r *bodyRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.bodies = append(r.bodies, string(b))
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

func (r *bodyRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the JSON log lines.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}
