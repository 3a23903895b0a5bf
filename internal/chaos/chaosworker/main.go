// Command chaosworker is an mmq worker process for the chaos suite: the real
// worker, store and PDF splitter, with an analyzer that sleeps and then
// records each finished analysis in a log file the suite reads (outside
// Redis, so a Redis restart cannot lose the count).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

// countingAnalyzer appends "S job page" to its log when an analysis starts
// and "D job page" when it finishes, after sleeping its latency.
type countingAnalyzer struct {
	latency time.Duration
	mu      sync.Mutex
	log     *os.File
}

func (a *countingAnalyzer) Analyze(ctx context.Context, u tasks.Unit) (tasks.Analysis, error) {
	if err := a.record("S", u); err != nil {
		return tasks.Analysis{}, err
	}
	t := time.NewTimer(a.latency)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return tasks.Analysis{}, ctx.Err()
	case <-t.C:
	}
	if err := a.record("D", u); err != nil {
		return tasks.Analysis{}, err
	}
	out, _ := json.Marshal(map[string]int{"page": u.Index, "bytes": len(u.Data)})
	return tasks.Analysis{Output: out, Analyzer: "chaos"}, nil
}

// record writes one line with one write(2) on an O_APPEND file, so a
// SIGKILL loses no line that was written.
func (a *countingAnalyzer) record(what string, u tasks.Unit) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err := fmt.Fprintf(a.log, "%s %s %d\n", what, u.JobID, u.Index)
	return err
}

func main() {
	addr := flag.String("redis", "127.0.0.1:6379", "Redis address")
	db := flag.Int("db", 0, "Redis DB")
	blobs := flag.String("blobs", "", "blob directory")
	logPath := flag.String("log", "", "analysis log file")
	latency := flag.Duration("latency", 20*time.Millisecond, "analysis latency")
	shutdown := flag.Duration("shutdown-timeout", 10*time.Second, "graceful shutdown timeout")
	flag.Parse()

	logger := zerolog.New(os.Stderr).With().Timestamp().Int("pid", os.Getpid()).Logger().Level(zerolog.WarnLevel)
	f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		logger.Fatal().Err(err).Msg("open log")
	}
	rdb := redis.NewClient(&redis.Options{Addr: *addr, DB: *db})
	st, err := store.New(rdb, store.Config{Prefix: "chaos"})
	if err != nil {
		logger.Fatal().Err(err).Msg("store")
	}
	lb, err := store.NewLocalBlobs(*blobs)
	if err != nil {
		logger.Fatal().Err(err).Msg("blobs")
	}
	open := func(ctx context.Context, data []byte, password string) (worker.Document, error) {
		return media.OpenPDF(ctx, data, media.PDFOptions{Password: password})
	}
	w, err := worker.New(worker.Config{
		Concurrency:            8,
		PageConcurrency:        4,
		ProcessPageConcurrency: 16,
		PageBackoff:            tasks.Backoff{Base: 50 * time.Millisecond, Cap: time.Second},
		TaskBackoff:            tasks.Backoff{Base: 200 * time.Millisecond, Cap: 2 * time.Second},
		ShutdownTimeout:        *shutdown,
	}, worker.Deps{Store: st, Blobs: lb, Analyzer: &countingAnalyzer{latency: *latency, log: f}, OpenPDF: open, Logger: logger}, rdb)
	if err != nil {
		logger.Fatal().Err(err).Msg("worker")
	}
	if err := w.Start(); err != nil {
		logger.Fatal().Err(err).Msg("start")
	}
	fmt.Println("ready")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	<-ctx.Done()
	stop()
	w.Shutdown()
	f.Close()
}
