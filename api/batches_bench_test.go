package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/internal/autopipe"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/store"
)

// BenchmarkBatchAccept: jobs/s the batch API accepts for a 10,000-URL batch
// (job records pipelined; enqueues fanned out through an autopipelined queue
// client, as cmd/mmq wires it) beside raw asynq Enqueue of as many no-op
// tasks from 8 goroutines on a plain client, in the same run on the same
// Redis. Goal: ≥ 20,000 jobs/s.
func BenchmarkBatchAccept(b *testing.B) {
	const n = 10000
	opt := redistest.Options(b, redistest.DBBench)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ap, err := autopipe.Client(rdb)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()

	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://example.com/doc-%d.pdf", i)
	}
	body, _ := json.Marshal(map[string]any{"urls": urls})

	var apiTotal, rawTotal time.Duration
	for range b.N {
		rdb.FlushDB(ctx)
		st, _ := store.New(rdb, store.Config{})
		blobs, _ := fsblob.New(b.TempDir())
		queue := asynq.NewClientFromRedisClient(rdb)
		srv, err := api.New(api.Config{}, api.Deps{Store: st, Blobs: blobs, Queue: asynq.NewClientFromRedisClient(ap), Sniff: media.SniffKind})
		if err != nil {
			b.Fatal(err)
		}
		ts := httptest.NewServer(srv.Handler())
		start := time.Now()
		resp, err := http.Post(ts.URL+"/v1/batches", "application/json", bytes.NewReader(body))
		if err != nil || resp.StatusCode != http.StatusAccepted {
			b.Fatalf("batch: %v %v", err, resp)
		}
		resp.Body.Close()
		apiTotal += time.Since(start)
		ts.Close()

		rdb.FlushDB(ctx)
		start = time.Now()
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 8 {
					if _, err := queue.Enqueue(asynq.NewTask("bench:noop", nil), asynq.TaskID(fmt.Sprint(i))); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		rawTotal += time.Since(start)
	}
	apiRate := float64(n*b.N) / apiTotal.Seconds()
	rawRate := float64(n*b.N) / rawTotal.Seconds()
	b.ReportMetric(apiRate, "api-jobs/s")
	b.ReportMetric(rawRate, "raw-asynq-enqueue/s")
	b.ReportMetric(apiRate/rawRate, "x-raw")
}
