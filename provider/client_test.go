package provider_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/provider"
	"github.com/mmq/mmq/provider/providertest"
	"github.com/mmq/mmq/tasks"
)

// wire is one provider's fake and client, for tests that run on both.
type wire struct {
	name   string
	server func(t *testing.T) *providertest.Server
	client func(t *testing.T, s *providertest.Server, mod func(*provider.HTTPConfig)) provider.Client
	// part is what the client is sent: Anthropic takes the PDF page,
	// OpenAI an image.
	part func(t *testing.T) provider.Part
}

var wires = []wire{
	{
		name:   "anthropic",
		server: func(t *testing.T) *providertest.Server { return providertest.NewAnthropic(t, testKey) },
		client: func(t *testing.T, s *providertest.Server, mod func(*provider.HTTPConfig)) provider.Client {
			return newAnthropic(t, s, mod)
		},
		part: func(t *testing.T) provider.Part {
			return provider.Part{MIME: "application/pdf", Data: testdata(t, "letter-text.pdf")}
		},
	},
	{
		name:   "openai",
		server: func(t *testing.T) *providertest.Server { return providertest.NewOpenAI(t, testKey) },
		client: func(t *testing.T, s *providertest.Server, mod func(*provider.HTTPConfig)) provider.Client {
			return newOpenAI(t, s, mod)
		},
		part: func(t *testing.T) provider.Part {
			return provider.Part{MIME: "image/png", Data: frameUnit(t, 64, 48).Data}
		},
	},
}

func request(t *testing.T, w wire) *provider.Request {
	return &provider.Request{Model: "claude-text", System: "Be brief.", Prompt: "Describe page 1.", MaxTokens: 256, Parts: []provider.Part{w.part(t)}}
}

// A normal answer: the fake accepts the request as the real API would, the
// streamed text arrives whole and the usage is the provider's.
func TestSendNormalAnswer(t *testing.T) {
	t.Parallel()
	for _, w := range wires {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			srv := w.server(t)
			srv.Latency = 30 * time.Millisecond
			resp, err := w.client(t, srv, nil).Send(ctxT(t), request(t, w))
			if err != nil {
				t.Fatal(err)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 || reqs[0].Refused != "" {
				t.Fatalf("requests = %+v", reqs)
			}
			r := reqs[0]
			if want := providertest.DefaultAnswer(r); resp.Text != want {
				t.Errorf("text = %q, want %q", resp.Text, want)
			}
			usage := providertest.AnthropicUsage
			if w.name == "openai" {
				usage = providertest.OpenAIUsage
			}
			in, out := usage(r, resp.Text)
			if resp.InputTokens != in || resp.OutputTokens != out || !resp.UsageReported {
				t.Errorf("usage = %d/%d (reported %v), want %d/%d", resp.InputTokens, resp.OutputTokens, resp.UsageReported, in, out)
			}
			if resp.TTFB < srv.Latency || resp.Retries != 0 || resp.Model != "claude-text" {
				t.Errorf("ttfb %v, retries %d, model %q", resp.TTFB, resp.Retries, resp.Model)
			}
			if r.System != "Be brief." || r.Prompt != "Describe page 1." || len(r.Parts) != 1 {
				t.Errorf("server saw system %q prompt %q parts %d", r.System, r.Prompt, len(r.Parts))
			}
		})
	}
}

