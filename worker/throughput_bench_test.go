package worker_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/mmq/mmq/analyzer"
	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/internal/pdftest"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

// Throughput benchmark parameters: both systems get the same Redis, the same
// concurrency and the same number of no-op units of work.
const (
	throughputJobs        = 5000
	throughputConcurrency = 32
	// pageResultJobs jobs of the 64-page booklet measure the memory of
	// page results.
	pageResultJobs = 20
)

// BenchmarkThroughput runs, in one process on one Redis, throughputJobs
// no-op tasks through a bare asynq server, then as many 1-page jobs through
// the whole mmq pipeline with the Noop analyzer: each job is created with
// store.CreateJob and its task enqueued beforehand, then the worker starts
// the job, reads its blob, opens the PDF, extracts and "analyzes" the page,
// saves its result and ends the job with its notification. Both run at
// Concurrency throughputConcurrency and are timed from the server's start to
// an empty queue. Goal: mmq ≥ 0.7 × raw asynq.
//
// It reports jobs/s of each and their ratio, Redis round trips (and
// commands) per job, the Redis memory a finished job keeps until its
// retention ends, and the memory of one page result (from 20 jobs of 64
// pages). Set MMQ_BENCH_VERBOSE=1 for the breakdown by command and by key,
// MMQ_BENCH_CPUPROFILE=file for a CPU profile of the pipeline's run alone.
func BenchmarkThroughput(b *testing.B) {
	opt := redistest.Options(b, redistest.DBThroughput)
	verbose := os.Getenv("MMQ_BENCH_VERBOSE") != ""
	counter := newCmdCounter(verbose)
	rdb := redis.NewClient(opt)
	rdb.AddHook(counter)
	defer rdb.Close()
	// The inspector and the memory probes go through a client of their own,
	// so that the counter sees only the systems under test.
	probe := redis.NewClient(opt)
	defer probe.Close()
	insp := asynq.NewInspectorFromRedisClient(probe)

	var raw, raw1, mmq runResult
	for range b.N {
		r := runRawAsynq(b, rdb, probe, insp, counter, tasks.Queues)
		raw.add(r)
		r1 := runRawAsynq(b, rdb, probe, insp, counter, map[string]int{string(tasks.PriorityDefault): 1})
		raw1.add(r1)
		m := runPipeline(b, rdb, probe, insp, counter, verbose)
		mmq.add(m)
		if verbose {
			b.Logf("raw asynq, mmq's 3 queues: %s", r)
			b.Logf("raw asynq, 1 queue:        %s", r1)
			b.Logf("mmq:                       %s", m)
			b.Logf("mmq commands per job: %s", m.perCommand)
			b.Logf("mmq Redis bytes per job by key: %s", m.perKey)
		}
	}
	// The ratio compares like with like: asynq with mmq's queues (critical,
	// default, low), whose processor tries empty queues too. asynq-1q is the
	// figure BASELINES.md gives, one queue.
	b.ReportMetric(raw.perSecond(), "asynq-tasks/s")
	b.ReportMetric(raw1.perSecond(), "asynq-1q-tasks/s")
	b.ReportMetric(mmq.perSecond(), "mmq-jobs/s")
	b.ReportMetric(mmq.perSecond()/raw.perSecond(), "ratio")
	// CPU per unit of work is steadier than throughput on a shared machine:
	// their ratio is what the throughput ratio would be if CPU were the only
	// limit.
	b.ReportMetric(raw.cpuPerUnit()*1e6, "asynq-cpu-µs/task")
	b.ReportMetric(mmq.cpuPerUnit()*1e6, "mmq-cpu-µs/job")
	b.ReportMetric(raw.cpuPerUnit()/mmq.cpuPerUnit(), "cpu-ratio")
	b.ReportMetric(raw.tripsPerUnit(), "asynq-rt/task")
	b.ReportMetric(mmq.tripsPerUnit(), "mmq-rt/job")
	b.ReportMetric(mmq.cmdsPerUnit(), "mmq-cmds/job")
	b.ReportMetric(float64(raw.memory)/float64(raw.units), "asynq-B/task")
	b.ReportMetric(float64(mmq.memory)/float64(mmq.units), "mmq-B/job")

	pageBytes, pageKeyBytes := measurePageResults(b, rdb, probe, verbose)
	b.ReportMetric(pageBytes, "B/page-result")
	b.ReportMetric(pageKeyBytes, "key-B/page-result")
}

