package worker_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/internal/testwait"
	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/webhook"
	"github.com/mmq/mmq/worker"
)

var (
	_ worker.Enqueuer  = (*asynq.Client)(nil)
	_ worker.Deliverer = (*webhook.Deliverer)(nil)
)

const hookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// hit is one request a receiver got.
type hit struct {
	at     time.Time
	path   string
	header http.Header
	body   []byte
}

// receiver is an HTTP server that answers its n-th request (from 1) with
// respond and reports every request on hits.
type receiver struct {
	*httptest.Server
	hits chan hit
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{hits: make(chan hit, 64)}
	var mu sync.Mutex
	n := 0
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		n++
		call := n
		mu.Unlock()
		rc.hits <- hit{at: time.Now(), path: r.URL.Path, header: r.Header.Clone(), body: body}
		respond(call, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// next waits for the receiver's next request.
func (rc *receiver) next(t *testing.T) hit {
	t.Helper()
	select {
	case h := <-rc.hits:
		return h
	case <-time.After(20 * time.Second):
		t.Fatal("timed out waiting for a webhook request")
		return hit{}
	}
}

// hookBundle is a running worker with webhooks on.
type hookBundle struct {
	*testBundle
	queue *asynq.Client
	insp  *asynq.Inspector
	cfg   worker.Config
}

// setupHooks starts a worker whose webhooks follow schedule and time out
// after timeout; guard is its SSRF policy.
func setupHooks(t *testing.T, schedule tasks.Schedule, timeout time.Duration, guard ssrf.Config, a worker.Analyzer) *hookBundle {
	t.Helper()
	return setupHooksConfig(t, webhook.Config{Secret: hookSecret, Timeout: timeout, SSRF: guard}, schedule, a)
}

// setupHooksConfig starts a worker whose webhooks follow schedule and go
// out through a Deliverer of hooks.
func setupHooksConfig(t *testing.T, hooks webhook.Config, schedule tasks.Schedule, a worker.Analyzer) *hookBundle {
	t.Helper()
	b := setup(t)
	queue := asynq.NewClientFromRedisClient(b.rdb)
	insp := asynq.NewInspectorFromRedisClient(b.rdb)
	d, err := webhook.New(hooks)
	if err != nil {
		t.Fatal(err)
	}
	cfg := b.config()
	cfg.TaskCheckInterval = 5 * time.Millisecond
	cfg.DelayedTaskCheckInterval = 20 * time.Millisecond
	cfg.Webhooks = tasks.WebhookTaskConfig{Schedule: schedule, Timeout: hooks.Timeout + 5*time.Second}
	if a == nil {
		a = newFake(nil)
	}
	w, err := worker.New(cfg, worker.Deps{Store: b.store, Blobs: b.blobs, Analyzer: a, OpenPDF: openPDF, Logger: zerolog.Nop(),
		Queue: queue, Deliverer: d}, redis.NewClient(redistest.Options(t, redistest.DBWorker)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return &hookBundle{testBundle: b, queue: queue, insp: insp, cfg: cfg}
}

// endedJob stores a job that has ended as succeeded, with callback url.
func (b *hookBundle) endedJob(t *testing.T, url string) *tasks.Job {
	t.Helper()
	ctx := context.Background()
	j := &tasks.Job{ID: "job-" + strings.ReplaceAll(t.Name(), "/", "-"), Kind: tasks.KindDocument, CallbackURL: url,
		Metadata: json.RawMessage(`{"order":42}`)}
	if err := b.store.CreateJob(ctx, j, ""); err != nil {
		t.Fatal(err)
	}
	j, err := b.store.FinishJob(ctx, j.ID, tasks.StatusSucceeded, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// announce enqueues j's webhook as the worker does when j ends.
func (b *hookBundle) announce(t *testing.T, j *tasks.Job) tasks.WebhookPayload {
	t.Helper()
	p, err := tasks.JobWebhookPayload(j)
	if err != nil {
		t.Fatal(err)
	}
	task, err := tasks.NewWebhookTask(p, p.WebhookID, b.cfg.Webhooks)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.queue.Enqueue(task); err != nil {
		t.Fatal(err)
	}
	return p
}

// attempts waits until the job's delivery log has n attempts, the last
// one final (not retrying) when final is set, and returns them.
func (b *hookBundle) attempts(t *testing.T, jobID string, n int, final bool) []tasks.DeliveryAttempt {
	t.Helper()
	var as []tasks.DeliveryAttempt
	testwait.For(t, 20*time.Second, "delivery attempts logged", func() bool {
		var err error
		as, err = b.store.JobDeliveries(context.Background(), jobID)
		if err != nil {
			t.Fatal(err)
		}
		return len(as) >= n && (!final || as[len(as)-1].Outcome != tasks.DeliveryRetrying)
	})
	if len(as) != n {
		t.Fatalf("%d attempts logged, want %d: %+v", len(as), n, as)
	}
	return as
}

// settled waits until the webhooks queue has nothing left to run and
// returns its info.
func (b *hookBundle) settled(t *testing.T) *asynq.QueueInfo {
	t.Helper()
	var qi *asynq.QueueInfo
	testwait.For(t, 20*time.Second, "the webhooks queue to settle", func() bool {
		var err error
		if qi, err = b.insp.GetQueueInfo(tasks.WebhookQueue); err != nil {
			t.Fatal(err)
		}
		return qi.Pending+qi.Active+qi.Scheduled+qi.Retry == 0
	})
	return qi
}

func verify(t *testing.T, h hit) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(hookSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(h.body, h.header); err != nil {
		t.Errorf("signature: %v", err)
	}
}

var allowLoopback = ssrf.Config{AllowPrivateNetworks: true}

// A receiver that fails twice then answers 200 gets the message three
// times with the same id, each signed; every attempt is logged.
func TestWebhookRetriedUntilDelivered(t *testing.T) {
	b := setupHooks(t, tasks.Schedule{0, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}, 5*time.Second, allowLoopback, nil)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
		}
	})
	j := b.endedJob(t, rc.URL)
	p := b.announce(t, j)
	for range 3 {
		h := rc.next(t)
		verify(t, h)
		if h.header.Get("webhook-id") != p.WebhookID || string(h.body) != string(p.Body) {
			t.Errorf("request id %s body %s; want %s %s", h.header.Get("webhook-id"), h.body, p.WebhookID, p.Body)
		}
	}
	as := b.attempts(t, j.ID, 3, true)
	want := []struct {
		status  int
		outcome tasks.DeliveryOutcome
	}{{503, tasks.DeliveryRetrying}, {503, tasks.DeliveryRetrying}, {200, tasks.DeliveryDelivered}}
	for i, a := range as {
		if a.Attempt != i+1 || a.StatusCode != want[i].status || a.Outcome != want[i].outcome || a.WebhookID != p.WebhookID ||
			a.Event != tasks.EventJobSucceeded || a.Time.IsZero() || (a.Error == "") != (i == 2) {
			t.Errorf("attempt %d = %+v, want status %d %s", i+1, a, want[i].status, want[i].outcome)
		}
	}
	if !strings.Contains(as[0].Response, "not yet") {
		t.Errorf("attempt 1 does not keep the answer: %+v", as[0])
	}
	if qi := b.settled(t); qi.Completed != 1 || qi.Archived != 0 {
		t.Errorf("queue: %d completed, %d archived; want the one task completed", qi.Completed, qi.Archived)
	}
}

// 410 Gone stops the delivery at once.
func TestWebhookGoneStops(t *testing.T) {
	b := setupHooks(t, tasks.Schedule{0, 10 * time.Millisecond, 10 * time.Millisecond}, 5*time.Second, allowLoopback, nil)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) })
	j := b.endedJob(t, rc.URL)
	b.announce(t, j)
	rc.next(t)
	as := b.attempts(t, j.ID, 1, true)
	if as[0].StatusCode != 410 || as[0].Outcome != tasks.DeliveryDisabled {
		t.Errorf("attempt = %+v, want 410 disabled", as[0])
	}
	if qi := b.settled(t); qi.Archived != 1 {
		t.Errorf("%d archived tasks, want the delivery archived without retries", qi.Archived)
	}
	if len(rc.hits) != 0 {
		t.Errorf("%d more requests after 410", len(rc.hits))
	}
}

