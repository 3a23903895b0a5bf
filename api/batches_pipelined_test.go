package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/internal/autopipe"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/tasks"
)

// A batch enqueued through an autopipelined queue client, as cmd/mmq wires
// it: every job's task is queued, and a task whose id is already taken
// (a retried commit) still counts as queued through the pipeline.
func TestSubmitBatchThroughAutopipeline(t *testing.T) {
	rdb := redis.NewClient(redistest.Options(t, redistest.DBAPI))
	t.Cleanup(func() { _ = rdb.Close() })
	ap, err := autopipe.Client(rdb)
	if err != nil {
		t.Fatal(err)
	}
	var seq atomic.Int64
	b := setup(t, func(_ *api.Config, d *api.Deps) {
		d.Queue = asynq.NewClientFromRedisClient(ap)
		d.NewID = func() string { return fmt.Sprintf("pipelined-%05d", seq.Add(1)) }
	})
	const n = 600
	taken := fmt.Sprintf("pipelined-%05d", n/2)
	if _, err := b.enqueue.Enqueue(asynq.NewTask("test:first", []byte("first")), asynq.TaskID(taken)); err != nil {
		t.Fatal(err)
	}
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf(`"https://example.com/doc-%d.pdf"`, i)
	}
	resp, data := b.do(t, http.MethodPost, "/v1/batches", "application/json", strings.NewReader(`{"urls":[`+strings.Join(urls, ",")+`]}`))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/batches: %d %s", resp.StatusCode, data)
	}
	var got batchReply
	if err := json.Unmarshal(data, &got); err != nil || len(got.JobIDs) != n {
		t.Fatalf("batch: %v %.300s", err, data)
	}
	sawTaken := false
	for i, id := range got.JobIDs {
		if id == taken {
			sawTaken = true
			continue
		}
		p, _ := b.taskPayload(t, "default", id)
		if p.JobID != id || p.SourceURL != fmt.Sprintf("https://example.com/doc-%d.pdf", i) {
			t.Fatalf("task of job %d (%s): %+v", i, id, p)
		}
	}
	if !sawTaken {
		t.Fatalf("no job got id %s; ids %s..%s", taken, got.JobIDs[0], got.JobIDs[n-1])
	}
	// The conflicting enqueue left the first task as it was.
	info, err := b.insp.GetTaskInfo("default", taken)
	if err != nil || info.Type != "test:first" || string(info.Payload) != "first" {
		t.Errorf("task %s: %+v, %v; want the one enqueued first", taken, info, err)
	}
	if q := b.queuedTasks(t); q != n {
		t.Errorf("%d tasks queued, want %d", q, n)
	}
	job, err := b.store.GetJob(t.Context(), taken)
	if err != nil || job.BatchID != got.ID || job.Status != tasks.StatusQueued {
		t.Errorf("job %s: %+v, %v", taken, job, err)
	}
}
