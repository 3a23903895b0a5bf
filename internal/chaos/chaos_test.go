//go:build chaos

package chaos_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// redisProc is a redis-server of the suite's own, with AOF on.
type redisProc struct {
	t    *testing.T
	dir  string
	port int
	cmd  *exec.Cmd
}

func (r *redisProc) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--logfile", filepath.Join(r.dir, "redis.log"))
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: r.addr()})
	defer c.Close()
	for i := 0; ; i++ {
		if c.Ping(context.Background()).Err() == nil {
			return
		}
		if i > 200 {
			r.t.Fatal("redis-server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *redisProc) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

// crash kills Redis with SIGKILL: what AOF fsynced survives.
func (r *redisProc) crash() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// startChaos starts a scenario: a temporary directory, a redis-server of
// its own with AOF in it, and the chaosworker binary, built once for all
// the scenarios of the run.
func startChaos(t *testing.T) (dir string, rp *redisProc, bin string) {
	t.Helper()
	redis.SetLogger(quietLogger{})
	dir = t.TempDir()
	rp = &redisProc{t: t, dir: dir, port: freePort(t)}
	rp.start()
	workerOnce.Do(func() {
		workerDir, workerErr = os.MkdirTemp("", "mmq-chaosworker-")
		if workerErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(workerDir, "chaosworker"), "./chaosworker").CombinedOutput()
		if err != nil {
			workerErr = fmt.Errorf("build chaosworker: %v\n%s", err, out)
		}
	})
	if workerErr != nil {
		rp.crash()
		t.Fatal(workerErr)
	}
	return dir, rp, filepath.Join(workerDir, "chaosworker")
}

var (
	workerOnce sync.Once
	workerDir  string
	workerErr  error
)

// TestMain removes the chaosworker binary after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if workerDir != "" {
		os.RemoveAll(workerDir)
	}
	os.Exit(code)
}

// workerProc is one chaosworker process.
type workerProc struct {
	t    *testing.T
	bin  string
	args []string
	cmd  *exec.Cmd
	// stderr receives the worker's log; nil means os.Stderr.
	stderr io.Writer
}

func (w *workerProc) start() {
	w.t.Helper()
	w.cmd = exec.Command(w.bin, w.args...)
	w.cmd.Stderr = os.Stderr
	if w.stderr != nil {
		w.cmd.Stderr = w.stderr
	}
	out, _ := w.cmd.StdoutPipe()
	if err := w.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		w.t.Fatalf("worker did not start: %q", line)
	}
}

func (w *workerProc) signal(sig syscall.Signal) {
	_ = w.cmd.Process.Signal(sig)
	_ = w.cmd.Wait()
}

// enqueueJobs creates n jobs of a 3-page PDF, named prefix-00000 on, in the
// store (prefix "chaos") and enqueues their tasks (10 retries each).
func enqueueJobs(t *testing.T, rdb *redis.Client, blobDir, prefix string, n int) (*store.Redis, []string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.New(rdb, store.Config{Prefix: "chaos"})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := fsblob.New(blobDir)
	if err != nil {
		t.Fatal(err)
	}
	key, err := blobs.Put(ctx, threePages(t))
	if err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClientFromRedisClient(rdb)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%05d", prefix, i)
		if err := st.CreateJob(ctx, &tasks.Job{ID: ids[i], Kind: tasks.KindDocument, BlobKey: key}, ""); err != nil {
			t.Fatal(err)
		}
		task, err := tasks.NewAnalyzeTask(tasks.KindDocument, tasks.AnalyzePayload{JobID: ids[i], BlobKey: key}, tasks.EnqueueConfig{MaxRetry: 10})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Enqueue(task); err != nil {
			t.Fatal(err)
		}
	}
	return st, ids
}