// runResult is one system's figures.
type runResult struct {
	units       int
	elapsed     time.Duration
	trips, cmds int64
	memory      int64   // used_memory after the run minus before it
	redisCPU    float64 // seconds of CPU Redis spent during the run
	goCPU       float64 // seconds of CPU this process spent during the run
	perCommand  string
	perKey      string
}

func (r *runResult) add(o runResult) {
	r.units += o.units
	r.elapsed += o.elapsed
	r.trips += o.trips
	r.cmds += o.cmds
	r.memory += o.memory
	r.redisCPU += o.redisCPU
	r.goCPU += o.goCPU
}

func (r runResult) perSecond() float64    { return float64(r.units) / r.elapsed.Seconds() }
func (r runResult) tripsPerUnit() float64 { return float64(r.trips) / float64(r.units) }
func (r runResult) cmdsPerUnit() float64  { return float64(r.cmds) / float64(r.units) }
func (r runResult) redisBusy() float64    { return r.redisCPU / r.elapsed.Seconds() }
func (r runResult) goBusy() float64       { return r.goCPU / r.elapsed.Seconds() }

// cpuPerUnit is the CPU seconds, Go's and Redis's, one unit of work took.
func (r runResult) cpuPerUnit() float64 { return (r.goCPU + r.redisCPU) / float64(r.units) }

func (r runResult) String() string {
	return fmt.Sprintf("%d in %v: %.0f/s, %.2f round trips and %.2f commands each, %d B of Redis memory each; CPU: Redis %.0f%%, Go %.0f%% of a core",
		r.units, r.elapsed.Round(time.Millisecond), r.perSecond(), r.tripsPerUnit(), r.cmdsPerUnit(), r.memory/int64(r.units), r.redisBusy()*100, r.goBusy()*100)
}

// runRawAsynq enqueues throughputJobs no-op tasks (from 8 goroutines) on
// the default queue, then times a bare asynq server that serves queues
// processing them.
func runRawAsynq(b *testing.B, rdb, probe *redis.Client, insp *asynq.Inspector, counter *cmdCounter, queues map[string]int) runResult {
	b.Helper()
	ctx := context.Background()
	flush(b, probe)
	before := usedMemory(b, probe)
	client := asynq.NewClientFromRedisClient(probe)
	enqueueAll(b, throughputJobs, func(i int) error {
		_, err := client.EnqueueContext(ctx, asynq.NewTask("bench:noop", nil), asynq.Queue(string(tasks.PriorityDefault)))
		return err
	})

	var handled atomic.Int64
	done := make(chan struct{})
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency: throughputConcurrency, Queues: queues,
		TaskCheckInterval: worker.DefaultTaskCheckInterval, LogLevel: asynq.FatalLevel,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc("bench:noop", func(context.Context, *asynq.Task) error {
		if handled.Add(1) == throughputJobs {
			close(done)
		}
		return nil
	})
	trips, cmds := counter.snapshot()
	cpu, gocpu := redisCPU(b, probe), processCPU()
	start := time.Now()
	if err := srv.Start(mux); err != nil {
		b.Fatal(err)
	}
	<-done
	waitQueueEmpty(b, insp)
	r := runResult{units: throughputJobs, elapsed: time.Since(start), redisCPU: redisCPU(b, probe) - cpu, goCPU: processCPU() - gocpu}
	t2, c2 := counter.snapshot()
	r.trips, r.cmds = t2-trips, c2-cmds
	srv.Shutdown()
	r.memory = usedMemory(b, probe) - before
	return r
}