// Transient failures are retried, with waits inside the backoff's bounds
// and never shorter than what the provider asked for.
func TestSendRetries(t *testing.T) {
	t.Parallel()
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name   string
		only   string // run on this provider only
		script []providertest.Reply
		// late makes the script when the subtest runs, for times.
		late func() []providertest.Reply
		// minWait and maxWait bound the time spent beyond the calls.
		minWait, maxWait time.Duration
	}{
		{name: "529 overloaded twice", script: []providertest.Reply{{Status: 529}, {Status: 529}},
			// Rand is 1: waits are the ceilings, 20 ms then 40 ms.
			minWait: 60 * time.Millisecond, maxWait: 300 * time.Millisecond},
		{name: "500 then 503", script: []providertest.Reply{{Status: 500}, {Status: 503}}, minWait: 60 * time.Millisecond, maxWait: 300 * time.Millisecond},
		{name: "429 with retry-after", script: []providertest.Reply{{Status: 429, Header: hdr("retry-after", "1")}},
			minWait: time.Second, maxWait: 1300 * time.Millisecond},
		{name: "429 with anthropic reset", only: "anthropic", late: func() []providertest.Reply {
			return []providertest.Reply{{Status: 429, Header: hdr("anthropic-ratelimit-requests-remaining", "0",
				"anthropic-ratelimit-requests-reset", time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano))}}
		}, minWait: 900 * time.Millisecond, maxWait: 1300 * time.Millisecond},
		{name: "429 with openai reset", only: "openai", script: []providertest.Reply{{Status: 429,
			Header: hdr("x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "600ms")}},
			minWait: 600 * time.Millisecond, maxWait: 900 * time.Millisecond},
		{name: "malformed JSON mid-stream", script: []providertest.Reply{{Malformed: true}}, maxWait: 300 * time.Millisecond},
		{name: "stream cut short", script: []providertest.Reply{{Truncated: true}}, maxWait: 300 * time.Millisecond},
		{name: "overloaded event in stream", only: "anthropic", script: []providertest.Reply{{StreamError: true, ErrorType: "overloaded_error", Message: "Overloaded"}},
			maxWait: 300 * time.Millisecond},
		{name: "server_error in stream", only: "openai", script: []providertest.Reply{{StreamError: true, ErrorType: "server_error", Message: "boom"}},
			maxWait: 300 * time.Millisecond},
		{name: "slower than the timeout", script: []providertest.Reply{{Delay: 5 * time.Second}},
			minWait: callTimeout, maxWait: callTimeout + 400*time.Millisecond},
	}
	for _, w := range wires {
		for _, tt := range tests {
			if tt.only != "" && tt.only != w.name {
				continue
			}
			t.Run(w.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				srv := w.server(t)
				if tt.late != nil {
					tt.script = tt.late()
				}
				srv.Script(tt.script...)
				c := w.client(t, srv, func(c *provider.HTTPConfig) {
					c.Backoff.Rand = func() float64 { return 1 }
					c.Timeout = callTimeout
				})
				start := time.Now()
				resp, err := c.Send(ctxT(t), request(t, w))
				elapsed := time.Since(start)
				if err != nil {
					t.Fatal(err)
				}
				if resp.Retries != len(tt.script) || srv.Count() != len(tt.script)+1 {
					t.Errorf("retries = %d, requests = %d, want %d and %d", resp.Retries, srv.Count(), len(tt.script), len(tt.script)+1)
				}
				if resp.LastError == nil {
					t.Error("LastError is nil after a retry")
				}
				// The lower bound is exact (the client must wait at least
				// that long); the upper bound gets slack for a loaded
				// machine and still catches a wait that is not honored
				// or a timeout that does not fire.
				if hi := tt.maxWait + schedSlack; elapsed < tt.minWait || elapsed > hi {
					t.Errorf("took %v, want within [%v, %v]", elapsed, tt.minWait, hi)
				}
			})
		}
	}
}

// schedSlack is what a busy 2-core machine may add to a wait.
const schedSlack = time.Second

// callTimeout bounds one attempt in TestSendRetries: long enough for the
// fake's normal answer (it runs pdftotext on the page) on a loaded
// machine, well short of the 5 s of the reply that must time out.
const callTimeout = 1500 * time.Millisecond

// A request the provider refuses is not retried, and the page's error
// carries the provider's own message.
func TestSendNoRetryOn4xx(t *testing.T) {
	t.Parallel()
	for _, w := range wires {
		for _, status := range []int{400, 401, 403, 404, 413} {
			t.Run(w.name+"/"+http.StatusText(status), func(t *testing.T) {
				t.Parallel()
				srv := w.server(t)
				srv.Script(providertest.Reply{Status: status, ErrorType: "invalid_request_error", Message: "scripted refusal"})
				_, err := w.client(t, srv, nil).Send(ctxT(t), request(t, w))
				if code := tasks.ErrorCode(err); code != tasks.CodeProviderRefused || !tasks.IsPermanent(err) {
					t.Fatalf("err = %v (code %s), want permanent provider_refused", err, code)
				}
				if !strings.Contains(tasks.ErrorMessage(err), "scripted refusal") {
					t.Errorf("message %q lacks the provider's", tasks.ErrorMessage(err))
				}
				var ae *provider.APIError
				if !errors.As(err, &ae) || ae.Status != status {
					t.Errorf("APIError = %+v", ae)
				}
				if srv.Count() != 1 {
					t.Errorf("%d requests, want 1", srv.Count())
				}
			})
		}
	}
}

