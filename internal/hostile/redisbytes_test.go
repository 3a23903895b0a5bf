package hostile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/internal/redistest"
)

// dbBytes sums MEMORY USAGE over every key of rdb's db, by the part of the
// key before its first colon (the store's prefix, asynq's).
func dbBytes(t *testing.T, rdb *redis.Client) (total int64, byPrefix map[string]int64, keys int) {
	t.Helper()
	ctx := context.Background()
	byPrefix = map[string]int64{}
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	var batch []string
	flush := func() {
		cmds := make([]*redis.IntCmd, len(batch))
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range batch {
				cmds[i] = p.MemoryUsage(ctx, k, 0)
			}
			return nil
		})
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		for i, c := range cmds {
			n, _ := c.Result() // a key that expired meanwhile: 0
			prefix, _, _ := strings.Cut(batch[i], ":")
			byPrefix[prefix] += n
			total += n
		}
		keys += len(batch)
		batch = batch[:0]
	}
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 1000 {
			flush()
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return total, byPrefix, keys
}

// usedMemory returns INFO memory's used_memory: the whole server's, so
// only a rough second opinion while other packages' tests run.
func usedMemory(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// A JSON batch of 10,000 URLs with 16 KiB of shared metadata costs Redis
// the metadata once, not once per job.
func TestBatchRedisBytes(t *testing.T) {
	const n = 10000
	s := startServer(t, "api") // no worker: nothing is fetched
	rdb := redis.NewClient(redistest.Options(t, redistest.DBHostile))
	t.Cleanup(func() { rdb.Close() })

	// Metadata of exactly 16 KiB, the most a job or batch may carry.
	const metaSize = 16 << 10
	pad := metaSize - len(`{"note":""}`)
	meta := `{"note":"` + strings.Repeat("m", pad) + `"}`
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://docs.example.com/hostile/batch/%05d.pdf", i)
	}
	body, err := json.Marshal(map[string]any{"urls": urls, "metadata": json.RawMessage(meta)})
	if err != nil {
		t.Fatal(err)
	}

	before, _, keysBefore := dbBytes(t, rdb)
	usedBefore := usedMemory(t, rdb)
	status, resp := s.request(http.MethodPost, "/v1/batches", keyA, "application/json", strings.NewReader(string(body)))
	if status != http.StatusAccepted {
		t.Fatalf("batch: %d %.500s", status, resp)
	}
	var batch struct {
		ID     string   `json:"id"`
		JobIDs []string `json:"job_ids"`
	}
	if err := json.Unmarshal(resp, &batch); err != nil || len(batch.JobIDs) != n {
		t.Fatalf("batch answer: %d job ids (%v)", len(batch.JobIDs), err)
	}
	after, byPrefix, keysAfter := dbBytes(t, rdb)
	usedAfter := usedMemory(t, rdb)
	grew := after - before
	t.Logf("batch of %d URLs with %d B of shared metadata (%d B request): %d keys, MEMORY USAGE +%s (%s: %s, asynq: %s); INFO used_memory %+.1f MiB",
		n, len(meta), len(body), keysAfter-keysBefore, mib(grew), storePrefix, mib(byPrefix[storePrefix]), mib(byPrefix["asynq"]),
		float64(usedAfter-usedBefore)/MiB)
	if grew > 40*MiB {
		t.Errorf("the batch takes %s of Redis, want ≤ 40 MiB", mib(grew))
	}

	// Each job still shows the batch's metadata.
	status, job := s.request(http.MethodGet, "/v1/jobs/"+batch.JobIDs[n-1], keyA, "", nil)
	var got struct {
		Metadata json.RawMessage `json:"metadata"`
	}
	if status != http.StatusOK || json.Unmarshal(job, &got) != nil || string(got.Metadata) != meta {
		t.Errorf("job of the batch: %d, metadata of %d bytes, want the batch's %d", status, len(got.Metadata), len(meta))
	}
}
