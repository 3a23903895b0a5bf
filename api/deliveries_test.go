package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/tasks"
)

// webhookTasks returns the payloads and ids of the webhook:deliver tasks
// pending on the webhooks queue.
func (b *testBundle) webhookTasks(t *testing.T) (ps []tasks.WebhookPayload, ids []string) {
	t.Helper()
	infos, err := b.insp.ListPendingTasks(tasks.WebhookQueue)
	if err != nil && !strings.Contains(err.Error(), "not found") {
		t.Fatal(err)
	}
	for _, info := range infos {
		p, err := tasks.DecodeWebhookPayload(info.Payload)
		if err != nil || info.Type != tasks.TypeWebhookDeliver {
			t.Fatalf("task %s %s: %v", info.ID, info.Type, err)
		}
		ps, ids = append(ps, p), append(ids, info.ID)
	}
	return ps, ids
}

// postJSON sends body to path and decodes a 2xx answer into out.
func (b *testBundle) postJSON(t *testing.T, path, body string, out any) (int, []byte) {
	t.Helper()
	resp, data := b.do(t, http.MethodPost, path, "application/json", strings.NewReader(body))
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s: %v in %s", path, err, data)
		}
	}
	return resp.StatusCode, data
}

func TestSubmitCallbackURL(t *testing.T) {
	b := setup(t)
	ctx := context.Background()

	var job tasks.Job
	if code, data := b.postJSON(t, "/v1/jobs", `{"url":"https://example.com/a.pdf","callback_url":"https://hooks.example.com/mmq?t=1"}`, &job); code != 202 {
		t.Fatalf("JSON submit: %d %s", code, data)
	}
	got, err := b.store.GetJob(ctx, job.ID)
	if err != nil || got.CallbackURL != "https://hooks.example.com/mmq?t=1" {
		t.Fatalf("stored job %+v, %v", got, err)
	}
	// Clients see it without its query.
	if shown, err := b.client.Job(ctx, job.ID); err != nil || shown.CallbackURL != "https://hooks.example.com/mmq?REDACTED" {
		t.Fatalf("job as shown: %+v, %v", shown, err)
	}

	// The multipart form takes it too.
	body := "--XX\r\nContent-Disposition: form-data; name=\"callback_url\"\r\n\r\nhttps://hooks.example.com/form\r\n" +
		"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n" +
		string(readFile(t, testdata("linearized-30p.pdf"))) + "\r\n--XX--\r\n"
	resp, data := b.do(t, http.MethodPost, "/v1/jobs", "multipart/form-data; boundary=XX", strings.NewReader(body))
	if resp.StatusCode != 202 || !strings.Contains(string(data), `"callback_url":"https://hooks.example.com/form"`) {
		t.Fatalf("multipart submit: %d %s", resp.StatusCode, data)
	}
}

