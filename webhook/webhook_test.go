package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/webhook"
)

// Two secrets, as during a rotation.
const (
	secretNew = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	secretOld = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	secretBad = "whsec_eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4"
)

// request is what a receiver got.
type request struct {
	header http.Header
	body   []byte
}

// receiver starts an HTTP server that records each request and answers
// with respond.
func receiver(t *testing.T, respond func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, chan request) {
	t.Helper()
	got := make(chan request, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- request{header: r.Header.Clone(), body: body}
		respond(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func newDeliverer(t *testing.T, cfg webhook.Config) *webhook.Deliverer {
	t.Helper()
	if cfg.Secret == "" {
		cfg.Secret = secretNew
	}
	d, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// endedJob returns a job that ended, whose end the tests announce to its
// callback URL; tasks' tests check the message itself.
func endedJob() *tasks.Job {
	finished := time.Date(2026, 1, 2, 15, 1, 30, 0, time.UTC)
	return &tasks.Job{ID: "j1", Kind: tasks.KindDocument, Status: tasks.StatusSucceeded,
		Metadata: json.RawMessage(`{"customer":"acme"}`), CallbackURL: "https://example.com/hook",
		CreatedAt: finished.Add(-time.Minute), FinishedAt: &finished}
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	fresh, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		secret string
		ok     bool
	}{
		{secretNew, true},
		{fresh, true},
		{"", false},
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false}, // no prefix
		{"whsec_not base64!", false},
		{"whsec_c2hvcnQ=", false}, // 5 bytes
	}
	for _, c := range cases {
		_, err := webhook.NewSigner(c.secret)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, webhook.ErrBadSecret)) {
			t.Errorf("NewSigner(%q) = %v, want ok %v", c.secret, err, c.ok)
		}
	}
	if _, err := webhook.NewSigner(secretNew, "whsec_c2hvcnQ="); err == nil {
		t.Error("a bad previous secret was accepted")
	}
}

// verifyWithLibrary checks a request the way a receiver using the
// standard-webhooks library does, timestamp tolerance included.
func verifyWithLibrary(t *testing.T, secret string, r request) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh.Verify(r.body, r.header)
}

// verifyWithPython checks a request with testdata/verify.py, an
// implementation of the specification that shares no code with ours.
func verifyWithPython(t *testing.T, secret string, r request) error {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is needed for the independent verifier")
		}
		t.Skip("no python3 for the independent verifier")
	}
	headers := map[string]string{}
	for _, h := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
		headers[h] = r.header.Get(h)
	}
	in, _ := json.Marshal(map[string]any{"headers": headers, "body": string(r.body)})
	cmd := exec.Command(py, "testdata/verify.py", secret)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return errors.New(strings.TrimSpace(string(out)))
	}
	return nil
}

// During a rotation a request carries two signatures, and a receiver with
// either secret accepts it; one with another secret does not.
func TestSignatureRotation(t *testing.T) {
	t.Parallel()
	srv, got := receiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	d := newDeliverer(t, webhook.Config{Secret: secretNew, PreviousSecrets: []string{secretOld}, SSRF: ssrf.Config{AllowPrivateNetworks: true}})
	j := endedJob()
	j.CallbackURL = srv.URL
	p, err := tasks.JobWebhookPayload(j)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Deliver(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if sigs := strings.Fields(r.header.Get(webhook.HeaderSignature)); len(sigs) != 2 {
		t.Fatalf("signature header %q, want two signatures", r.header.Get(webhook.HeaderSignature))
	}
	if r.header.Get(webhook.HeaderID) != p.WebhookID || r.header.Get("Content-Type") != "application/json" || !bytes.Equal(r.body, p.Body) {
		t.Errorf("request headers %v body %s", r.header, r.body)
	}
	for _, v := range []struct {
		name   string
		verify func(*testing.T, string, request) error
	}{{"library", verifyWithLibrary}, {"python", verifyWithPython}} {
		t.Run(v.name, func(t *testing.T) {
			for _, secret := range []string{secretNew, secretOld} {
				if err := v.verify(t, secret, r); err != nil {
					t.Errorf("secret %s…: %v", secret[:10], err)
				}
			}
			if err := v.verify(t, secretBad, r); err == nil {
				t.Error("a third secret verified the request")
			}
			tampered := request{header: r.header, body: bytes.Replace(r.body, []byte("acme"), []byte("evil"), 1)}
			if err := v.verify(t, secretNew, tampered); err == nil {
				t.Error("a tampered body verified")
			}
		})
	}
}

func TestDeliverOutcomes(t *testing.T) {
	t.Parallel()
	retryAt := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	cases := []struct {
		name       string
		respond    func(w http.ResponseWriter, r *http.Request)
		timeout    time.Duration
		wantStatus int
		// wantErr is nil for a delivery; permanent says the error wraps
		// asynq.SkipRetry.
		wantErr    error
		permanent  bool
		retryAfter time.Duration // lower bound, 0 for none
		wantInLog  string
	}{
		{name: "200", respond: func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "thanks") }, wantStatus: 200, wantInLog: "thanks"},
		{name: "204", respond: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }, wantStatus: 204},
		{name: "500 retries", respond: func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 500) }, wantStatus: 500, wantErr: webhook.ErrStatus, wantInLog: "boom"},
		{name: "404 retries", respond: func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) }, wantStatus: 404, wantErr: webhook.ErrStatus},
		{name: "410 stops", respond: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(410) }, wantStatus: 410, wantErr: webhook.ErrGone, permanent: true},
		{name: "redirect is not followed", respond: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusMovedPermanently)
		},
			wantStatus: 301, wantErr: webhook.ErrStatus},
		{name: "429 with Retry-After seconds", respond: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(429)
		}, wantStatus: 429, wantErr: webhook.ErrStatus, retryAfter: 120 * time.Second},
		{name: "503 with Retry-After date", respond: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", retryAt)
			w.WriteHeader(503)
		}, wantStatus: 503, wantErr: webhook.ErrStatus, retryAfter: 80 * time.Second},
		{name: "hang past the timeout", timeout: 100 * time.Millisecond, respond: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}, wantErr: context.DeadlineExceeded, wantInLog: "no answer within 100ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv, got := receiver(t, c.respond)
			d := newDeliverer(t, webhook.Config{Timeout: c.timeout, SSRF: ssrf.Config{AllowPrivateNetworks: true}})
			j := endedJob()
			j.CallbackURL = srv.URL
			p, _ := tasks.JobWebhookPayload(j)
			att, err := d.Deliver(context.Background(), p)
			<-got
			if c.wantErr == nil && err != nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if errors.Is(err, asynq.SkipRetry) != c.permanent {
				t.Errorf("err %v: permanent %v, want %v", err, !c.permanent, c.permanent)
			}
			if ra := tasks.RetryAfter(err); (c.retryAfter == 0) != (ra == 0) || ra < c.retryAfter {
				t.Errorf("retry after %v, want at least %v", ra, c.retryAfter)
			}
			if att.StatusCode != c.wantStatus || att.WebhookID != p.WebhookID || att.JobID != j.ID || att.Time.IsZero() {
				t.Errorf("attempt = %+v", att)
			}
			if (err == nil) != (att.Error == "") {
				t.Errorf("attempt error %q for err %v", att.Error, err)
			}
			if c.wantInLog != "" && !strings.Contains(att.Error+att.Response, c.wantInLog) {
				t.Errorf("attempt %+v does not mention %q", att, c.wantInLog)
			}
		})
	}
}