// Retries stop at the end of the schedule.
func TestWebhookRetriesExhausted(t *testing.T) {
	b := setupHooks(t, tasks.Schedule{0, 10 * time.Millisecond, 10 * time.Millisecond}, 5*time.Second, allowLoopback, nil)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadRequest) })
	j := b.endedJob(t, rc.URL)
	b.announce(t, j)
	as := b.attempts(t, j.ID, 3, true)
	for i, a := range as {
		want := tasks.DeliveryRetrying
		if i == 2 {
			want = tasks.DeliveryFailed
		}
		if a.StatusCode != 400 || a.Outcome != want {
			t.Errorf("attempt %d = %+v, want 400 %s", i+1, a, want)
		}
	}
	if qi := b.settled(t); qi.Archived != 1 {
		t.Errorf("%d archived tasks, want 1", qi.Archived)
	}
	if n := len(rc.hits); n != 3 {
		t.Errorf("receiver got %d requests, want 3", n)
	}
}

// A receiver that hangs past the timeout is tried again.
func TestWebhookTimeoutRetried(t *testing.T) {
	b := setupHooks(t, tasks.Schedule{0, 10 * time.Millisecond}, 200*time.Millisecond, allowLoopback, nil)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}
	})
	j := b.endedJob(t, rc.URL)
	b.announce(t, j)
	as := b.attempts(t, j.ID, 2, true)
	if as[0].StatusCode != 0 || as[0].Outcome != tasks.DeliveryRetrying || !strings.Contains(as[0].Error, "no answer within 200ms") ||
		as[0].LatencyMS < 200 {
		t.Errorf("attempt 1 = %+v, want a timeout after 200ms", as[0])
	}
	if as[1].Outcome != tasks.DeliveryDelivered {
		t.Errorf("attempt 2 = %+v, want delivered", as[1])
	}
}

