package autopipe_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/internal/autopipe"
	"github.com/mmq/mmq/internal/redistest"
)

// recorder is a go-redis hook that notes the pipelines the client sends:
// how many, how many commands they held, the largest, and how many commands
// in them answered NOSCRIPT.
type recorder struct {
	mu        sync.Mutex
	pipelines int
	cmds      int
	largest   int
	noScript  int
}

func (r *recorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *recorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (r *recorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.pipelines++
		r.cmds += len(cmds)
		r.largest = max(r.largest, len(cmds))
		for _, c := range cmds {
			if c.Err() != nil && strings.HasPrefix(c.Err().Error(), "NOSCRIPT") {
				r.noScript++
			}
		}
		return err
	}
}

func (r *recorder) snapshot() (pipelines, cmds, largest, noScript int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pipelines, r.cmds, r.largest, r.noScript
}

// setup returns a flushed client on the package's DB with a recorder hooked
// in, and its autopipeliner.
func setup(t *testing.T) (*redis.Client, *redis.AutoPipeliner, *recorder) {
	t.Helper()
	rdb := redistest.New(t, redistest.DBAutopipe)
	rec := &recorder{}
	rdb.AddHook(rec)
	ap, err := autopipe.Client(rdb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ap.Close() })
	return rdb, ap, rec
}

// parallel runs fn(g) for g in [0, n) at once and waits for all.
func parallel(n int, fn func(g int)) {
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() { fn(g) })
	}
	wg.Wait()
}