func TestDeliverRefusals(t *testing.T) {
	t.Parallel()
	srv, got := receiver(t, func(w http.ResponseWriter, _ *http.Request) {})
	cases := []struct {
		name    string
		url     string
		wantErr error
	}{
		{"loopback", srv.URL, ssrf.ErrRefused},
		{"metadata", "http://169.254.169.254/latest/meta-data/", ssrf.ErrRefused},
		{"file", "file:///etc/passwd", ssrf.ErrInvalidURL},
		{"credentials", "https://u:p@example.com/", ssrf.ErrInvalidURL},
	}
	d := newDeliverer(t, webhook.Config{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := tasks.WebhookPayload{WebhookID: "msg_x", Event: tasks.EventJobSucceeded, URL: c.url, Body: []byte(`{}`)}
			att, err := d.Deliver(context.Background(), p)
			if !errors.Is(err, c.wantErr) || !errors.Is(err, asynq.SkipRetry) || att.Error == "" {
				t.Errorf("err = %v (attempt %+v), want a permanent %v", err, att, c.wantErr)
			}
		})
	}
	select {
	case <-got:
		t.Error("the loopback receiver got a request")
	default:
	}
}

// A delivery cut short by its context (the worker stopping) returns the
// context's error: the worker then has asynq requeue the task without
// counting it.
func TestDeliverInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	srv, _ := receiver(t, func(_ http.ResponseWriter, r *http.Request) {
		cancel()
		<-r.Context().Done()
	})
	d := newDeliverer(t, webhook.Config{SSRF: ssrf.Config{AllowPrivateNetworks: true}})
	_, err := d.Deliver(ctx, tasks.WebhookPayload{WebhookID: "msg_x", Event: tasks.EventJobSucceeded, URL: srv.URL, Body: []byte(`{}`)})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %#v, want context.Canceled", err)
	}
}

// The attempt log is shown to clients: a failed connection says what
// failed, never where the receiver's name led (an internal address, when
// private networks are allowed) or the port.
func TestDeliverErrorsShowNoAddress(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	cases := []struct {
		name       string
		guard      ssrf.Config
		permanent  bool
		wantReason string
	}{
		{"connection refused", ssrf.Config{AllowPrivateNetworks: true}, false, "connection refused"},
		{"refused by the guard", ssrf.Config{}, true, "not reachable from this server"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := newDeliverer(t, webhook.Config{SSRF: c.guard})
			p := tasks.WebhookPayload{WebhookID: "msg_x", Event: tasks.EventJobSucceeded, URL: "http://" + addr + "/hook?token=SECRET", Body: []byte(`{}`)}
			att, err := d.Deliver(context.Background(), p)
			if err == nil {
				t.Fatal("delivered to a closed port")
			}
			if errors.Is(err, asynq.SkipRetry) != c.permanent {
				t.Errorf("err %v: permanent %v, want %v", err, !c.permanent, c.permanent)
			}
			for _, s := range []string{att.Error, err.Error()} {
				if !strings.Contains(s, c.wantReason) {
					t.Errorf("%q does not say %q", s, c.wantReason)
				}
				for _, secret := range []string{"127.0.0.1", ":" + port, "SECRET"} {
					if strings.Contains(s, secret) {
						t.Errorf("%q shows %q", s, secret)
					}
				}
			}
		})
	}
}
