package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
)

// statsJobs is how many finished jobs, of two pages each, the stats
// benchmark stores: the review measured 1.1 s for /v1/stats at a tenth of
// that, when stats scanned every job.
const statsJobs = 100_000

// BenchmarkStats100k: GET /v1/stats over 100,000 finished two-page jobs,
// beside GET /v1/jobs/{id} (one record) on the same server and, as the
// baseline of what stats did before the status indexes, one pipelined pass
// reading the status of every job. Goal: ≤ 10 ms a stats call, for the
// default window (24h here) and the longest (31 days, the most buckets).
func BenchmarkStats100k(b *testing.B) {
	opt := redistest.Options(b, redistest.DBStats)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	st, err := store.New(rdb, store.Config{})
	if err != nil {
		b.Fatal(err)
	}
	fillStatsJobs(b, rdb, st)
	blobs, _ := fsblob.New(b.TempDir())
	srv, err := api.New(api.Config{}, api.Deps{Store: st, Blobs: blobs, Queue: asynq.NewClientFromRedisClient(rdb), Sniff: media.SniffKind})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	get := func(path string, into any) time.Duration {
		start := time.Now()
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %s", path, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	const calls = 50
	var statsMS, monthMS, jobMS []float64
	for range b.N {
		for range calls {
			var s tasks.Stats
			statsMS = append(statsMS, ms(get("/v1/stats?since=24h", &s)))
			if s.Jobs[tasks.StatusSucceeded] != statsJobs || s.PagesRead == 0 {
				b.Fatalf("stats counted %v jobs and read %d pages, want %d succeeded", s.Jobs, s.PagesRead, statsJobs)
			}
			// The longest window reads the most buckets.
			monthMS = append(monthMS, ms(get("/v1/stats?since=744h", &s)))
			var j tasks.Job
			jobMS = append(jobMS, ms(get("/v1/jobs/stats-000-00042", &j)))
		}
	}
	// The scan: HGET status of every job, pipelined 1,000 at a time.
	start := time.Now()
	ids, err := rdb.ZRange(ctx, "mmq:jobs", 0, -1).Result()
	if err != nil {
		b.Fatal(err)
	}
	for chunk := range slices.Chunk(ids, 1000) {
		pipe := rdb.Pipeline()
		for _, id := range chunk {
			pipe.HGet(ctx, "mmq:job:{"+id+"}", "status")
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	scanMS := ms(time.Since(start))
	slices.Sort(statsMS)
	slices.Sort(jobMS)
	slices.Sort(monthMS)
	p50, p99 := statsMS[len(statsMS)/2], statsMS[len(statsMS)*99/100]
	b.ReportMetric(p50, "stats-p50-ms")
	b.ReportMetric(p99, "stats-p99-ms")
	b.ReportMetric(monthMS[len(monthMS)/2], "stats-744h-p50-ms")
	b.ReportMetric(jobMS[len(jobMS)/2], "get-job-p50-ms")
	b.ReportMetric(scanMS, "scan-ms")
	b.ReportMetric(p50/scanMS, "x-scan")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fillStatsJobs stores statsJobs finished jobs of two pages each in ten
// batches, unless an earlier run of the benchmark left them there.
func fillStatsJobs(b *testing.B, rdb *redis.Client, st *store.Redis) {
	ctx := context.Background()
	if n, _ := rdb.ZCard(ctx, "mmq:jobs:succeeded").Result(); n == statsJobs {
		return
	}
	rdb.FlushDB(ctx)
	start := time.Now()
	output, _ := json.Marshal(map[string]string{"text": strings.Repeat("lorem ipsum ", 40)})
	const batches = 10
	for bi := range batches {
		jobs := make([]*tasks.Job, statsJobs/batches)
		for i := range jobs {
			jobs[i] = &tasks.Job{ID: fmt.Sprintf("stats-%03d-%05d", bi, i), Kind: tasks.KindDocument,
				SourceURL: "https://example.com/doc.pdf"}
		}
		if err := st.CreateBatch(ctx, &tasks.Batch{ID: fmt.Sprintf("stats-%03d", bi)}, jobs); err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				for i := w; i < len(jobs); i += 16 {
					id := jobs[i].ID
					if _, err := st.StartJob(ctx, id); err != nil {
						b.Error(err)
						return
					}
					if err := st.SetPagesTotal(ctx, id, 2); err != nil {
						b.Error(err)
						return
					}
					var err error
					for page := 1; page <= 2; page++ {
						r := tasks.PageResult{Index: page, Status: tasks.PageDone, Attempts: 1, DurationMS: int64(100 + i%50),
							Output: output, FinishedAt: time.Now()}
						if page == 1 {
							err = st.SavePage(ctx, id, r)
						} else {
							_, err = st.SaveLastPage(ctx, id, r)
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
	}
	b.Logf("stored %d finished jobs in %v", statsJobs, time.Since(start).Round(time.Second))
}