// When the retries are spent, or the provider asks for a longer wait than
// allowed, the error is transient so that the page can fall back or be
// retried later; the API key appears in no error.
func TestSendGivesUp(t *testing.T) {
	t.Parallel()
	for _, w := range wires {
		t.Run(w.name+"/retries spent", func(t *testing.T) {
			t.Parallel()
			srv := w.server(t)
			srv.Script(providertest.Reply{Status: 503}, providertest.Reply{Status: 503}, providertest.Reply{Status: 503}, providertest.Reply{Status: 503})
			_, err := w.client(t, srv, nil).Send(ctxT(t), request(t, w))
			if tasks.ErrorCode(err) != tasks.CodeProviderFailed || tasks.IsPermanent(err) {
				t.Fatalf("err = %v, want transient provider_failed", err)
			}
			if srv.Count() != 4 {
				t.Errorf("%d requests, want 4 (1 + MaxRetries 3)", srv.Count())
			}
			if strings.Contains(err.Error(), testKey) {
				t.Error("the error shows the API key")
			}
		})
		t.Run(w.name+"/retry-after too long", func(t *testing.T) {
			t.Parallel()
			srv := w.server(t)
			srv.Script(providertest.Reply{Status: 429, Header: http.Header{"Retry-After": {"120"}}})
			start := time.Now()
			_, err := w.client(t, srv, func(c *provider.HTTPConfig) { c.MaxRetryWait = time.Second }).Send(ctxT(t), request(t, w))
			if tasks.ErrorCode(err) != tasks.CodeProviderFailed || srv.Count() != 1 || time.Since(start) > 500*time.Millisecond {
				t.Fatalf("err = %v after %d requests in %v", err, srv.Count(), time.Since(start))
			}
		})
	}
}

// The fakes refuse malformed requests the way the real APIs do, so that a
// client that passes against them sends what the real ones accept.
func TestFakesRefuseMalformedRequests(t *testing.T) {
	t.Parallel()
	anth := providertest.NewAnthropic(t, testKey)
	oai := providertest.NewOpenAI(t, testKey)
	tests := []struct {
		name, url, body string
		header          map[string]string
		status          int
		message         string
	}{
		{"anthropic without key", anth.URL + "/v1/messages", `{}`, map[string]string{"anthropic-version": "2023-06-01"}, 401, "x-api-key header is required"},
		{"anthropic without version", anth.URL + "/v1/messages", `{}`, map[string]string{"x-api-key": testKey}, 400, "anthropic-version"},
		{"anthropic without max_tokens", anth.URL + "/v1/messages", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
			map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01"}, 400, "max_tokens: Field required"},
		{"anthropic unknown field", anth.URL + "/v1/messages", `{"model":"m","max_tokens":5,"messages":[],"bogus":1}`,
			map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01"}, 400, "bogus: Extra inputs are not permitted"},
		{"anthropic bad document", anth.URL + "/v1/messages", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"bm90IGEgcGRm"}}]}]}`,
			map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01"}, 400, "The PDF specified was not valid"},
		{"openai wrong key", oai.URL + "/v1/chat/completions", `{}`, map[string]string{"Authorization": "Bearer nope"}, 401, "Incorrect API key"},
		{"openai stream_options without stream", oai.URL + "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}`,
			map[string]string{"Authorization": "Bearer " + testKey}, 400, "only allowed when 'stream' is enabled"},
		{"openai bad image", oai.URL + "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}`,
			map[string]string{"Authorization": "Bearer " + testKey}, 400, "unsupported image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequestWithContext(ctxT(t), http.MethodPost, tt.url, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.message) {
				t.Errorf("got %d %s, want %d with %q", resp.StatusCode, b, tt.status, tt.message)
			}
		})
	}
}
