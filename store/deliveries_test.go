package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
)

func TestDeliveries(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.createJob(t, "j1")
	if as, err := b.store.JobDeliveries(ctx, "j1"); err != nil || len(as) != 0 {
		t.Fatalf("before any attempt: %v, %v", as, err)
	}
	if _, err := b.store.FinishJob(ctx, "j1", tasks.StatusSucceeded, "", ""); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	want := []tasks.DeliveryAttempt{
		{WebhookID: "msg_1", Event: tasks.EventJobSucceeded, JobID: "j1", URL: "https://example.com/h", Attempt: 1, Time: now,
			StatusCode: 503, LatencyMS: 12, Error: "HTTP 503", Outcome: tasks.DeliveryRetrying},
		{WebhookID: "msg_1", Event: tasks.EventJobSucceeded, JobID: "j1", URL: "https://example.com/h", Attempt: 2, Time: now.Add(5 * time.Second),
			StatusCode: 200, LatencyMS: 8, Response: "ok", Outcome: tasks.DeliveryDelivered},
	}
	for _, a := range want {
		if err := b.store.AppendDelivery(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.store.JobDeliveries(ctx, "j1")
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("JobDeliveries = %+v, %v\nwant %+v", got, err, want)
	}
	// The log lives as long as the ended job's other keys.
	record, _ := b.client.PTTL(ctx, "mmq:job:{j1}").Result()
	log, _ := b.client.PTTL(ctx, "mmq:job:{j1}:deliveries").Result()
	if log <= 0 || log > record || record-log > time.Minute {
		t.Errorf("TTL of the log %v, of the record %v", log, record)
	}

	if _, err := b.store.JobDeliveries(ctx, "nope"); tasks.ErrorCode(err) != tasks.CodeNotFound {
		t.Errorf("unknown job: %v, want not_found", err)
	}
	if err := b.store.AppendDelivery(ctx, tasks.DeliveryAttempt{WebhookID: "msg_x"}); err == nil {
		t.Error("an attempt without job or batch was logged")
	}
}

func TestDeliveriesCapped(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.createJob(t, "j1")
	for i := range store.MaxDeliveryAttempts + 5 {
		if err := b.store.AppendDelivery(ctx, tasks.DeliveryAttempt{WebhookID: "msg_1", JobID: "j1", Attempt: i + 1}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.store.JobDeliveries(ctx, "j1")
	if err != nil || len(got) != store.MaxDeliveryAttempts || got[0].Attempt != 6 {
		t.Fatalf("%d attempts kept, first %d, err %v; want the last %d", len(got), got[0].Attempt, err, store.MaxDeliveryAttempts)
	}
}

func TestBatchDeliveries(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	if err := b.store.CreateBatch(ctx, &tasks.Batch{ID: "b1"}, []*tasks.Job{{ID: "bj1", Kind: tasks.KindDocument}}); err != nil {
		t.Fatal(err)
	}
	a := tasks.DeliveryAttempt{WebhookID: "msg_b", Event: tasks.EventBatchCompleted, BatchID: "b1", Attempt: 1, Outcome: tasks.DeliveryDelivered}
	if err := b.store.AppendDelivery(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got, err := b.store.BatchDeliveries(ctx, "b1"); err != nil || len(got) != 1 || got[0].WebhookID != "msg_b" {
		t.Fatalf("BatchDeliveries = %+v, %v", got, err)
	}
	if got, _ := b.store.JobDeliveries(ctx, "bj1"); len(got) != 0 {
		t.Errorf("the batch's attempt shows under its job: %+v", got)
	}
	if _, err := b.store.BatchDeliveries(ctx, "nope"); tasks.ErrorCode(err) != tasks.CodeNotFound {
		t.Errorf("unknown batch: %v, want not_found", err)
	}
}
