package tasks_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/tasks"
)

func endedJob() *tasks.Job {
	created := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	finished := created.Add(90 * time.Second)
	return &tasks.Job{
		ID: "0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Kind: tasks.KindDocument, Status: tasks.StatusPartiallySucceeded,
		BatchID: "b1", PagesTotal: 10, PagesDone: 9, PagesFailed: 1, ErrorCode: tasks.CodePagesFailed, ErrorMessage: "1 of 10 pages failed",
		Metadata: json.RawMessage(`{"customer":"acme"}`), CallbackURL: "https://example.com/hook",
		CreatedAt: created, FinishedAt: &finished,
	}
}

func TestJobWebhookPayload(t *testing.T) {
	t.Parallel()
	j := endedJob()
	p, err := tasks.JobWebhookPayload(j)
	if err != nil {
		t.Fatal(err)
	}
	if p.Event != tasks.EventJobPartiallySucceeded || p.JobID != j.ID || p.URL != j.CallbackURL || !strings.HasPrefix(p.WebhookID, "msg_") {
		t.Errorf("payload = %+v", p)
	}
	want := `{"type":"job.partially_succeeded","timestamp":"2026-01-02T15:01:30Z","data":{` +
		`"job_id":"0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","batch_id":"b1","kind":"document","status":"partially_succeeded",` +
		`"pages_total":10,"pages_done":9,"pages_failed":1,"error_code":"pages_failed","error_message":"1 of 10 pages failed",` +
		`"metadata":{"customer":"acme"},"created_at":"2026-01-02T15:00:00Z","finished_at":"2026-01-02T15:01:30Z",` +
		`"links":{"job":"/v1/jobs/0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","results":"/v1/jobs/0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/results"}}}`
	if string(p.Body) != want {
		t.Errorf("body\n got %s\nwant %s", p.Body, want)
	}

	// The id is the same for the same end, and differs for another end.
	again, _ := tasks.JobWebhookPayload(endedJob())
	if again.WebhookID != p.WebhookID {
		t.Errorf("the same end made ids %s and %s", p.WebhookID, again.WebhookID)
	}
	later := endedJob()
	*later.FinishedAt = later.FinishedAt.Add(time.Hour)
	if p2, _ := tasks.JobWebhookPayload(later); p2.WebhookID == p.WebhookID {
		t.Error("a second end of the job has the first one's id")
	}

	for _, bad := range []func(*tasks.Job){
		func(j *tasks.Job) { j.CallbackURL = "" },
		func(j *tasks.Job) { j.Status = tasks.StatusProcessing },
	} {
		j := endedJob()
		bad(j)
		if _, err := tasks.JobWebhookPayload(j); err == nil {
			t.Errorf("JobWebhookPayload(%s, %q) made a payload", j.Status, j.CallbackURL)
		}
	}
}

func TestBatchWebhookPayload(t *testing.T) {
	t.Parallel()
	fin := time.Date(2026, 1, 2, 16, 0, 0, 0, time.UTC)
	b := &tasks.Batch{ID: "b1", Status: tasks.BatchCompleted, Total: 3, CallbackURL: "https://example.com/b",
		Counts: map[tasks.Status]int{tasks.StatusSucceeded: 2, tasks.StatusFailed: 1}, CreatedAt: fin.Add(-time.Hour), FinishedAt: &fin}
	p, err := tasks.BatchWebhookPayload(b)
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Type string
		Data tasks.BatchEventData
	}
	if err := json.Unmarshal(p.Body, &msg); err != nil {
		t.Fatal(err)
	}
	if p.BatchID != "b1" || msg.Type != tasks.EventBatchCompleted || msg.Data.Counts[tasks.StatusFailed] != 1 || msg.Data.Links.Jobs != "/v1/batches/b1/jobs" {
		t.Errorf("payload %+v, message %+v", p, msg)
	}
}