func TestSubmitURLsRefused(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	cases := []struct {
		name   string
		body   string
		status int
		code   tasks.Code
	}{
		{"callback ftp", `{"url":"https://example.com/a.pdf","callback_url":"ftp://example.com/h"}`, 400, tasks.CodeInvalidURL},
		{"callback file", `{"url":"https://example.com/a.pdf","callback_url":"file:///etc/passwd"}`, 400, tasks.CodeInvalidURL},
		{"callback credentials", `{"url":"https://example.com/a.pdf","callback_url":"https://u:p@example.com/h"}`, 400, tasks.CodeInvalidURL},
		{"callback loopback", `{"url":"https://example.com/a.pdf","callback_url":"http://127.0.0.1:9000/h"}`, 400, tasks.CodeInvalidURL},
		{"callback localhost", `{"url":"https://example.com/a.pdf","callback_url":"http://localhost/h"}`, 400, tasks.CodeInvalidURL},
		{"callback metadata", `{"url":"https://example.com/a.pdf","callback_url":"http://169.254.169.254/latest/meta-data/"}`, 400, tasks.CodeInvalidURL},
		{"callback private", `{"url":"https://example.com/a.pdf","callback_url":"http://10.0.0.8/h"}`, 400, tasks.CodeInvalidURL},
		{"input loopback", `{"url":"http://127.0.0.1/a.pdf"}`, 400, tasks.CodeInvalidURL},
		{"input metadata", `{"url":"http://169.254.169.254/latest/user-data"}`, 400, tasks.CodeInvalidURL},
		{"input IPv6 link-local", `{"url":"http://[fe80::1]/a.pdf"}`, 400, tasks.CodeInvalidURL},
		{"batch callback loopback", `{"urls":["https://example.com/a.pdf"],"callback_url":"http://[::1]/h"}`, 400, tasks.CodeInvalidURL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := "/v1/jobs"
			if strings.HasPrefix(c.name, "batch") {
				path = "/v1/batches"
			}
			resp, data := b.do(t, http.MethodPost, path, "application/json", strings.NewReader(c.body))
			var e struct{ Error struct{ Code tasks.Code } }
			_ = json.Unmarshal(data, &e)
			if resp.StatusCode != c.status || e.Error.Code != c.code {
				t.Errorf("%d %s, want %d %s", resp.StatusCode, data, c.status, c.code)
			}
		})
	}
	if jobs, _, _ := b.client.Jobs(ctx, "", "", 0); len(jobs) != 0 {
		t.Errorf("refused submissions left %d jobs", len(jobs))
	}

	// Development: private networks allowed.
	dev := setup(t, func(c *api.Config, _ *api.Deps) { c.SSRF = ssrf.Config{AllowPrivateNetworks: true} })
	if code, data := dev.postJSON(t, "/v1/jobs", `{"url":"http://127.0.0.1/a.pdf","callback_url":"http://127.0.0.1:9000/h"}`, nil); code != 202 {
		t.Errorf("with private networks allowed: %d %s", code, data)
	}

	// No webhook secret: valid callbacks are refused, and say why.
	off := setup(t, func(c *api.Config, _ *api.Deps) { c.RefuseCallbacks = true })
	code, data := off.postJSON(t, "/v1/jobs", `{"url":"https://example.com/a.pdf","callback_url":"https://hooks.example.com/h"}`, nil)
	if code != 400 || !strings.Contains(string(data), "webhooks.secret") {
		t.Errorf("callbacks off: %d %s", code, data)
	}
}

func TestDeliveriesAndRedeliver(t *testing.T) {
	b := setup(t)
	ctx := context.Background()

	var job tasks.Job
	if code, data := b.postJSON(t, "/v1/jobs", `{"url":"https://example.com/a.pdf","callback_url":"https://hooks.example.com/h"}`, &job); code != 202 {
		t.Fatalf("submit: %d %s", code, data)
	}
	// Not ended yet: nothing to redeliver.
	if code, data := b.postJSON(t, "/v1/jobs/"+job.ID+"/deliveries/redeliver", ``, nil); code != 409 {
		t.Errorf("redeliver of a queued job: %d %s, want 409", code, data)
	}
	ended, err := b.store.FinishJob(ctx, job.ID, tasks.StatusFailed, tasks.CodeFetchFailed, "HTTP 404")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := tasks.JobWebhookPayload(ended)
	att := tasks.DeliveryAttempt{WebhookID: first.WebhookID, Event: first.Event, JobID: job.ID, URL: first.URL, Attempt: 1,
		Time: time.Now().UTC().Truncate(time.Second), StatusCode: 500, LatencyMS: 31, Error: "HTTP 500", Outcome: tasks.DeliveryRetrying}
	if err := b.store.AppendDelivery(ctx, att); err != nil {
		t.Fatal(err)
	}

	resp, data := b.do(t, http.MethodGet, "/v1/jobs/"+job.ID+"/deliveries", "", nil)
	var list struct {
		JobID      string                  `json:"job_id"`
		Deliveries []tasks.DeliveryAttempt `json:"deliveries"`
	}
	if err := json.Unmarshal(data, &list); err != nil || resp.StatusCode != 200 || list.JobID != job.ID ||
		len(list.Deliveries) != 1 || list.Deliveries[0] != att {
		t.Fatalf("GET deliveries: %d %s", resp.StatusCode, data)
	}
	if resp, _ := b.do(t, http.MethodGet, "/v1/jobs/nope/deliveries", "", nil); resp.StatusCode != 404 {
		t.Errorf("deliveries of an unknown job: %d", resp.StatusCode)
	}

	// Each redelivery is a new task carrying the same message.
	for range 2 {
		var rd struct {
			WebhookID string `json:"webhook_id"`
			Event     string `json:"event"`
		}
		if code, data := b.postJSON(t, "/v1/jobs/"+job.ID+"/deliveries/redeliver", ``, &rd); code != 202 || rd.WebhookID != first.WebhookID || rd.Event != tasks.EventJobFailed {
			t.Fatalf("redeliver: %d %s", code, data)
		}
	}
	ps, ids := b.webhookTasks(t)
	if len(ps) != 2 || ids[0] == ids[1] || ids[0] == first.WebhookID {
		t.Fatalf("webhook tasks %v, want two with ids of their own", ids)
	}
	for _, p := range ps {
		if p.WebhookID != first.WebhookID || string(p.Body) != string(first.Body) || p.URL != "https://hooks.example.com/h" {
			t.Errorf("redelivered payload %+v, want the first message", p)
		}
	}

	// A job without a callback has nothing to redeliver.
	var plain tasks.Job
	b.postJSON(t, "/v1/jobs", `{"url":"https://example.com/b.pdf"}`, &plain)
	b.store.FinishJob(ctx, plain.ID, tasks.StatusSucceeded, "", "")
	if code, data := b.postJSON(t, "/v1/jobs/"+plain.ID+"/deliveries/redeliver", ``, nil); code != 409 {
		t.Errorf("redeliver without callback: %d %s, want 409", code, data)
	}
}

