package worker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/internal/testwait"
	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

// Inputs submitted by URL are downloaded through the SSRF guard: with its
// default policy a loopback URL, or a redirect to the metadata address,
// fails the job as invalid_url without a request reaching the server.
func TestFetchSSRFGuard(t *testing.T) {
	pdf, err := os.ReadFile(booklet)
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/doc.pdf":
			w.Write(pdf)
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/to-file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		}
	}))
	t.Cleanup(srv.Close)
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

	cases := []struct {
		name     string
		guard    ssrf.Config
		path     string
		wantCode tasks.Code // "" = the job succeeds
		wantHits int64
	}{
		{"loopback refused", ssrf.Config{}, "/doc.pdf", tasks.CodeInvalidURL, 0},
		{"loopback allowed", ssrf.Config{AllowPrivateNetworks: true}, "/doc.pdf", "", 1},
		{"redirect to metadata refused", ssrf.Config{AllowedNetworks: loopback}, "/to-metadata", tasks.CodeInvalidURL, 1},
		{"redirect to file refused", ssrf.Config{AllowedNetworks: loopback}, "/to-file", tasks.CodeFetchFailed, 1},
	}
	b := setup(t)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hits.Store(0)
			cfg := b.config()
			cfg.Fetch = worker.FetchConfig{Timeout: 5 * time.Second, SSRF: c.guard}
			h, err := worker.NewHandler(cfg, worker.Deps{Store: b.store, Blobs: b.blobs, Analyzer: newFake(nil), OpenPDF: openPDF, Logger: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			j := &tasks.Job{ID: fmt.Sprintf("url-job-%d", i), Kind: tasks.KindDocument, SourceURL: srv.URL + c.path}
			if err := b.store.CreateJob(context.Background(), j, ""); err != nil {
				t.Fatal(err)
			}
			task, _ := tasks.NewAnalyzeTask(tasks.KindDocument, tasks.AnalyzePayload{JobID: j.ID, SourceURL: j.SourceURL}, tasks.EnqueueConfig{})
			err = h.ProcessTask(context.Background(), task)
			got := b.job(t, j.ID)
			if c.wantCode == "" {
				if err != nil || got.Status != tasks.StatusSucceeded {
					t.Fatalf("err %v, job %+v; want success", err, got)
				}
			} else if !errors.Is(err, asynq.SkipRetry) || got.Status != tasks.StatusFailed || got.ErrorCode != c.wantCode {
				t.Fatalf("err %v, job %s %s %q; want failed %s without retry", err, got.Status, got.ErrorCode, got.ErrorMessage, c.wantCode)
			}
			if n := hits.Load(); n != c.wantHits {
				t.Errorf("server got %d requests, want %d", n, c.wantHits)
			}
		})
	}
}

// A download that fails stores an error on the job, returns one to asynq
// (which keeps it as the task's last error) and logs it: none shows the
// URL's query string, where presigned URLs keep their signature, or the
// address connected to.
func TestFetchErrorsShowNoSecrets(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	hangUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(hangUp.Close)
	private := ssrf.Config{AllowPrivateNetworks: true}

	cases := []struct {
		name     string
		guard    ssrf.Config
		addr     string
		wantCode tasks.Code
		wantMsg  string
	}{
		{"connection refused", private, closed, tasks.CodeUnavailable, "could not download the input: connection refused"},
		{"server hangs up", private, hangUp.Listener.Addr().String(), tasks.CodeUnavailable, "could not download the input: connection closed"},
		{"refused by the guard", ssrf.Config{}, closed, tasks.CodeInvalidURL, "may not reach"},
	}
	b := setup(t)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs syncBuffer
			cfg := b.config()
			cfg.TaskCheckInterval = 5 * time.Millisecond
			cfg.Fetch = worker.FetchConfig{Timeout: 5 * time.Second, SSRF: c.guard}
			w, err := worker.New(cfg, worker.Deps{Store: b.store, Blobs: b.blobs, Analyzer: newFake(nil), OpenPDF: openPDF,
				Logger: zerolog.New(&logs).Level(zerolog.DebugLevel)}, redis.NewClient(redistest.Options(t, redistest.DBWorker)))
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			defer w.Shutdown()

			j := &tasks.Job{ID: fmt.Sprintf("secret-url-job-%d", i), Kind: tasks.KindDocument,
				SourceURL: "http://" + c.addr + "/doc.pdf?token=SECRET"}
			if err := b.store.CreateJob(context.Background(), j, ""); err != nil {
				t.Fatal(err)
			}
			// No retries: this attempt is the last and ends the job.
			task, _ := tasks.NewAnalyzeTask(tasks.KindDocument, tasks.AnalyzePayload{JobID: j.ID, SourceURL: j.SourceURL},
				tasks.EnqueueConfig{MaxRetry: -1})
			info, err := asynq.NewClientFromRedisClient(b.rdb).Enqueue(task)
			if err != nil {
				t.Fatal(err)
			}
			insp := asynq.NewInspectorFromRedisClient(b.rdb)
			var lastErr string
			testwait.For(t, 20*time.Second, "the task to be archived", func() bool {
				ti, err := insp.GetTaskInfo(info.Queue, info.ID)
				if err != nil || ti.State != asynq.TaskStateArchived {
					return false
				}
				lastErr = ti.LastErr
				return true
			})
			got := b.job(t, j.ID)
			if got.Status != tasks.StatusFailed || got.ErrorCode != c.wantCode || !strings.Contains(got.ErrorMessage, c.wantMsg) {
				t.Errorf("job %s %s %q; want failed %s saying %q", got.Status, got.ErrorCode, got.ErrorMessage, c.wantCode, c.wantMsg)
			}
			w.Shutdown()
			log := logs.String()
			if !strings.Contains(log, "/doc.pdf?REDACTED") {
				t.Errorf("the log does not name the URL in its redacted form:\n%s", log)
			}
			_, port, _ := net.SplitHostPort(c.addr)
			for what, text := range map[string]string{"job error": got.ErrorMessage, "task error": lastErr, "log": log} {
				for _, secret := range []string{"SECRET", "127.0.0.1", ":" + port} {
					if strings.Contains(text, secret) {
						t.Errorf("the %s shows %q:\n%s", what, secret, text)
					}
				}
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a worker's concurrent log writes.
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
