package worker_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

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