// 429 with a Retry-After longer than the schedule's delay: the next
// attempt waits for it (less up to a second: asynq schedules retries in
// whole Unix seconds).
func TestWebhookRetryAfter(t *testing.T) {
	b := setupHooks(t, tasks.Schedule{0, 10 * time.Millisecond}, 5*time.Second, allowLoopback, nil)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	j := b.endedJob(t, rc.URL)
	b.announce(t, j)
	first, second := rc.next(t), rc.next(t)
	if gap := second.at.Sub(first.at); gap < time.Second {
		t.Errorf("second attempt %v after the first, want the 2 s Retry-After (less asynq's rounding)", gap)
	}
	as := b.attempts(t, j.ID, 2, true)
	if as[0].StatusCode != 429 || as[1].Outcome != tasks.DeliveryDelivered {
		t.Errorf("attempts = %+v", as)
	}
}

// With private networks refused, a callback on the loopback is never
// called: the attempt fails at once, without retries.
func TestWebhookSSRFRefused(t *testing.T) {
	b := setupHooks(t, tasks.Schedule{0, 10 * time.Millisecond, 10 * time.Millisecond}, 5*time.Second, ssrf.Config{}, nil)
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) {})
	for _, url := range []string{rc.URL, "http://169.254.169.254/latest/meta-data/", "http://localhost:1/"} {
		t.Run(url, func(t *testing.T) {
			j := b.endedJob(t, url)
			b.announce(t, j)
			as := b.attempts(t, j.ID, 1, true)
			if as[0].Outcome != tasks.DeliveryFailed || !strings.Contains(as[0].Error, "not reachable") {
				t.Errorf("attempt = %+v, want failed as refused", as[0])
			}
		})
	}
	b.settled(t)
	if len(rc.hits) != 0 {
		t.Error("the loopback receiver was called")
	}
}

// End to end: a job with a callback URL runs through the real asynq server
// and worker; the receiver gets exactly one job.succeeded, validly signed,
// even when the job's task runs again after the job ended.
func TestJobWithCallbackEndToEnd(t *testing.T) {
	b := setupHooks(t, tasks.DefaultWebhookSchedule, 5*time.Second, allowLoopback, nil)
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) {})
	data, err := os.ReadFile(booklet)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key, err := b.blobs.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	j := &tasks.Job{ID: "job-e2e", Kind: tasks.KindDocument, BlobKey: key, CallbackURL: rc.URL, Metadata: json.RawMessage(`{"order":7}`)}
	if err := b.store.CreateJob(ctx, j, ""); err != nil {
		t.Fatal(err)
	}
	task, err := tasks.NewAnalyzeTask(tasks.KindDocument, tasks.AnalyzePayload{JobID: j.ID, BlobKey: key}, tasks.EnqueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.queue.Enqueue(task); err != nil {
		t.Fatal(err)
	}

	h := rc.next(t)
	verify(t, h)
	var msg struct {
		Type      string
		Timestamp time.Time
		Data      tasks.JobEventData
	}
	if err := json.Unmarshal(h.body, &msg); err != nil {
		t.Fatal(err)
	}
	d := msg.Data
	if msg.Type != tasks.EventJobSucceeded || d.JobID != j.ID || d.Status != tasks.StatusSucceeded || d.PagesDone != 64 ||
		string(d.Metadata) != `{"order":7}` || d.Links.Results != "/v1/jobs/job-e2e/results" || d.FinishedAt == nil || !msg.Timestamp.Equal(*d.FinishedAt) {
		t.Errorf("message = %s", h.body)
	}
	b.attempts(t, j.ID, 1, true)

	// The job's task runs again (a duplicate, a redelivered lease): the
	// end is announced again under the same task id, which asynq refuses.
	if err := b.handler(t, newFake(nil)).ProcessTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	if qi := b.settled(t); qi.Completed != 1 || qi.Size != 1 {
		t.Errorf("webhooks queue holds %d tasks (%d completed), want the one delivered", qi.Size, qi.Completed)
	}
	if n := len(rc.hits); n != 0 {
		t.Errorf("%d more webhook requests, want exactly one", n)
	}
}