// A cancel ends the job in the API, which then enqueues its job.canceled
// webhook; a second announcement of the same end is refused as a duplicate.
func TestCancelAnnouncesWebhook(t *testing.T) {
	b := setup(t)
	var job tasks.Job
	if code, data := b.postJSON(t, "/v1/jobs", `{"url":"https://example.com/a.pdf","callback_url":"https://hooks.example.com/h"}`, &job); code != 202 {
		t.Fatalf("submit: %d %s", code, data)
	}
	if code, data := b.postJSON(t, "/v1/jobs/"+job.ID+"/cancel", ``, nil); code != 200 {
		t.Fatalf("cancel: %d %s", code, data)
	}
	ps, ids := b.webhookTasks(t)
	if len(ps) != 1 || ps[0].Event != tasks.EventJobCanceled || ps[0].JobID != job.ID || ids[0] != ps[0].WebhookID {
		t.Fatalf("webhook tasks %+v (ids %v), want one job.canceled under its message id", ps, ids)
	}
	ended, _ := b.client.Job(context.Background(), job.ID)
	ts, err := tasks.NewEndWebhookTasks(ended, nil, tasks.WebhookTaskConfig{})
	if err != nil || len(ts) != 1 {
		t.Fatal(ts, err)
	}
	if _, err := b.enqueue.Enqueue(ts[0]); !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Errorf("announcing the end again: %v, want ErrTaskIDConflict", err)
	}
}

// refusingQueue fails every analysis task and passes the rest (webhooks)
// on to the real queue: Redis refusing a job's task at submit.
type refusingQueue struct{ api.Enqueuer }

func (q refusingQueue) EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	if task.Type() != tasks.TypeWebhookDeliver {
		return nil, errors.New("LOADING Redis is loading the dataset in memory")
	}
	return q.Enqueuer.EnqueueContext(ctx, task, opts...)
}

// A job whose task could not be queued is failed, and its client hears of
// it by webhook like of any other end.
func TestUnqueuedJobAnnounced(t *testing.T) {
	b := setup(t, func(_ *api.Config, d *api.Deps) { d.Queue = refusingQueue{d.Queue} })
	code, data := b.postJSON(t, "/v1/jobs", `{"url":"https://example.com/a.pdf","callback_url":"https://hooks.example.com/mmq"}`, nil)
	if code != http.StatusServiceUnavailable || !strings.Contains(string(data), string(tasks.CodeUnavailable)) {
		t.Fatalf("submit with the queue refusing: %d %s", code, data)
	}
	jobs, _, err := b.store.ListJobs(context.Background(), "", tasks.StatusFailed, 10, "")
	if err != nil || len(jobs) != 1 || jobs[0].ErrorCode != tasks.CodeUnavailable {
		t.Fatalf("failed jobs: %+v, %v", jobs, err)
	}
	ps, _ := b.webhookTasks(t)
	if len(ps) != 1 || ps[0].Event != "job.failed" || ps[0].JobID != jobs[0].ID || ps[0].URL != "https://hooks.example.com/mmq" {
		t.Fatalf("webhooks queued: %+v", ps)
	}
}