// threePages makes a 3-page PDF from the worker package's 64-page booklet.
func threePages(t *testing.T) []byte {
	data, err := os.ReadFile("../../worker/testdata/pdfcpu-bookletTest.pdf")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := api.RemovePages(bytes.NewReader(data), &out, []string{"4-64"}, nil); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestCrashAndRestart runs MMQ_CHAOS_JOBS jobs (default 1000) of 3 pages
// through two worker processes while it kills one with SIGKILL twice,
// crashes and restarts Redis once, and stops the other with SIGTERM; then
// checks that no job, and no page result, was lost or duplicated.
func TestCrashAndRestart(t *testing.T) {
	jobs := envInt("MMQ_CHAOS_JOBS", 1000)
	dir, rp, bin := startChaos(t)
	defer rp.crash()
	blobDir, logPath := filepath.Join(dir, "blobs"), filepath.Join(dir, "analyses.log")
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: rp.addr(), MaxRetries: 20})
	defer rdb.Close()
	st, ids := enqueueJobs(t, rdb, blobDir, "job", jobs)

	args := []string{"-redis", rp.addr(), "-blobs", blobDir, "-log", logPath, "-latency", "15ms", "-shutdown-timeout", "5s"}
	a := &workerProc{t: t, bin: bin, args: args}
	b := &workerProc{t: t, bin: bin, args: args}
	a.start()
	b.start()
	defer a.signal(syscall.SIGKILL)
	defer b.signal(syscall.SIGKILL)

	ended := func() int { return endedJobs(ctx, rdb, ids) }
	waitEnded := func(frac float64, limit time.Duration) {
		deadline := time.Now().Add(limit)
		for ended() < int(frac*float64(jobs)) {
			if time.Now().After(deadline) {
				t.Fatalf("only %d of %d jobs ended after %v", ended(), jobs, limit)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var events []string
	step := func(format string, args ...any) {
		e := fmt.Sprintf("%6.1fs  %d/%d ended  ", time.Since(begin).Seconds(), ended(), jobs) + fmt.Sprintf(format, args...)
		events = append(events, e)
		t.Log(e)
	}
	begin = time.Now()
	waitEnded(0.15, 3*time.Minute)
	step("SIGKILL worker A")
	a.signal(syscall.SIGKILL)
	a.start()
	waitEnded(0.35, 3*time.Minute)
	step("crash Redis (SIGKILL) and restart it from its AOF")
	rp.crash()
	time.Sleep(500 * time.Millisecond)
	rp.start()
	waitEnded(0.55, 3*time.Minute)
	step("SIGKILL worker A again")
	a.signal(syscall.SIGKILL)
	a.start()
	waitEnded(0.75, 3*time.Minute)
	step("SIGTERM worker B (graceful), then restart it")
	b.signal(syscall.SIGTERM)
	b.start()
	waitEnded(1, 5*time.Minute)
	step("all jobs ended")

	// Every job ended succeeded, with 3 results, no more.
	var lost, missing []string
	for _, id := range ids {
		j, err := st.GetJob(ctx, id)
		if err != nil || j.Status != tasks.StatusSucceeded || j.PagesDone != 3 || j.PagesFailed != 0 {
			lost = append(lost, fmt.Sprintf("%s=%+v/%v", id, j, err))
			continue
		}
		rs, _, err := st.Results(ctx, id, -1, 10)
		if err != nil || len(rs) != 3 || rs[0].Index != 1 || rs[2].Index != 3 {
			missing = append(missing, id)
		}
	}
	if len(lost) > 0 || len(missing) > 0 {
		t.Errorf("%d jobs not succeeded (e.g. %v), %d with wrong results", len(lost), lost[:min(3, len(lost))], len(missing))
	}

	// Analyses: how often each page was started and finished.
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	started, finished := map[string]int{}, map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		what, page, _ := strings.Cut(line, " ")
		if what == "S" {
			started[page]++
		} else {
			finished[page]++
		}
	}
	var startedTwice, finishedTwice int
	for _, n := range started {
		startedTwice += n - 1
	}
	for _, n := range finished {
		finishedTwice += n - 1
	}
	// Bound: the pages in flight at the two SIGKILLs (16 a process) and the
	// results Redis had not fsynced when it crashed (appendfsync everysec:
	// about a second of results, at most what two workers finish in it).
	inFlight := 2 * 16
	unsynced := 2 * 16 * int(time.Second/(15*time.Millisecond))
	summary := fmt.Sprintf("jobs=%d pages=%d lost_jobs=%d missing_results=%d analyses_started=%d pages_started_more_than_once=%d pages_finished_more_than_once=%d bound=%d+%d took=%v",
		jobs, 3*jobs, len(lost), len(missing), len(started)+startedTwice, startedTwice, finishedTwice, inFlight, unsynced, time.Since(begin).Round(time.Millisecond))
	for _, e := range events {
		fmt.Println("chaos:", e)
	}
	fmt.Println("chaos:", summary)
	if len(finished) != 3*jobs {
		t.Errorf("%d distinct pages finished, want %d", len(finished), 3*jobs)
	}
	if startedTwice > inFlight+unsynced {
		t.Errorf("%d pages started again, more than the %d+%d that can be explained", startedTwice, inFlight, unsynced)
	}
}

var begin time.Time

// quietLogger drops go-redis's reconnect messages while Redis is down.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