// runPipeline creates throughputJobs 1-page jobs and enqueues their tasks,
// then times an mmq worker processing them with the Noop analyzer.
func runPipeline(b *testing.B, rdb, probe *redis.Client, insp *asynq.Inspector, counter *cmdCounter, verbose bool) runResult {
	b.Helper()
	ctx := context.Background()
	flush(b, probe)
	before := usedMemory(b, probe)
	st, err := store.New(probe, store.Config{Prefix: "mmqbench"})
	if err != nil {
		b.Fatal(err)
	}
	blobs, err := fsblob.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	pdf := onePagePDF()
	key, err := blobs.Put(ctx, pdf)
	if err != nil {
		b.Fatal(err)
	}
	client := asynq.NewClientFromRedisClient(probe)
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	enqueueAll(b, throughputJobs, func(i int) error {
		// As the API creates an uploaded PDF's job: inspected, so with its
		// page count, and enqueued right after.
		j := &tasks.Job{
			ID: fmt.Sprintf("%s-%d", runID, i), Kind: tasks.KindDocument, Status: tasks.StatusQueued,
			Options:  tasks.Options{Task: "general_qa", Priority: tasks.PriorityDefault, MaxPages: 2000},
			Filename: "one.pdf", BlobKey: key, Size: int64(len(pdf)), PagesTotal: 1, CreatedAt: time.Now().UTC(),
		}
		if err := st.CreateJob(ctx, j, ""); err != nil {
			return err
		}
		task, err := tasks.NewAnalyzeTask(tasks.KindDocument, tasks.AnalyzePayload{JobID: j.ID, BlobKey: key, Options: j.Options}, tasks.EnqueueConfig{})
		if err != nil {
			return err
		}
		_, err = client.EnqueueContext(ctx, task)
		return err
	})

	// The worker's store counts the jobs that end.
	workerStore, err := store.New(rdb, store.Config{Prefix: "mmqbench"})
	if err != nil {
		b.Fatal(err)
	}
	ended := &endCounter{Redis: workerStore, want: throughputJobs, done: make(chan struct{})}
	w, err := worker.New(worker.Config{
		Concurrency: throughputConcurrency, PageConcurrency: 8, ProcessPageConcurrency: throughputConcurrency,
		TaskCheckInterval: worker.DefaultTaskCheckInterval, ShutdownTimeout: 5 * time.Second,
	}, worker.Deps{
		Store: ended, Blobs: blobs, Analyzer: analyzer.Noop{}, Logger: zerolog.Nop(),
		OpenPDF: func(ctx context.Context, data []byte, password string) (worker.Document, error) {
			return media.OpenPDF(ctx, data, media.PDFOptions{Password: password})
		},
	}, rdb)
	if err != nil {
		b.Fatal(err)
	}
	counter.reset()
	trips, cmds := counter.snapshot()
	cpu, gocpu := redisCPU(b, probe), processCPU()
	if path := os.Getenv("MMQ_BENCH_CPUPROFILE"); path != "" {
		// The pipeline's phase alone; go test -cpuprofile covers all.
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	select {
	case <-ended.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d jobs ended after 5 minutes", ended.n.Load(), throughputJobs)
	}
	waitQueueEmpty(b, insp)
	r := runResult{units: throughputJobs, elapsed: time.Since(start), redisCPU: redisCPU(b, probe) - cpu, goCPU: processCPU() - gocpu}
	t2, c2 := counter.snapshot()
	r.trips, r.cmds = t2-trips, c2-cmds
	r.perCommand = counter.breakdown(throughputJobs)
	w.Shutdown()

	// Every job succeeded, and its keys expire with the store's retention.
	id := fmt.Sprintf("%s-%d", runID, throughputJobs/2)
	j, err := st.GetJob(ctx, id)
	if err != nil || j.Status != tasks.StatusSucceeded || j.PagesDone != 1 || j.Attempts != 1 {
		b.Fatalf("job after the run: %+v, %v", j, err)
	}
	for _, suffix := range []string{"", ":results", ":idx", ":done", ":events"} {
		if ttl := probe.PTTL(ctx, "mmqbench:job:{"+id+"}"+suffix).Val(); ttl <= 0 || ttl > 7*24*time.Hour {
			b.Errorf("TTL of the job's %q key is %v; want the 7 days of retention", suffix, ttl)
		}
	}
	r.memory = usedMemory(b, probe) - before
	if verbose {
		r.perKey = keyMemory(b, probe, throughputJobs)
	}
	return r
}

// measurePageResults runs pageResultJobs jobs of the 64-page booklet and
// returns the Redis memory per page result: the used_memory growth divided
// by the pages, and the MEMORY USAGE of the keys that hold results (the
// results hash, the index and the done set) divided by the pages.
func measurePageResults(b *testing.B, rdb, probe *redis.Client, verbose bool) (perPage, perPageKeys float64) {
	b.Helper()
	ctx := context.Background()
	flush(b, probe)
	st, err := store.New(rdb, store.Config{Prefix: "mmqbench"})
	if err != nil {
		b.Fatal(err)
	}
	blobs, err := fsblob.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(booklet)
	if err != nil {
		b.Fatal(err)
	}
	key, err := blobs.Put(ctx, data)
	if err != nil {
		b.Fatal(err)
	}
	const pages = 64
	ids := make([]string, pageResultJobs)
	for i := range ids {
		ids[i] = "pages-" + strconv.Itoa(i)
		j := &tasks.Job{ID: ids[i], Kind: tasks.KindDocument, Status: tasks.StatusQueued, BlobKey: key, PagesTotal: pages,
			Options: tasks.Options{Task: "general_qa", Priority: tasks.PriorityDefault, MaxPages: 2000}, CreatedAt: time.Now().UTC()}
		if err := st.CreateJob(ctx, j, ""); err != nil {
			b.Fatal(err)
		}
	}
	h, err := worker.NewHandler(worker.Config{PageConcurrency: 16, ProcessPageConcurrency: 16}, worker.Deps{
		Store: st, Blobs: blobs, Analyzer: analyzer.Noop{}, Logger: zerolog.Nop(),
		OpenPDF: func(ctx context.Context, data []byte, password string) (worker.Document, error) {
			return media.OpenPDF(ctx, data, media.PDFOptions{Password: password})
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	before := usedMemory(b, probe)
	var keyBytes int64
	for _, id := range ids {
		task, err := tasks.NewAnalyzeTask(tasks.KindDocument, tasks.AnalyzePayload{JobID: id, BlobKey: key}, tasks.EnqueueConfig{})
		if err != nil {
			b.Fatal(err)
		}
		if err := h.ProcessTask(ctx, task); err != nil {
			b.Fatal(err)
		}
		for _, suffix := range []string{":results", ":idx", ":done"} {
			keyBytes += memoryUsage(b, probe, "mmqbench:job:{"+id+"}"+suffix)
		}
	}
	grown := usedMemory(b, probe) - before
	n := float64(pageResultJobs * pages)
	if verbose {
		b.Logf("page results: %d jobs x %d pages: used_memory +%d B (%.0f B/page, job overhead included); results keys %.0f B/page",
			pageResultJobs, pages, grown, float64(grown)/n, float64(keyBytes)/n)
	}
	return float64(grown) / n, float64(keyBytes) / n
}

// endCounter is the worker's store; it closes done when want jobs ended.
type endCounter struct {
	*store.Redis
	want int64
	n    atomic.Int64
	done chan struct{}
}

func (e *endCounter) FinishJob(ctx context.Context, id string, status tasks.Status, code tasks.Code, msg string) (*tasks.Job, error) {
	j, err := e.Redis.FinishJob(ctx, id, status, code, msg)
	e.count(err)
	return j, err
}

func (e *endCounter) EndJob(ctx context.Context, id string) (*tasks.Job, error) {
	j, err := e.Redis.EndJob(ctx, id)
	e.count(err)
	return j, err
}

// SaveLastPage ends the job when its last page ends it.
func (e *endCounter) SaveLastPage(ctx context.Context, id string, r tasks.PageResult) (*tasks.Job, error) {
	j, err := e.Redis.SaveLastPage(ctx, id, r)
	if j != nil {
		e.count(err)
	}
	return j, err
}

func (e *endCounter) count(err error) {
	if err == nil && e.n.Add(1) == e.want {
		close(e.done)
	}
}

// enqueueAll runs add(0..n-1) from 8 goroutines.
func enqueueAll(b *testing.B, n int, add func(i int) error) {
	b.Helper()
	var g errgroup.Group
	g.SetLimit(8)
	for i := range n {
		g.Go(func() error { return add(i) })
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}

// waitQueueEmpty waits until no task is pending or active.
func waitQueueEmpty(b *testing.B, insp *asynq.Inspector) {
	b.Helper()
	deadline := time.After(time.Minute)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		info, err := insp.GetQueueInfo(string(tasks.PriorityDefault))
		if err != nil {
			b.Fatal(err)
		}
		if info.Pending == 0 && info.Active == 0 {
			return
		}
		select {
		case <-deadline:
			b.Fatalf("queue not empty after a minute: %+v", info)
		case <-tick.C:
		}
	}
}

func flush(b *testing.B, c *redis.Client) {
	b.Helper()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		b.Fatal(err)
	}
}

// usedMemory returns Redis's used_memory. It is the whole server's: run
// the benchmark on a Redis nothing else uses.
func usedMemory(b *testing.B, c *redis.Client) int64 {
	b.Helper()
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Fatal("no used_memory in INFO memory")
	return 0
}

// processCPU returns the CPU seconds this process has used.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// redisCPU returns the CPU seconds Redis has used, system and user.
func redisCPU(b *testing.B, c *redis.Client) float64 {
	b.Helper()
	info, err := c.Info(context.Background(), "cpu").Result()
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

func memoryUsage(b *testing.B, c *redis.Client, key string) int64 {
	b.Helper()
	n, err := c.MemoryUsage(context.Background(), key, 0).Result()
	if err != nil && err != redis.Nil {
		b.Fatal(err)
	}
	return n
}

// keyPattern strips ids from key names so that keys group by kind.
var keyPattern = regexp.MustCompile(`\{[^}]*\}|:t:[^:]+$|[0-9a-z]+-[0-9]+$`)

// keyMemory sums MEMORY USAGE by kind of key over the database, per job,
// with each kind's TTL as seen on one of its keys.
func keyMemory(b *testing.B, c *redis.Client, jobs int) string {
	b.Helper()
	ctx := context.Background()
	bytesOf, ttlOf := map[string]int64{}, map[string]time.Duration{}
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		kind := keyPattern.ReplaceAllStringFunc(k, func(m string) string {
			if strings.HasPrefix(m, "{") {
				return "{*}"
			}
			if strings.HasPrefix(m, ":t:") {
				return ":t:*"
			}
			return "*"
		})
		bytesOf[kind] += memoryUsage(b, c, k)
		if _, ok := ttlOf[kind]; !ok {
			ttlOf[kind] = c.PTTL(ctx, k).Val()
		}
	}
	if err := iter.Err(); err != nil {
		b.Fatal(err)
	}
	kinds := make([]string, 0, len(bytesOf))
	for k := range bytesOf {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return bytesOf[kinds[i]] > bytesOf[kinds[j]] })
	var s strings.Builder
	for _, k := range kinds {
		ttl := "no TTL"
		if d := ttlOf[k]; d > 0 {
			ttl = "TTL " + d.Round(time.Hour).String()
		}
		fmt.Fprintf(&s, "\n    %-45s %7.1f B/job  (%s)", k, float64(bytesOf[k])/float64(jobs), ttl)
	}
	return s.String()
}

// cmdCounter is a go-redis hook that counts round trips and commands, and
// when verbose, commands by name and first key (which costs CPU of its own).
type cmdCounter struct {
	trips, cmds atomic.Int64
	verbose     bool
	mu          sync.Mutex
	byName      map[string]int64
}

func newCmdCounter(verbose bool) *cmdCounter {
	return &cmdCounter{verbose: verbose, byName: map[string]int64{}}
}

func (c *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.trips.Add(1)
		c.cmds.Add(1)
		c.count(cmd)
		return next(ctx, cmd)
	}
}

func (c *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.trips.Add(1)
		c.cmds.Add(int64(len(cmds)))
		for _, cmd := range cmds {
			c.count(cmd)
		}
		return next(ctx, cmds)
	}
}