// The job whose end completes its batch announces the batch: its callback
// URL gets batch.completed once, logged under the batch.
func TestBatchCompletedWebhook(t *testing.T) {
	b := setupHooks(t, tasks.DefaultWebhookSchedule, 5*time.Second, allowLoopback, nil)
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) {})
	ctx := context.Background()
	data, err := os.ReadFile(booklet)
	if err != nil {
		t.Fatal(err)
	}
	key, err := b.blobs.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	jobs := []*tasks.Job{{ID: "bjob-1", Kind: tasks.KindDocument, BlobKey: key}, {ID: "bjob-2", Kind: tasks.KindDocument, BlobKey: key}}
	if err := b.store.CreateBatch(ctx, &tasks.Batch{ID: "batch-1", CallbackURL: rc.URL}, jobs); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		task, _ := tasks.NewAnalyzeTask(tasks.KindDocument, tasks.AnalyzePayload{JobID: j.ID, BlobKey: key}, tasks.EnqueueConfig{})
		if _, err := b.queue.Enqueue(task); err != nil {
			t.Fatal(err)
		}
	}
	h := rc.next(t)
	verify(t, h)
	var msg struct {
		Type string
		Data tasks.BatchEventData
	}
	if err := json.Unmarshal(h.body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != tasks.EventBatchCompleted || msg.Data.BatchID != "batch-1" || msg.Data.Counts[tasks.StatusSucceeded] != 2 {
		t.Errorf("message %s", h.body)
	}
	testwait.For(t, 10*time.Second, "the batch's delivery logged", func() bool {
		as, _ := b.store.BatchDeliveries(ctx, "batch-1")
		return len(as) == 1 && as[0].Outcome == tasks.DeliveryDelivered
	})
	if qi := b.settled(t); qi.Size != 1 || len(rc.hits) != 0 {
		t.Errorf("%d webhook tasks and %d more requests; want 1 task and no more requests", qi.Size, len(rc.hits))
	}
}

// The worker announces the end of a job and of a batch with their
// tenant's secret: acme's own for acme's standalone job and for its
// batch (whose jobs inherit its tenant), the deployment's for beta's job.
// Each request verifies with its tenant's secret only.
func TestTenantWebhookSecrets(t *testing.T) {
	const acmeSecret = "whsec_CWFD6bNBsZaNENNY1FBJnsBwnd32FL6i6SEjAEhyUXA="
	b := setupHooksConfig(t, webhook.Config{Secret: hookSecret, Timeout: 5 * time.Second, SSRF: allowLoopback,
		TenantSecrets: map[string][]string{"acme": {acmeSecret}}}, tasks.DefaultWebhookSchedule, nil)
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) {})
	ctx := context.Background()
	data, err := os.ReadFile(booklet)
	if err != nil {
		t.Fatal(err)
	}
	key, err := b.blobs.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	// The path of the callback URL names what the webhook is about.
	jobs := []*tasks.Job{
		{ID: "acme-job", Kind: tasks.KindDocument, BlobKey: key, Tenant: "acme", CallbackURL: rc.URL + "/acme-job"},
		{ID: "beta-job", Kind: tasks.KindDocument, BlobKey: key, Tenant: "beta", CallbackURL: rc.URL + "/beta-job"},
	}
	for _, j := range jobs {
		if err := b.store.CreateJob(ctx, j, ""); err != nil {
			t.Fatal(err)
		}
	}
	batchJob := &tasks.Job{ID: "acme-batch-job", Kind: tasks.KindDocument, BlobKey: key}
	if err := b.store.CreateBatch(ctx, &tasks.Batch{ID: "acme-batch", Tenant: "acme", CallbackURL: rc.URL + "/acme-batch"}, []*tasks.Job{batchJob}); err != nil {
		t.Fatal(err)
	}
	for _, j := range append(jobs, batchJob) {
		task, err := tasks.NewAnalyzeTask(tasks.KindDocument, tasks.AnalyzePayload{JobID: j.ID, BlobKey: key}, tasks.EnqueueConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.queue.Enqueue(task); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{"/acme-job": acmeSecret, "/acme-batch": acmeSecret, "/beta-job": hookSecret}
	for range want {
		h := rc.next(t)
		path := h.path
		signer, ok := want[path]
		if !ok {
			t.Fatalf("a webhook to %q, want one of %v", path, want)
		}
		delete(want, path)
		for _, secret := range []string{acmeSecret, hookSecret} {
			wh, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(h.body, h.header); (err == nil) != (secret == signer) {
				t.Errorf("%s: secret %s… verifies: %v, want %v", path, secret[:12], err == nil, secret == signer)
			}
		}
	}
}
