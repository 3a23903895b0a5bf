package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/mmq/mmq/tasks"
)

func TestIdempotencyKey(t *testing.T) {
	b := setup(t)
	post := func(path, body, key string) (int, map[string]any, http.Header) {
		resp, data := b.do(t, http.MethodPost, path, "application/json", strings.NewReader(body), "Idempotency-Key", key)
		var v map[string]any
		json.Unmarshal(data, &v)
		return resp.StatusCode, v, resp.Header
	}
	const job = `{"url":"https://example.com/a.pdf","metadata":{"n":1}}`
	code, first, _ := post("/v1/jobs", job, "k-1")
	if code != http.StatusAccepted {
		t.Fatalf("first submit: %d %v", code, first)
	}
	code, again, h := post("/v1/jobs", job, "k-1")
	if code != http.StatusOK || again["id"] != first["id"] || h.Get("Idempotent-Replayed") != "true" {
		t.Errorf("same key, same body: %d %v; want 200 with job %v", code, again["id"], first["id"])
	}
	code, other, _ := post("/v1/jobs", `{"url":"https://example.com/b.pdf"}`, "k-1")
	if code != http.StatusConflict || other["error"].(map[string]any)["code"] != string(tasks.CodeConflict) {
		t.Errorf("same key, other body: %d %v; want 409 conflict", code, other)
	}
	if code, v, _ := post("/v1/jobs", job, "k-2"); code != http.StatusAccepted || v["id"] == first["id"] {
		t.Errorf("another key: %d %v; want a new job", code, v["id"])
	}
	// A refused request does not burn its key.
	if code, _, _ := post("/v1/jobs", `{"url":"ftp://x"}`, "k-3"); code != http.StatusBadRequest {
		t.Errorf("bad url: %d", code)
	}
	if code, _, _ := post("/v1/jobs", job, "k-3"); code != http.StatusAccepted {
		t.Errorf("key of a refused request reused: %d, want 202", code)
	}
	if n := b.queuedTasks(t); n != 3 {
		t.Errorf("%d tasks queued, want 3 (replays enqueue nothing)", n)
	}

	// Concurrent identical requests create one job.
	var wg sync.WaitGroup
	ids := make(chan any, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, v, _ := post("/v1/jobs", `{"url":"https://example.com/c.pdf"}`, "k-race")
			if code == http.StatusAccepted || code == http.StatusOK {
				ids <- v["id"]
			}
		}()
	}
	wg.Wait()
	close(ids)
	distinct := map[any]bool{}
	for id := range ids {
		distinct[id] = true
	}
	if len(distinct) != 1 {
		t.Errorf("concurrent requests with one key created %d jobs", len(distinct))
	}

	const batch = `{"urls":["https://example.com/1.pdf","https://example.com/2.pdf"]}`
	code, b1, _ := post("/v1/batches", batch, "k-1") // keys are per endpoint
	code2, b2, _ := post("/v1/batches", batch, "k-1")
	if code != http.StatusAccepted || code2 != http.StatusOK || b1["id"] != b2["id"] {
		t.Errorf("batch replay: %d %v / %d %v", code, b1["id"], code2, b2["id"])
	}
}