// count files cmd under its name and, for a script, its first key's kind.
func (c *cmdCounter) count(cmd redis.Cmder) {
	if !c.verbose {
		return
	}
	name := cmd.Name()
	args := cmd.Args()
	if (name == "evalsha" || name == "eval") && len(args) > 3 {
		name += " " + keyPattern.ReplaceAllString(fmt.Sprint(args[3]), "*")
	}
	c.mu.Lock()
	c.byName[name]++
	c.mu.Unlock()
}

func (c *cmdCounter) snapshot() (trips, cmds int64) { return c.trips.Load(), c.cmds.Load() }

func (c *cmdCounter) reset() {
	c.mu.Lock()
	c.byName = map[string]int64{}
	c.mu.Unlock()
}

// breakdown lists the commands counted since the last reset, per unit.
func (c *cmdCounter) breakdown(units int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.byName))
	for n := range c.byName {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return c.byName[names[i]] > c.byName[names[j]] })
	var s strings.Builder
	for _, n := range names {
		if per := float64(c.byName[n]) / float64(units); per >= 0.01 {
			fmt.Fprintf(&s, "\n    %-50s %.2f", n, per)
		}
	}
	return s.String()
}

// onePagePDF is a minimal valid PDF of one page with a line of text.
func onePagePDF() []byte { return pdftest.Text("Hello, bench") }
