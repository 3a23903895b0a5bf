package worker_test

import (
	"bytes"
	"context"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mmq/mmq/analyzer"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

// pdf200 builds a 200-page PDF from the 64-page booklet: four copies merged,
// the last 56 pages removed.
func pdf200(b *testing.B) string {
	b.Helper()
	data, err := os.ReadFile(booklet)
	if err != nil {
		b.Fatal(err)
	}
	rs := []io.ReadSeeker{bytes.NewReader(data), bytes.NewReader(data), bytes.NewReader(data), bytes.NewReader(data)}
	var merged, trimmed bytes.Buffer
	if err := api.MergeRaw(rs, &merged, false, nil); err != nil {
		b.Fatal(err)
	}
	if err := api.RemovePages(bytes.NewReader(merged.Bytes()), &trimmed, []string{"201-256"}, nil); err != nil {
		b.Fatal(err)
	}
	path := b.TempDir() + "/200.pdf"
	if err := os.WriteFile(path, trimmed.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkFanOut: a 200-page PDF, an analyzer that sleeps 20 ms a page,
// 16 pages at once. The ideal is the split time (measured in the same run)
// plus ceil(200/16) × 20 ms; the goal is a ratio ≤ 1.15.
func BenchmarkFanOut(b *testing.B) {
	bd := setup(b)
	file := pdf200(b)
	data, _ := os.ReadFile(file)
	ctx := context.Background()

	splitStart := time.Now()
	doc, err := openPDF(ctx, data, "")
	if err != nil {
		b.Fatal(err)
	}
	for n := 1; n <= doc.PageCount(); n++ {
		if _, err := doc.Page(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
	split := time.Since(splitStart)
	pages := doc.PageCount()
	const conc, sleep = 16, 20 * time.Millisecond
	ideal := split + time.Duration(math.Ceil(float64(pages)/conc))*sleep

	cfg := bd.config()
	cfg.PageConcurrency, cfg.ProcessPageConcurrency = conc, conc
	h, err := worker.NewHandler(cfg, worker.Deps{Store: bd.store, Blobs: bd.blobs, Analyzer: analyzer.Sleep{D: sleep}, OpenPDF: openPDF, Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		_, task := bd.newJob(b, file, "")
		b.StartTimer()
		start := time.Now()
		if err := h.ProcessTask(ctx, task); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
	}
	wall := total / time.Duration(b.N)
	b.ReportMetric(float64(pages), "pages")
	b.ReportMetric(float64(split.Milliseconds()), "split-ms")
	b.ReportMetric(float64(ideal.Milliseconds()), "ideal-ms")
	b.ReportMetric(float64(wall.Milliseconds()), "wall-ms")
	b.ReportMetric(float64(wall)/float64(ideal), "x-ideal")
}

// BenchmarkPickupLatency: on an idle queue, enqueue → handler start, with
// mmq's default TaskCheckInterval beside asynq's default of 1 s, and the CPU
// Redis spends while the worker idles.
func BenchmarkPickupLatency(b *testing.B) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		samples  int
	}{{"mmq-default-10ms", 0, 60}, {"asynq-default-1s", time.Second, 12}} {
		b.Run(tc.name, func(b *testing.B) {
			opt := redistest.Options(b, redistest.DBBench)
			rdb := redis.NewClient(opt)
			defer rdb.Close()
			rdb.FlushDB(context.Background())
			started := make(chan time.Time, 1)
			interval := tc.interval
			if interval == 0 {
				interval = worker.DefaultTaskCheckInterval
			}
			srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
				Concurrency: 4, Queues: tasks.Queues, TaskCheckInterval: interval, LogLevel: asynq.FatalLevel,
			})
			mux := asynq.NewServeMux()
			mux.HandleFunc("bench:pickup", func(context.Context, *asynq.Task) error { started <- time.Now(); return nil })
			if err := srv.Start(mux); err != nil {
				b.Fatal(err)
			}
			defer srv.Shutdown()
			client := asynq.NewClientFromRedisClient(rdb)

			idleCPU := redisCPUWhileIdle(b, rdb, 2*time.Second)
			samples := tc.samples
			lat := make([]time.Duration, 0, samples)
			b.ResetTimer()
			for i := range samples {
				// Let the processor go idle again between samples.
				time.Sleep(interval + 5*time.Millisecond)
				t0 := time.Now()
				if _, err := client.Enqueue(asynq.NewTask("bench:pickup", nil), asynq.Queue("default"), asynq.TaskID(strconv.Itoa(i))); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, (<-started).Sub(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
			b.ReportMetric(idleCPU*100, "redis-idle-cpu-%")
		})
	}
}

// redisCPUWhileIdle returns the share of one core Redis used over d.
func redisCPUWhileIdle(b *testing.B, rdb *redis.Client, d time.Duration) float64 {
	cpu := func() float64 {
		info, err := rdb.Info(context.Background(), "cpu").Result()
		if err != nil {
			b.Fatal(err)
		}
		var sum float64
		for _, line := range strings.Split(info, "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
			if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
				f, _ := strconv.ParseFloat(v, 64)
				sum += f
			}
		}
		return sum
	}
	before := cpu()
	time.Sleep(d)
	return (cpu() - before) / d.Seconds()
}
