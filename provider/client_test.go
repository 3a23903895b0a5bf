package provider_test

import (
	"bytes"
	"cmp"
	"encoding/json"
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

// runOnWires runs f as a parallel subtest "wire/name" on every wire, or on
// the one named only.
func runOnWires(t *testing.T, only, name string, f func(t *testing.T, w wire)) {
	t.Helper()
	for _, w := range wires {
		if only != "" && only != w.name {
			continue
		}
		t.Run(w.name+"/"+name, func(t *testing.T) {
			t.Parallel()
			f(t, w)
		})
	}
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
	for _, tt := range tests {
		runOnWires(t, tt.only, tt.name, func(t *testing.T, w wire) {
			srv := w.server(t)
			script := tt.script
			if tt.late != nil {
				script = tt.late()
			}
			srv.Script(script...)
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
			if resp.Retries != len(script) || srv.Count() != len(script)+1 {
				t.Errorf("retries = %d, requests = %d, want %d and %d", resp.Retries, srv.Count(), len(script), len(script)+1)
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
		{"anthropic tool_choice names no declared tool", anth.URL + "/v1/messages", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],` +
			`"tools":[{"name":"answer","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"other"}}`,
			map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01"}, 400, `tool_choice.name: tool \"other\" not found`},
		{"anthropic input_schema not an object schema", anth.URL + "/v1/messages", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],` +
			`"tools":[{"name":"answer","input_schema":{"type":"string"}}],"tool_choice":{"type":"tool","name":"answer"}}`,
			map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01"}, 400, "input_schema.type: Input should be 'object'"},
		{"openai json_schema without name", oai.URL + "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}],` +
			`"response_format":{"type":"json_schema","json_schema":{"schema":{"type":"object"}}}}`,
			map[string]string{"Authorization": "Bearer " + testKey}, 400, "response_format.json_schema.name"},
		{"openai json_schema without schema", oai.URL + "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}],` +
			`"response_format":{"type":"json_schema","json_schema":{"name":"answer"}}}`,
			map[string]string{"Authorization": "Bearer " + testKey}, 400, "response_format.json_schema.schema"},
		{"openai strict without additionalProperties", oai.URL + "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}],` +
			`"response_format":{"type":"json_schema","json_schema":{"name":"answer","strict":true,"schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}}}}`,
			map[string]string{"Authorization": "Bearer " + testKey}, 400, "In context=(), 'additionalProperties' is required to be supplied and to be false"},
		{"openai strict with a property not required", oai.URL + "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}],` +
			`"response_format":{"type":"json_schema","json_schema":{"name":"answer","strict":true,"schema":{"type":"object","properties":{"a":{"type":"object",` +
			`"properties":{"b":{"type":"string"}},"additionalProperties":false}},"required":["a"],"additionalProperties":false}}}}`,
			map[string]string{"Authorization": "Bearer " + testKey}, 400, "In context=('properties', 'a'), 'required' is required"},
		{"openai strict with minLength", oai.URL + "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}],` +
			`"response_format":{"type":"json_schema","json_schema":{"name":"answer","strict":true,"schema":{"type":"object","properties":{"a":{"type":"string",` +
			`"minLength":2}},"required":["a"],"additionalProperties":false}}}}`,
			map[string]string{"Authorization": "Bearer " + testKey}, 400, "'minLength' is not permitted"},
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

// A schema goes on the wire as the vendor's structured-output feature, as
// it was written (property order included): Anthropic one tool whose
// input_schema it is, forced by tool_choice; OpenAI response_format
// json_schema, strict as StrictSchema says. The answer is the JSON the
// fake delivered as the vendor would: a streamed tool_use input, or
// streamed content.
func TestSendSchema(t *testing.T) {
	t.Parallel()
	strict := `{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"array","items":{"type":"object",
		"properties":{"n":{"type":"integer"}},"required":["n"],"additionalProperties":false}}},
		"required":["zeta","alpha"],"additionalProperties":false}`
	loose := `{"type":"object","properties":{"total":{"type":"number"},"currency":{"enum":["EUR","USD"]}},"required":["total"]}`
	tests := []struct {
		name, schema, schemaName string
		textOnly                 bool
		// strict is what OpenAI is sent.
		strict bool
		// wireName is the tool's or format's name on the wire.
		wireName string
	}{
		{name: "strict", schema: strict, strict: true, wireName: "answer"},
		{name: "loose", schema: loose, strict: false, wireName: "answer"},
		{name: "named", schema: loose, schemaName: "invoice_v2", wireName: "invoice_v2"},
		{name: "text only", schema: strict, textOnly: true, strict: true, wireName: "answer"},
	}
	for _, tt := range tests {
		runOnWires(t, "", tt.name, func(t *testing.T, w wire) {
			srv := w.server(t)
			srv.Latency = 20 * time.Millisecond
			req := request(t, w)
			req.Schema, req.SchemaName = json.RawMessage(tt.schema), tt.schemaName
			if tt.textOnly {
				req.Parts = nil
			}
			resp, err := w.client(t, srv, nil).Send(ctxT(t), req)
			if err != nil {
				t.Fatal(err)
			}
			r := srv.Requests()[0]
			var compact bytes.Buffer
			if err := json.Compact(&compact, []byte(tt.schema)); err != nil {
				t.Fatal(err)
			}
			if string(r.Schema) != compact.String() || r.SchemaName != tt.wireName {
				t.Errorf("wire schema %s named %q, want %s named %q", r.Schema, r.SchemaName, compact.String(), tt.wireName)
			}
			if w.name == "openai" && r.Strict != tt.strict {
				t.Errorf("strict = %v, want %v", r.Strict, tt.strict)
			}
			if want := providertest.SchemaAnswer(req.Schema); resp.Text != want {
				t.Errorf("text = %s, want %s", resp.Text, want)
			}
			if w.name == "anthropic" && resp.StopReason != "tool_use" {
				t.Errorf("stop reason %q, want tool_use", resp.StopReason)
			}
			if resp.TTFB < srv.Latency || !resp.UsageReported || resp.OutputTokens != providertest.TextTokens(resp.Text) {
				t.Errorf("ttfb %v, usage %d reported %v", resp.TTFB, resp.OutputTokens, resp.UsageReported)
			}
			if len(r.Parts) != len(req.Parts) || r.Prompt != req.Prompt {
				t.Errorf("server saw %d parts and prompt %q", len(r.Parts), r.Prompt)
			}
		})
	}
}

// A text-only request (combining page answers) has no parts; both APIs
// take it.
func TestSendTextOnly(t *testing.T) {
	t.Parallel()
	for _, w := range wires {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			srv := w.server(t)
			req := request(t, w)
			req.Parts = nil
			resp, err := w.client(t, srv, nil).Send(ctxT(t), req)
			if err != nil {
				t.Fatal(err)
			}
			r := srv.Requests()[0]
			if r.Refused != "" || len(r.Parts) != 0 || r.Prompt != req.Prompt || resp.Text != providertest.DefaultAnswer(r) {
				t.Errorf("server saw %+v; text %q", r, resp.Text)
			}
		})
	}
}

// With no retries configured a failure costs one request: the SDKs' own
// retries are off. Errors keep their classification: a status or an error
// event in the stream (Status 0, its type) is an *APIError, a stream cut
// short or broken is garbled, and only the request's own fault is
// permanent.
func TestSendOneAttempt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		only  string
		reply providertest.Reply
		// status and typ are the *APIError's; apiErr false means none.
		apiErr    bool
		status    int
		typ       string
		permanent bool
	}{
		{name: "503", reply: providertest.Reply{Status: 503}, apiErr: true, status: 503},
		{name: "529", only: "anthropic", reply: providertest.Reply{Status: 529}, apiErr: true, status: 529, typ: "overloaded_error"},
		{name: "429", reply: providertest.Reply{Status: 429, ErrorType: "rate_limit_error"}, apiErr: true, status: 429, typ: "rate_limit_error"},
		{name: "400", reply: providertest.Reply{Status: 400, ErrorType: "invalid_request_error"}, apiErr: true, status: 400,
			typ: "invalid_request_error", permanent: true},
		{name: "overloaded event", only: "anthropic", reply: providertest.Reply{StreamError: true, ErrorType: "overloaded_error", Message: "Overloaded"},
			apiErr: true, typ: "overloaded_error"},
		{name: "server_error event", only: "openai", reply: providertest.Reply{StreamError: true, ErrorType: "server_error", Message: "boom"},
			apiErr: true, typ: "server_error"},
		{name: "invalid_request_error event", reply: providertest.Reply{StreamError: true, ErrorType: "invalid_request_error", Message: "no"},
			apiErr: true, typ: "invalid_request_error", permanent: true},
		{name: "truncated", reply: providertest.Reply{Truncated: true}},
		{name: "malformed", reply: providertest.Reply{Malformed: true}},
	}
	for _, tt := range tests {
		runOnWires(t, tt.only, tt.name, func(t *testing.T, w wire) {
			srv := w.server(t)
			srv.Script(tt.reply)
			_, err := w.client(t, srv, func(c *provider.HTTPConfig) { c.MaxRetries = -1 }).Send(ctxT(t), request(t, w))
			if srv.Count() != 1 {
				t.Errorf("%d requests, want 1", srv.Count())
			}
			wantCode := tasks.CodeProviderFailed
			if tt.permanent {
				wantCode = tasks.CodeProviderRefused
			}
			if code := tasks.ErrorCode(err); code != wantCode || tasks.IsPermanent(err) != tt.permanent {
				t.Fatalf("err = %v (code %s), want %s", err, code, wantCode)
			}
			var ae *provider.APIError
			switch {
			case errors.As(err, &ae) != tt.apiErr:
				t.Errorf("err = %v, APIError %v, want %v", err, ae != nil, tt.apiErr)
			case tt.apiErr && (ae.Status != tt.status || (tt.typ != "" && ae.Type != tt.typ)):
				t.Errorf("APIError = %+v, want status %d type %q", ae, tt.status, tt.typ)
			case !tt.apiErr && !strings.Contains(tasks.ErrorMessage(err), "could not be parsed"):
				t.Errorf("message %q, want a garbled answer", tasks.ErrorMessage(err))
			}
		})
	}
}

// The configuration is the clients' one source of credentials and
// headers: what the SDKs would read from the environment is not sent.
func TestSendIgnoresSDKEnvironment(t *testing.T) {
	for k, v := range map[string]string{"ANTHROPIC_API_KEY": "sk-env", "ANTHROPIC_AUTH_TOKEN": "tok-env",
		"ANTHROPIC_CUSTOM_HEADERS": "X-Env: 1", "OPENAI_API_KEY": "sk-env", "OPENAI_ORG_ID": "org-env", "OPENAI_PROJECT_ID": "proj-env"} {
		t.Setenv(k, v)
	}
	anth := providertest.NewAnthropic(t, testKey)
	if _, err := newAnthropic(t, anth, nil).Send(ctxT(t), request(t, wires[0])); err != nil {
		t.Fatal(err)
	}
	if h := anth.Requests()[0].Header; h.Get("Authorization") != "" || h.Get("X-Env") != "" || h.Get("X-Api-Key") != testKey {
		t.Errorf("anthropic headers %v", h)
	}
	for _, key := range []string{testKey, ""} {
		oai := providertest.NewOpenAI(t, key)
		if _, err := newOpenAI(t, oai, func(c *provider.HTTPConfig) { c.APIKey = key }).Send(ctxT(t), request(t, wires[1])); err != nil {
			t.Fatal(err)
		}
		h := oai.Requests()[0].Header
		if want := cmp.Or(key, "none"); cmp.Or(strings.TrimPrefix(h.Get("Authorization"), "Bearer "), "none") != want ||
			h.Get("OpenAI-Organization") != "" || h.Get("OpenAI-Project") != "" {
			t.Errorf("openai headers with key %q: %v", key, h)
		}
	}
}

// StrictSchema's rules beyond additionalProperties and required (see
// TestStrictSchema for those).
func TestStrictSchemaRules(t *testing.T) {
	t.Parallel()
	obj := func(props string, required ...string) string {
		b, _ := json.Marshal(required)
		return `{"type":"object","properties":{` + props + `},"required":` + string(b) + `,"additionalProperties":false}`
	}
	nested := `{"type":"string"}`
	for range 10 {
		nested = obj(`"a":`+nested, "a")
	}
	tests := []struct {
		name, schema string
		strict       bool
	}{
		{"root array", `{"type":"array","items":{"type":"string"}}`, false},
		{"root anyOf", `{"type":"object","anyOf":[` + obj(`"a":{"type":"string"}`, "a") + `],"properties":{},"required":[],"additionalProperties":false}`, false},
		{"nested anyOf", obj(`"a":{"anyOf":[{"type":"string"},`+obj(`"x":{"type":"number"}`, "x")+`]}`, "a"), true},
		{"anyOf with a loose object", obj(`"a":{"anyOf":[{"type":"string"},{"type":"object","properties":{"x":{"type":"number"}}}]}`, "a"), false},
		{"allOf", obj(`"a":{"allOf":[{"type":"string"}]}`, "a"), false},
		{"oneOf", obj(`"a":{"oneOf":[{"type":"string"}]}`, "a"), false},
		{"not", obj(`"a":{"type":"string","not":{"const":"x"}}`, "a"), false},
		{"pattern and format", obj(`"a":{"type":"string","pattern":"^[A-Z]+$"},"d":{"type":"string","format":"date"}`, "a", "d"), true},
		{"numeric bounds and minItems", obj(`"n":{"type":"number","minimum":0},"l":{"type":"array","minItems":1,"items":{"type":"string"}}`, "n", "l"), true},
		{"uniqueItems", obj(`"l":{"type":"array","uniqueItems":true,"items":{"type":"string"}}`, "l"), false},
		{"untyped property", obj(`"a":{"description":"anything"}`, "a"), false},
		{"enum without type", obj(`"a":{"enum":["x","y"]}`, "a"), true},
		{"nullable object", obj(`"a":{"type":["object","null"],"properties":{"x":{"type":"string"}},"required":["x"],"additionalProperties":false}`, "a"), true},
		{"nullable loose object", obj(`"a":{"type":["object","null"],"properties":{"x":{"type":"string"}}}`, "a"), false},
		{"$defs checked", `{"type":"object","properties":{"a":{"$ref":"#/$defs/x"}},"required":["a"],"additionalProperties":false,
			"$defs":{"x":{"type":"object","properties":{"y":{"type":"string"}}}}}`, false},
		{"10 levels", nested, true},
		{"11 levels", obj(`"a":`+nested, "a"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s map[string]any
			if err := json.Unmarshal([]byte(tt.schema), &s); err != nil {
				t.Fatal(err)
			}
			if got := provider.StrictSchema(s); got != tt.strict {
				t.Errorf("StrictSchema(%s) = %v, want %v", tt.schema, got, tt.strict)
			}
		})
	}
}
