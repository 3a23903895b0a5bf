//go:build chaos

package chaos_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/internal/testwait"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/webhook"
)

// hookSchedule is the scenario's webhooks.schedule: Standard Webhooks'
// shape (at once, then growing waits) squeezed into seconds, long enough
// that no webhook runs out of attempts while the receiver is down.
const hookSchedule = "0s,1s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s"

// hookSeen is one request the receiver got.
type hookSeen struct {
	at      time.Time
	id      string // webhook-id
	event   string
	subject string // the job id, or "batch:" + the batch id
	status  int    // what the receiver answered
	// retryAfter is the Retry-After the receiver sent with status.
	retryAfter time.Duration
	sigErr     error
}

// hookReceiver is the client's webhook endpoint: it answers 503 while
// "failing", refuses connections while "down" (its listener closed), and
// answers 204 when "up"; it records every request it gets.
type hookReceiver struct {
	t      *testing.T
	verify *standardwebhooks.Webhook
	addr   string
	mode   atomic.Value // "failing", "down", "up"
	srv    *http.Server

	mu   sync.Mutex
	seen []hookSeen
	n503 int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	s := hookSeen{at: time.Now(), id: r.Header.Get(webhook.HeaderID)}
	if err == nil {
		s.sigErr = h.verify.Verify(body, r.Header)
	} else {
		s.sigErr = err
	}
	var msg struct {
		Type string `json:"type"`
		Data struct {
			JobID   string `json:"job_id"`
			BatchID string `json:"batch_id"`
			Status  string `json:"status"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &msg)
	s.event, s.subject = msg.Type, msg.Data.JobID
	if msg.Type == tasks.EventBatchCompleted {
		s.subject = "batch:" + msg.Data.BatchID
	}
	h.mu.Lock()
	if h.mode.Load() == "failing" {
		// A third bare, a third asking for a second, a third for three:
		// longer than the schedule's next wait, which must then give way.
		switch h.n503 % 3 {
		case 1:
			s.retryAfter = time.Second
		case 2:
			s.retryAfter = 3 * time.Second
		}
		h.n503++
		s.status = http.StatusServiceUnavailable
	} else {
		s.status = http.StatusNoContent
	}
	h.seen = append(h.seen, s)
	h.mu.Unlock()
	if s.retryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(s.retryAfter/time.Second)))
	}
	w.WriteHeader(s.status)
}

// listen starts serving, on the receiver's address once it has one.
func (h *hookReceiver) listen() {
	h.t.Helper()
	addr := h.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var l net.Listener
	var err error
	for i := 0; ; i++ {
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		if i > 50 {
			h.t.Fatalf("receiver: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.addr = l.Addr().String()
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = h.srv.Serve(l) }()
}

// down closes the listener once the requests being answered are: from then
// on connections are refused.
func (h *hookReceiver) down() {
	h.mode.Store("down")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = h.srv.Shutdown(ctx)
}

func (h *hookReceiver) requests() []hookSeen {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.seen)
}

// subjects returns the subjects seen, and those answered 2xx.
func (h *hookReceiver) subjects() (seen, delivered map[string]bool) {
	seen, delivered = map[string]bool{}, map[string]bool{}
	for _, s := range h.requests() {
		seen[s.subject] = true
		if s.status/100 == 2 {
			delivered[s.subject] = true
		}
	}
	return seen, delivered
}

// TestWebhookReceiverDown ends jobs and batches whose callback URL answers
// 503 (with and without Retry-After) for a stretch, then refuses
// connections, then comes back; one worker process is SIGKILLed and
// restarted during the stretch. Every webhook must then be delivered,
// signed, exactly once as the receiver sees it after deduplicating on
// webhook-id, and each job's delivery log (GET /v1/jobs/{id}/deliveries)
// must hold the failed attempts and one delivery, matching what the
// receiver answered.
//
// MMQ_CHAOS_WEBHOOK_JOBS sets the jobs with their own callback URL
// (default MMQ_CHAOS_JOBS, else 1000); three batches of ten jobs with a
// batch callback come on top.
func TestWebhookReceiverDown(t *testing.T) {
	singles := envInt("MMQ_CHAOS_WEBHOOK_JOBS", envInt("MMQ_CHAOS_JOBS", 1000))
	const batches, perBatch = 3, 10
	dir, rp, bin := startChaos(t)
	defer rp.crash()
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	verify, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	recv := &hookReceiver{t: t, verify: verify}
	recv.mode.Store("failing")
	recv.listen()
	defer func() { _ = recv.srv.Close() }()
	callback := "http://" + recv.addr + "/hooks/mmq"

	// The API, in this process, on the suite's Redis.
	ctx := context.Background()
	blobDir, logPath := filepath.Join(dir, "blobs"), filepath.Join(dir, "analyses.log")
	rdb := redis.NewClient(&redis.Options{Addr: rp.addr(), MaxRetries: 20})
	defer rdb.Close()
	st, _ := store.New(rdb, store.Config{Prefix: "chaos"})
	blobs, _ := fsblob.New(blobDir)
	queue := asynq.NewClientFromRedisClient(rdb)
	defer queue.Close()
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	sched, _ := tasks.ParseSchedule(hookSchedule)
	apiSrv, err := api.New(api.Config{
		SSRF:     ssrf.Config{AllowPrivateNetworks: true},
		Webhooks: tasks.WebhookTaskConfig{Schedule: sched, Timeout: 20 * time.Second, Retention: time.Hour},
		Enqueue:  tasks.EnqueueConfig{MaxRetry: 10},
	}, api.Deps{
		Store: st, Blobs: blobs, Queue: queue, Tasks: inspector, Sniff: media.SniffKind, Logger: zerolog.Nop(),
		InspectPDF: func(ctx context.Context, data []byte, password string, maxPages int) (int, error) {
			d, err := media.OpenPDF(ctx, data, media.PDFOptions{Password: password, MaxPages: maxPages})
			if err != nil {
				return 0, err
			}
			return d.PageCount(), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	apiHTTP := httptest.NewServer(apiSrv.Handler())
	defer apiHTTP.Close()
	c := client.New(apiHTTP.URL, nil)

	// Submit everything before any worker runs, so that the jobs end
	// together once they start.
	pdf := filepath.Join(dir, "three-pages.pdf")
	if err := os.WriteFile(pdf, threePages(t), 0o644); err != nil {
		t.Fatal(err)
	}
	jobIDs := make([]string, singles)
	var submitErr atomic.Value
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < singles; i += 8 {
				j, err := c.SubmitFile(ctx, pdf, client.SubmitOptions{CallbackURL: callback, Metadata: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
				if err != nil {
					submitErr.Store(err)
					return
				}
				jobIDs[i] = j.ID
			}
		})
	}
	wg.Wait()
	if err, _ := submitErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	var batchIDs, batchJobs []string
	for range batches {
		b, err := c.SubmitBatchFiles(ctx, slices.Repeat([]string{pdf}, perBatch), client.SubmitOptions{CallbackURL: callback})
		if err != nil {
			t.Fatal(err)
		}
		batchIDs = append(batchIDs, b.ID)
		batchJobs = append(batchJobs, b.JobIDs...)
	}
	allJobs := append(slices.Clone(jobIDs), batchJobs...)
	want := map[string]bool{}
	for _, id := range jobIDs {
		want[id] = true
	}
	for _, id := range batchIDs {
		want["batch:"+id] = true
	}

	workerLog, err := os.Create(filepath.Join(dir, "workers.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer workerLog.Close()
	args := []string{"-redis", rp.addr(), "-blobs", blobDir, "-log", logPath, "-latency", "15ms", "-shutdown-timeout", "5s",
		"-webhook-secret", secret, "-webhook-schedule", hookSchedule, "-webhook-timeout", "5s", "-allow-private"}
	a := &workerProc{t: t, bin: bin, args: args, stderr: workerLog}
	b := &workerProc{t: t, bin: bin, args: args, stderr: workerLog}
	begin := time.Now()
	var events []string
	step := func(format string, args ...any) {
		seen, delivered := recv.subjects()
		e := fmt.Sprintf("%6.1fs  %d/%d jobs ended, %d/%d webhooks seen, %d delivered  ", time.Since(begin).Seconds(),
			endedJobs(ctx, rdb, allJobs), len(allJobs), len(seen), len(want), len(delivered)) + fmt.Sprintf(format, args...)
		events = append(events, e)
		t.Log(e)
	}
	waitFor := func(what string, limit time.Duration, done func() bool) {
		if !testwait.Until(ctx, limit, done) {
			step("gave up")
			t.Fatalf("%s: not within %v; worker log: %s", what, limit, tail(workerLog.Name()))
		}
	}
	a.start()
	b.start()
	defer a.signal(syscall.SIGKILL)
	defer b.signal(syscall.SIGKILL)
	step("workers started; the receiver answers 503")

	waitFor("all jobs ended", 3*time.Minute, func() bool { return endedJobs(ctx, rdb, allJobs) == len(allJobs) })
	waitFor("every webhook attempted", time.Minute, func() bool {
		seen, _ := recv.subjects()
		return len(seen) >= len(want)
	})
	step("every webhook failed at least once")
	orphans := killQuiet(t, a, inspector)
	step("SIGKILL worker A (%d tasks left in flight), restart it", orphans)
	a.start()
	time.Sleep(3 * time.Second)
	recv.down()
	step("receiver down: connections refused")
	time.Sleep(3 * time.Second)
	recv.mode.Store("up")
	recv.listen()
	step("receiver up")

	// A task in flight on the killed worker comes back only when asynq
	// finds its lease expired: 30 s lease, 30 s grace, a check a minute.
	limit := time.Minute
	if orphans > 0 {
		limit = 3 * time.Minute
	}
	waitFor("every webhook delivered", limit, func() bool {
		_, delivered := recv.subjects()
		return len(delivered) >= len(want)
	})
	step("every webhook delivered")
	// Room for a late duplicate: a schedule step and the forwarder's tick.
	time.Sleep(3500 * time.Millisecond)
	step("checked for late duplicates")
	b.signal(syscall.SIGTERM)
	a.signal(syscall.SIGTERM)

	// What the receiver saw, by webhook id.
	seen := recv.requests()
	byID := map[string][]hookSeen{}
	idOf := map[string]string{} // subject → webhook id
	var badSig, rawDup, answered503 int
	for _, s := range seen {
		if s.sigErr != nil {
			badSig++
			if badSig <= 3 {
				t.Errorf("webhook %s (%s): signature: %v", s.id, s.subject, s.sigErr)
			}
		}
		if s.status == http.StatusServiceUnavailable {
			answered503++
		}
		if !want[s.subject] {
			t.Errorf("webhook %s for %q, which has no callback URL", s.id, s.subject)
		}
		wantEvent := tasks.EventJobSucceeded
		if strings.HasPrefix(s.subject, "batch:") {
			wantEvent = tasks.EventBatchCompleted
		}
		if s.event != wantEvent {
			t.Errorf("webhook %s for %s is a %q, want %q", s.id, s.subject, s.event, wantEvent)
		}
		if prev, ok := idOf[s.subject]; ok && prev != s.id {
			t.Errorf("%s announced with two webhook ids, %s and %s", s.subject, prev, s.id)
		}
		idOf[s.subject] = s.id
		byID[s.id] = append(byID[s.id], s)
	}
	if len(byID) != len(want) {
		t.Errorf("%d distinct webhook ids, want %d (jobs %d + batches %d)", len(byID), len(want), singles, batches)
	}

	// Each webhook's delivery log against what the receiver saw.
	var attempts, refused, explainedDup, maxAttempts int
	minWaitAfter3s := time.Hour
	for subject := range want {
		id, ok := idOf[subject]
		if !ok {
			t.Errorf("%s: no webhook seen", subject)
			continue
		}
		got := byID[id]
		var log []tasks.DeliveryAttempt
		if batchID, ok := strings.CutPrefix(subject, "batch:"); ok {
			log, err = batchDeliveries(ctx, apiHTTP.URL, batchID)
		} else {
			log, err = c.Deliveries(ctx, subject)
		}
		if err != nil {
			t.Errorf("%s: deliveries: %v", subject, err)
			continue
		}
		var ok2xx, delivered int
		for _, s := range got {
			if s.status/100 == 2 {
				ok2xx++
			}
		}
		rawDup += max(ok2xx-1, 0)
		attempts += len(log)
		maxAttempts = max(maxAttempts, len(log))
		var statuses []int
		for i, e := range log {
			if e.WebhookID != id {
				t.Errorf("%s: attempt %d has webhook id %s, the receiver saw %s", subject, i+1, e.WebhookID, id)
			}
			if i > 0 && e.Attempt <= log[i-1].Attempt {
				t.Errorf("%s: attempt numbers %d then %d", subject, log[i-1].Attempt, e.Attempt)
			}
			switch e.Outcome {
			case tasks.DeliveryDelivered:
				delivered++
				if e.StatusCode/100 != 2 {
					t.Errorf("%s: attempt %d delivered with status %d", subject, e.Attempt, e.StatusCode)
				}
			case tasks.DeliveryRetrying:
				if delivered > 0 {
					t.Errorf("%s: attempt %d after the delivery", subject, e.Attempt)
				}
			default:
				t.Errorf("%s: attempt %d ended %s: %s", subject, e.Attempt, e.Outcome, e.Error)
			}
			if e.StatusCode == 0 {
				refused++
			} else {
				statuses = append(statuses, e.StatusCode)
			}
		}
		if delivered < 1 || (len(log) > 0 && log[len(log)-1].Outcome != tasks.DeliveryDelivered) {
			t.Errorf("%s: delivery log does not end with a delivery: %+v", subject, log)
		}
		// A duplicate the receiver got is at-least-once only if the log
		// shows a second delivery.
		if ok2xx > 1 {
			if delivered == ok2xx {
				explainedDup += ok2xx - 1
			} else {
				t.Errorf("%s: the receiver got %s %d times, the log shows %d deliveries", subject, id, ok2xx, delivered)
			}
		}
		var answered []int
		for i, s := range got {
			answered = append(answered, s.status)
			// Reported, not checked: asynq keeps retry times in whole
			// seconds, rounded down, so a retry may come up to a second
			// before the Retry-After.
			if s.retryAfter == 3*time.Second && i+1 < len(got) {
				minWaitAfter3s = min(minWaitAfter3s, got[i+1].at.Sub(s.at))
			}
		}
		// Only an attempt cut by the SIGKILL may be missing from the log.
		if !slices.Equal(statuses, answered) && (orphans == 0 || len(statuses) > len(answered)) {
			t.Errorf("%s: the log has statuses %v, the receiver answered %v", subject, statuses, answered)
		}
	}
	for _, id := range allJobs {
		j, err := st.GetJob(ctx, id)
		if err != nil || j.Status != tasks.StatusSucceeded || j.PagesDone != 3 {
			t.Errorf("job %s: %+v, %v", id, j, err)
		}
	}
	for _, e := range events {
		fmt.Println("chaos: webhook", e)
	}
	if minWaitAfter3s == time.Hour {
		minWaitAfter3s = 0
	}
	fmt.Printf("chaos: webhook receiver down: jobs=%d batches=%d webhooks=%d distinct_ids=%d requests_seen=%d answered_503=%d delivered_once=%d raw_duplicates=%d (explained by the log %d) bad_signatures=%d logged_attempts=%d refused_attempts=%d max_attempts_one_webhook=%d min_wait_after_retry_after_3s=%v killed_in_flight=%d took=%v\n",
		len(allJobs), batches, len(want), len(byID), len(seen), answered503, len(byID)-rawDup, rawDup, explainedDup, badSig,
		attempts, refused, maxAttempts, minWaitAfter3s.Round(time.Millisecond), orphans, time.Since(begin).Round(time.Millisecond))
}

// batchDeliveries reads GET /v1/batches/{id}/deliveries.
func batchDeliveries(ctx context.Context, base, id string) ([]tasks.DeliveryAttempt, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/batches/"+id+"/deliveries", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var out struct {
		Deliveries []tasks.DeliveryAttempt `json:"deliveries"`
	}
	return out.Deliveries, json.NewDecoder(resp.Body).Decode(&out)
}

// killQuiet SIGKILLs w at a moment it runs no task, if it finds one within
// a few tries, and returns how many tasks it left in flight. A task in
// flight on a killed worker comes back only when asynq's recoverer finds
// its lease expired, a minute or two later; the scenario has no time for
// that, and the crash suite covers it.
//
// To find such a moment it stops w (SIGSTOP): what stays active in Redis
// while w is stopped and the other worker runs is w's.
func killQuiet(t *testing.T, w *workerProc, insp *asynq.Inspector) int {
	t.Helper()
	active := func() map[string]bool {
		ids := map[string]bool{}
		qs, _ := insp.Queues()
		for _, q := range qs {
			ts, _ := insp.ListActiveTasks(q, asynq.PageSize(1000))
			for _, ti := range ts {
				ids[ti.ID] = true
			}
		}
		return ids
	}
	stuck := 0
	for range 20 {
		_ = w.cmd.Process.Signal(syscall.SIGSTOP)
		time.Sleep(200 * time.Millisecond)
		first := active()
		time.Sleep(300 * time.Millisecond)
		stuck = 0
		for id := range active() {
			if first[id] {
				stuck++
			}
		}
		if stuck == 0 {
			break
		}
		_ = w.cmd.Process.Signal(syscall.SIGCONT)
		time.Sleep(time.Duration(100+len(first)*10) * time.Millisecond)
	}
	_ = w.cmd.Process.Kill()
	err := w.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Logf("worker wait: %v", err)
	}
	return stuck
}