func TestOptionsValid(t *testing.T) {
	if err := autopipe.Options().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestClientIsSharedPerRedisClient(t *testing.T) {
	rdb, ap, _ := setup(t)
	again, err := autopipe.Client(rdb)
	if err != nil {
		t.Fatal(err)
	}
	if again != ap {
		t.Fatal("a second Client call built a second autopipeliner")
	}
	if !ap.IsBlocking() {
		t.Fatal("the autopipeliner is not the blocking face")
	}
}

// Concurrent callers' commands share pipelines, and each caller gets its own
// reply, or its own error, never a neighbour's.
func TestEachCallerGetsItsOwnReply(t *testing.T) {
	rdb, ap, rec := setup(t)
	ctx := context.Background()
	if err := rdb.HSet(ctx, "a-hash", "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	const goroutines, rounds = 64, 100
	errs := make(chan error, goroutines)
	parallel(goroutines, func(g int) {
		key := "counter:" + strconv.Itoa(g)
		for i := 1; i <= rounds; i++ {
			n, err := ap.Incr(ctx, key).Result()
			if err != nil || n != int64(i) {
				errs <- fmt.Errorf("goroutine %d: INCR %s = %d, %v; want %d", g, key, n, err, i)
				return
			}
			// Every fourth goroutine also sends a command that fails in the
			// same batches as its neighbours' that succeed.
			if g%4 == 0 {
				if err := ap.Incr(ctx, "a-hash").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
					errs <- fmt.Errorf("goroutine %d: INCR of a hash: %v, want WRONGTYPE", g, err)
					return
				}
			}
			v, err := ap.Get(ctx, key).Result()
			if err != nil || v != strconv.Itoa(i) {
				errs <- fmt.Errorf("goroutine %d: GET %s = %q, %v; want %d", g, key, v, err, i)
				return
			}
		}
		if err := ap.Get(ctx, "missing:"+strconv.Itoa(g)).Err(); !errors.Is(err, redis.Nil) {
			errs <- fmt.Errorf("goroutine %d: GET of a missing key: %v, want redis.Nil", g, err)
		}
	})
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for g := range goroutines {
		if v, _ := rdb.Get(ctx, "counter:"+strconv.Itoa(g)).Int(); v != rounds {
			t.Errorf("counter:%d = %d, want %d", g, v, rounds)
		}
	}
	pipelines, cmds, largest, _ := rec.snapshot()
	t.Logf("%d pipelines, %d commands, largest %d", pipelines, cmds, largest)
	if largest < 2 {
		t.Errorf("no pipeline held more than one command (%d pipelines, %d commands)", pipelines, cmds)
	}
}

// go-redis's Script.Run sends EVALSHA and, on NOSCRIPT, EVAL: both steps
// go through the pipeline and every caller ends with its script's answer.
func TestScriptRunFallsBackToEvalThroughThePipeline(t *testing.T) {
	rdb, ap, rec := setup(t)
	ctx := context.Background()
	script := redis.NewScript(`return KEYS[1] .. "=" .. ARGV[1] .. ":" .. redis.call("INCR", KEYS[1])`)
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	const goroutines = 64
	errs := make(chan error, goroutines)
	parallel(goroutines, func(g int) {
		key := "s:" + strconv.Itoa(g)
		for i := 1; i <= 3; i++ {
			got, err := script.Run(ctx, ap, []string{key}, g).Text()
			want := fmt.Sprintf("%s=%d:%d", key, g, i)
			if err != nil || got != want {
				errs <- fmt.Errorf("goroutine %d: script = %q, %v; want %q", g, got, err, want)
				return
			}
		}
	})
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ok, err := rdb.ScriptExists(ctx, script.Hash()).Result(); err != nil || !ok[0] {
		t.Errorf("script not cached after EVAL: %v %v", ok, err)
	}
	pipelines, cmds, largest, noScript := rec.snapshot()
	t.Logf("%d pipelines, %d commands, largest %d, %d NOSCRIPT", pipelines, cmds, largest, noScript)
	if noScript == 0 {
		t.Error("no EVALSHA answered NOSCRIPT through the pipeline: the fallback was not exercised")
	}
}

// asynq's enqueue (its Lua script through Script.Run) works through the
// autopipeliner, and a TaskID already taken still comes back as
// asynq.ErrTaskIDConflict — in the same pipelines as enqueues that succeed.
func TestAsynqEnqueueAndTaskIDConflict(t *testing.T) {
	rdb, ap, rec := setup(t)
	ctx := context.Background()
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClientFromRedisClient(ap)
	const goroutines, n = 50, 1000
	enqueue := func(ids func(g int) []int) []error {
		var mu sync.Mutex
		var errs []error
		parallel(goroutines, func(g int) {
			for _, i := range ids(g) {
				info, err := client.EnqueueContext(ctx, asynq.NewTask("test:noop", []byte(strconv.Itoa(i))), asynq.TaskID("t"+strconv.Itoa(i)))
				if err == nil && info.ID != "t"+strconv.Itoa(i) {
					err = fmt.Errorf("task %d enqueued as %q", i, info.ID)
				}
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
		return errs
	}
	// First the even ids.
	for _, err := range enqueue(func(g int) (ids []int) {
		for i := 2 * g; i < n; i += 2 * goroutines {
			ids = append(ids, i)
		}
		return ids
	}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Then all of them: the odd ones are new, the even ones conflict.
	var ok, conflicts int
	for _, err := range enqueue(func(g int) (ids []int) {
		for i := g; i < n; i += goroutines {
			ids = append(ids, i)
		}
		return ids
	}) {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, asynq.ErrTaskIDConflict):
			conflicts++
		default:
			t.Fatal(err)
		}
	}
	if ok != n/2 || conflicts != n/2 {
		t.Errorf("second wave: %d enqueued, %d conflicts; want %d and %d", ok, conflicts, n/2, n/2)
	}
	tasks, err := asynq.NewInspectorFromRedisClient(rdb).ListPendingTasks("default", asynq.PageSize(2*n))
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool, len(tasks))
	for _, ti := range tasks {
		if ti.ID != "t"+string(ti.Payload) || seen[ti.ID] {
			t.Fatalf("pending task %q with payload %q (duplicate: %v)", ti.ID, ti.Payload, seen[ti.ID])
		}
		seen[ti.ID] = true
	}
	if len(seen) != n {
		t.Errorf("%d tasks pending, want %d", len(seen), n)
	}
	pipelines, cmds, largest, noScript := rec.snapshot()
	t.Logf("%d pipelines, %d commands, largest %d, %d NOSCRIPT", pipelines, cmds, largest, noScript)
	if largest < 2 {
		t.Errorf("no pipeline held more than one enqueue (%d pipelines, %d commands)", pipelines, cmds)
	}
}

// A lone command goes out without waiting for company, and once the Redis
// client is closed, commands fail with redis.ErrClosed instead of hanging.
func TestLoneCommandAndClosedClient(t *testing.T) {
	rdb := redis.NewClient(redistest.Options(t, redistest.DBAutopipe))
	ap, err := autopipe.Client(rdb)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := ap.Set(ctx, "lone", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := ap.Get(ctx, "lone").Result(); err != nil || v != "1" {
		t.Fatalf("GET lone = %q, %v", v, err)
	}
	if err := rdb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ap.Get(ctx, "lone").Err(); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("GET after Close: %v, want redis.ErrClosed", err)
	}
	if _, err := autopipe.Client(rdb); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("Client after Close: %v, want redis.ErrClosed", err)
	}
}
