package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/internal/testwait"
	"github.com/mmq/mmq/tasks"
)

// The whole program with webhooks on: a job submitted with a callback URL
// ends, and its receiver gets exactly one job.succeeded, signed with both
// secrets of a rotation; the attempt shows in the job's deliveries, and a
// redelivery sends the same message again.
func TestWebhookEndToEnd(t *testing.T) {
	const (
		secret   = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		previous = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	)
	t.Setenv("MMQ_WEBHOOKS_SECRET", secret)
	t.Setenv("MMQ_WEBHOOKS_PREVIOUS_SECRETS", previous)
	// The receiver listens on 127.0.0.1, which the guard refuses by default.
	t.Setenv("MMQ_SSRF_ALLOW_PRIVATE_NETWORKS", "true")

	type request struct {
		header http.Header
		body   []byte
	}
	got := make(chan request, 8)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- request{r.Header.Clone(), body}
	}))
	t.Cleanup(rc.Close)
	next := func() request {
		t.Helper()
		select {
		case r := <-got:
			return r
		case <-time.After(30 * time.Second):
			t.Fatal("no webhook within 30 s")
			return request{}
		}
	}

	_, url := startApp(t)
	ctx := context.Background()
	c := client.New(url, nil)
	job, err := c.SubmitFile(ctx, "testdata/pdfcpu-read.go.pdf", client.SubmitOptions{CallbackURL: rc.URL + "/hook", Metadata: json.RawMessage(`{"tag":"hook"}`)})
	if err != nil {
		t.Fatal(err)
	}

	r := next()
	for _, s := range []string{secret, previous} {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(r.body, r.header); err != nil {
			t.Errorf("secret %s…: %v", s[:10], err)
		}
	}
	var msg struct {
		Type string
		Data struct {
			JobID     string          `json:"job_id"`
			Status    tasks.Status    `json:"status"`
			PagesDone int             `json:"pages_done"`
			Metadata  json.RawMessage `json:"metadata"`
		}
	}
	if err := json.Unmarshal(r.body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != tasks.EventJobSucceeded || msg.Data.JobID != job.ID || msg.Data.PagesDone != 45 || string(msg.Data.Metadata) != `{"tag":"hook"}` {
		t.Errorf("webhook body %s", r.body)
	}

	var as []tasks.DeliveryAttempt
	testwait.Until(ctx, 10*time.Second, func() bool {
		if as, err = c.Deliveries(ctx, job.ID); err != nil {
			t.Fatal(err)
		}
		return len(as) > 0
	})
	if len(as) != 1 || as[0].Outcome != tasks.DeliveryDelivered || as[0].StatusCode != 200 || as[0].WebhookID != r.header.Get("webhook-id") {
		t.Fatalf("deliveries = %+v", as)
	}

	id, err := c.Redeliver(ctx, job.ID)
	if err != nil || id != as[0].WebhookID {
		t.Fatalf("Redeliver = %s, %v", id, err)
	}
	if again := next(); again.header.Get("webhook-id") != id || string(again.body) != string(r.body) {
		t.Errorf("redelivery: id %s body %s", again.header.Get("webhook-id"), again.body)
	}
	if len(got) != 0 {
		t.Errorf("%d unexpected extra webhooks", len(got))
	}
}

// Without a webhook secret a callback URL is refused at submission.
func TestCallbackRefusedWithoutSecret(t *testing.T) {
	t.Setenv("MMQ_WEBHOOKS_SECRET", "")
	_, url := startApp(t)
	_, err := client.New(url, nil).SubmitURL(context.Background(), "https://example.com/a.pdf", client.SubmitOptions{CallbackURL: "https://hooks.example.com/h"})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Code != tasks.CodeInvalidRequest {
		t.Errorf("err = %v, want 400 invalid_request", err)
	}
}

// The whole program with a tenant that has a webhook secret of its own:
// the redelivery route (POST /v1/jobs/{id}/deliveries/redeliver) signs
// acme's job with acme's secret, not the deployment's, and beta's, which
// has none of its own, with the deployment's, which acme's does not
// verify. The jobs are made in the store: the API does not stamp a
// submitted job with its caller's tenant yet. The worker's announcement
// of an end is tested in package worker (TestTenantWebhookSecrets).
func TestTenantWebhookSecretEndToEnd(t *testing.T) {
	const (
		secret     = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		acmeSecret = "whsec_CWFD6bNBsZaNENNY1FBJnsBwnd32FL6i6SEjAEhyUXA="
	)
	type request struct {
		header http.Header
		body   []byte
	}
	got := make(chan request, 8)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- request{r.Header.Clone(), body}
	}))
	t.Cleanup(rc.Close)
	app, url := startApp(t, "MMQ_WEBHOOKS_SECRET", secret, "MMQ_WEBHOOKS_TENANT_SECRETS", "acme="+acmeSecret,
		"MMQ_SSRF_ALLOW_PRIVATE_NETWORKS", "true")
	ctx := context.Background()
	c := client.New(url, nil)

	verifies := func(secret string, r request) bool {
		t.Helper()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		return wh.Verify(r.body, r.header) == nil
	}
	for _, tc := range []struct {
		tenant        string
		signer, other string
	}{
		{"acme", acmeSecret, secret},
		{"beta", secret, acmeSecret},
	} {
		j := &tasks.Job{ID: "job-" + tc.tenant, Kind: tasks.KindDocument, Tenant: tc.tenant, CallbackURL: rc.URL + "/" + tc.tenant}
		if err := app.store.CreateJob(ctx, j, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := app.store.FinishJob(ctx, j.ID, tasks.StatusSucceeded, "", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Redeliver(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		var r request
		select {
		case r = <-got:
		case <-time.After(30 * time.Second):
			t.Fatalf("no webhook of job %s within 30 s", j.ID)
		}
		var msg struct {
			Data struct {
				JobID string `json:"job_id"`
			}
		}
		if err := json.Unmarshal(r.body, &msg); err != nil || msg.Data.JobID != j.ID {
			t.Fatalf("webhook %s, want one about job %s", r.body, j.ID)
		}
		if !verifies(tc.signer, r) || verifies(tc.other, r) {
			t.Errorf("%s: the webhook verifies with its tenant's secret: %v, with the other: %v; want true, false",
				tc.tenant, verifies(tc.signer, r), verifies(tc.other, r))
		}
	}
}
