package provider_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/provider"
	"github.com/mmq/mmq/provider/providertest"
	"github.com/mmq/mmq/schema"
	"github.com/mmq/mmq/tasks"
)

const invoiceSchema = `{"type":"object","properties":{
  "number":{"type":"string"},
  "total":{"type":"number"},
  "lines":{"type":"array","items":{"type":"object","properties":{"item":{"type":"string"},"amount":{"type":"number"}},
    "required":["item","amount"],"additionalProperties":false}}},
  "required":["number","total","lines"],"additionalProperties":false}`

const validInvoice = `{"number":"A-7","total":12.5,"lines":[{"item":"pen","amount":12.5}]}`

// vendor is one fake provider and a unit its client takes.
type vendor struct {
	name   string
	server func(t *testing.T) *providertest.Server
	client func(t *testing.T, srv *providertest.Server) provider.Client
	unit   func(t *testing.T) tasks.Unit
}

var vendors = []vendor{
	{"anthropic", func(t *testing.T) *providertest.Server { return providertest.NewAnthropic(t, testKey) },
		func(t *testing.T, srv *providertest.Server) provider.Client { return newAnthropic(t, srv, nil) },
		func(t *testing.T) tasks.Unit { return pageUnit(t, "letter-text.pdf", "general_qa") }},
	{"openai", func(t *testing.T) *providertest.Server { return providertest.NewOpenAI(t, testKey) },
		func(t *testing.T, srv *providertest.Server) provider.Client { return newOpenAI(t, srv, nil) },
		func(t *testing.T) tasks.Unit { return frameUnit(t, 64, 48) }},
}

// Every answer is validated against the job's schema; one that does not
// validate is asked again with the errors fed back, at most twice, then
// the unit fails with schema_mismatch, its last answer kept, its cost
// counted.
func TestPipelineSchemaAnswers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		answers []string
		// calls is how many requests the fake must get; ok whether the
		// unit ends with valid data; feedback what the second prompt must
		// quote of the first answer's errors.
		calls    int
		ok       bool
		feedback string
	}{
		{"valid", []string{validInvoice}, 1, true, ""},
		{"missing required, then valid", []string{`{"number":"A-7","lines":[]}`, validInvoice}, 2, true, "at /:"},
		{"wrong type, then valid", []string{`{"number":7,"total":1,"lines":[]}`, validInvoice}, 2, true, "at /number"},
		{"extra field, then valid", []string{`{"number":"A","total":1,"lines":[],"vat":2}`, validInvoice}, 2, true, "vat"},
		{"nested array, then valid", []string{`{"number":"A","total":1,"lines":[{"item":"pen","amount":"one"}]}`, validInvoice}, 2, true, "at /lines/0/amount"},
		{"not JSON, then valid", []string{`The total is 12.50.`, validInvoice}, 2, true, "not valid JSON"},
		{"never valid", []string{`{"number":7}`, `{"number":8}`, `{"number":9}`}, 3, false, "at /number"},
	}
	for _, v := range vendors {
		for _, c := range cases {
			t.Run(v.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				srv := v.server(t)
				for _, a := range c.answers {
					srv.Script(providertest.Reply{Text: a})
				}
				p := newPipeline(t, pipelineConfig("claude-default"), v.client(t, srv))
				u := v.unit(t)
				u.Schema = json.RawMessage(invoiceSchema)
				u.Instructions = "Amounts in EUR."
				an, err := p.Analyze(ctxT(t), u)
				reqs := srv.Requests()
				if len(reqs) != c.calls {
					t.Fatalf("%d requests, want %d", len(reqs), c.calls)
				}
				if !strings.Contains(reqs[0].Prompt, "Amounts in EUR.") {
					t.Errorf("prompt %q lacks the instructions", reqs[0].Prompt)
				}
				if c.feedback != "" && !strings.Contains(reqs[1].Prompt, c.feedback) {
					t.Errorf("second prompt %q lacks %q", reqs[1].Prompt, c.feedback)
				}
				o := output(t, an)
				m := an.PageMetrics()
				if m.SchemaRetries != c.calls-1 {
					t.Errorf("schema_retries %d, want %d", m.SchemaRetries, c.calls-1)
				}
				if an.InputTokens == 0 || an.CostUSD == 0 {
					t.Errorf("usage %d tokens, $%v: every call must be counted", an.InputTokens, an.CostUSD)
				}
				if !c.ok {
					if tasks.ErrorCode(err) != tasks.CodeSchemaMismatch || !tasks.IsPermanent(err) {
						t.Fatalf("err %v, want a permanent schema_mismatch", err)
					}
					if o.Data != nil || o.Text != c.answers[len(c.answers)-1] || len(o.SchemaErrors) == 0 {
						t.Errorf("output %+v: want no data, the last raw answer and its errors", o)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				s, _ := schema.Compile([]byte(invoiceSchema), 0)
				if o.Data == nil || s.Validate(o.Data) != nil {
					t.Errorf("data %s does not validate", o.Data)
				}
			})
		}
	}
}

// A schema that does not compile fails the unit permanently, before any
// call.
func TestPipelineInvalidSchema(t *testing.T) {
	t.Parallel()
	srv := providertest.NewAnthropic(t, testKey)
	p := newPipeline(t, pipelineConfig("claude-default"), newAnthropic(t, srv, nil))
	u := pageUnit(t, "letter-text.pdf", "general_qa")
	u.Schema = json.RawMessage(`{"type":"array"}`)
	_, err := p.Analyze(ctxT(t), u)
	if tasks.ErrorCode(err) != tasks.CodeInvalidSchema || !tasks.IsPermanent(err) || srv.Count() != 0 {
		t.Errorf("err %v after %d calls, want invalid_schema and none", err, srv.Count())
	}
}

// The schema and instructions are part of the cache key: the same page
// under another schema is a new call, under the same one a hit.
func TestPipelineSchemaCacheKey(t *testing.T) {
	rdb := redistest.New(t, redistest.DBProvider)
	srv := providertest.NewAnthropic(t, testKey)
	srv.Answer = func(providertest.Received) string { return validInvoice }
	cfg := pipelineConfig("claude-default")
	cfg.Cache = newCache(t, rdb)
	p := newPipeline(t, cfg, newAnthropic(t, srv, nil))
	u := pageUnit(t, "letter-text.pdf", "general_qa")
	u.JobID = fmt.Sprintf("job-%s", t.Name())
	steps := []struct {
		schema, instructions string
		calls                int
	}{
		{invoiceSchema, "", 1},
		{invoiceSchema, "", 1},
		{strings.Replace(invoiceSchema, `"lines"]`, `"lines"],"title":"v2"`, 1), "", 2},
		{invoiceSchema, "Amounts in EUR.", 3},
		{invoiceSchema, "Amounts in EUR.", 3},
	}
	for i, s := range steps {
		u.Schema, u.Instructions = json.RawMessage(s.schema), s.instructions
		if _, err := p.Analyze(ctxT(t), u); err != nil {
			t.Fatal(err)
		}
		if srv.Count() != s.calls {
			t.Fatalf("step %d: %d calls, want %d", i, srv.Count(), s.calls)
		}
	}
}

// Many page answers are combined in rounds, no call over the input bound,
// into one answer that validates.
func TestRouterCombineRounds(t *testing.T) {
	t.Parallel()
	for _, v := range vendors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			srv := v.server(t)
			srv.Answer = func(r providertest.Received) string {
				if !strings.Contains(r.Prompt, "<answer of=") {
					t.Errorf("a combining call without answers: %q", r.Prompt)
				}
				return validInvoice
			}
			cfg := pipelineConfig("claude-default")
			cfg.CombineMaxInputTokens = 1500
			p := newPipeline(t, cfg, v.client(t, srv))
			r, err := provider.NewRouter(provider.RouterConfig{Default: v.name}, map[string]provider.Analyzer{v.name: p})
			if err != nil {
				t.Fatal(err)
			}
			job := &tasks.Job{ID: "job-c", Kind: tasks.KindDocument,
				Options: tasks.Options{Scope: tasks.ScopeDocument, Schema: json.RawMessage(invoiceSchema)}}
			var rs []tasks.PageResult
			for i := 1; i <= 60; i++ {
				out, _ := json.Marshal(provider.Output{Data: json.RawMessage(fmt.Sprintf(
					`{"number":"A-7","total":%d,"lines":[{"item":"line of page %d, a description long enough to count","amount":%d}]}`, i, i, i))})
				rs = append(rs, tasks.PageResult{Index: i, Status: tasks.PageDone, Output: out})
			}
			rs = append(rs, tasks.PageResult{Index: 61, Status: tasks.PageFailed})
			an, err := r.Combine(ctxT(t), job, rs)
			if err != nil {
				t.Fatal(err)
			}
			reqs := srv.Requests()
			if len(reqs) < 3 {
				t.Fatalf("%d calls: 60 answers over a 1,500-token bound need rounds", len(reqs))
			}
			for i, q := range reqs {
				if tok := providertest.TextTokens(q.System + q.Prompt); tok > cfg.CombineMaxInputTokens {
					t.Errorf("call %d: %d prompt tokens, over the %d bound", i, tok, cfg.CombineMaxInputTokens)
				}
				if len(q.Parts) != 0 {
					t.Errorf("call %d has %d parts; combining is text only", i, len(q.Parts))
				}
			}
			last := reqs[len(reqs)-1].Prompt
			if !strings.Contains(last, "(combined)") || strings.Contains(last, "part of the document") {
				t.Errorf("the last call %q must combine the partial answers as the whole", last)
			}
			if o := output(t, an); string(o.Data) != validInvoice {
				t.Errorf("combined data %s", o.Data)
			}
			if an.InputTokens == 0 || an.CostUSD == 0 {
				t.Errorf("usage %+v: every round must be counted", an)
			}
			est, err := r.EstimateCombine(ctxT(t), job.Options, make([]tasks.PageEstimate, 60))
			if err != nil || len(est) == 0 {
				t.Fatalf("EstimateCombine: %v, %d calls", err, len(est))
			}
		})
	}
}

// A schema goes on the wire as the vendor's structured-output feature:
// Anthropic a forced tool whose input_schema it is, OpenAI response_format
// json_schema, strict only when the schema meets the strict rules.
func TestSchemaOnTheWire(t *testing.T) {
	t.Parallel()
	loose := `{"type":"object","properties":{"total":{"type":"number"}}}`
	cases := []struct {
		vendor, schema string
		strict         bool
	}{
		{"anthropic", invoiceSchema, false},
		{"openai", invoiceSchema, true},
		{"openai", loose, false},
	}
	for _, c := range cases {
		t.Run(c.vendor+fmt.Sprint(c.strict), func(t *testing.T) {
			t.Parallel()
			var v vendor
			for _, x := range vendors {
				if x.name == c.vendor {
					v = x
				}
			}
			srv := v.server(t)
			u := v.unit(t)
			req := &provider.Request{Model: "m", Prompt: "p", MaxTokens: 100, Schema: json.RawMessage(c.schema)}
			if c.vendor == "anthropic" {
				req.Parts = []provider.Part{{MIME: "application/pdf", Data: u.Data}}
			} else {
				req.Parts = []provider.Part{{MIME: "image/png", Data: u.Data}}
			}
			resp, err := v.client(t, srv).Send(ctxT(t), req)
			if err != nil {
				t.Fatal(err)
			}
			r := srv.Requests()[0]
			var got, want any
			json.Unmarshal(r.Schema, &got)
			json.Unmarshal([]byte(c.schema), &want)
			if fmt.Sprint(got) != fmt.Sprint(want) || r.SchemaName != "answer" || r.Strict != c.strict {
				t.Errorf("wire schema %s named %q strict %v; want %s, \"answer\", %v", r.Schema, r.SchemaName, r.Strict, c.schema, c.strict)
			}
			if resp.Text != providertest.SchemaAnswer(json.RawMessage(c.schema)) {
				t.Errorf("answer %q, want the JSON the fake gave", resp.Text)
			}
			if c.vendor == "anthropic" && resp.StopReason != "tool_use" {
				t.Errorf("stop reason %q, want tool_use", resp.StopReason)
			}
		})
	}
}

func TestStrictSchema(t *testing.T) {
	t.Parallel()
	cases := []struct {
		schema string
		strict bool
	}{
		{invoiceSchema, true},
		{`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}`, true},
		{`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`, false},
		{`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"number"}},"required":["a"],"additionalProperties":false}`, false},
		{`{"type":"object","properties":{"a":{"type":"object","properties":{"x":{"type":"string"}}}},"required":["a"],"additionalProperties":false}`, false},
		{`{"type":"object","properties":{"a":{"type":"string","minLength":2}},"required":["a"],"additionalProperties":false}`, false},
		{`{"type":"object","properties":{"a":{"type":"array","items":{"type":"object","properties":{"x":{"type":"string"}},"required":["x"],"additionalProperties":false}}},"required":["a"],"additionalProperties":false}`, true},
	}
	for _, c := range cases {
		var s map[string]any
		if err := json.Unmarshal([]byte(c.schema), &s); err != nil {
			t.Fatal(err)
		}
		if got := provider.StrictSchema(s); got != c.strict {
			t.Errorf("StrictSchema(%s) = %v, want %v", c.schema, got, c.strict)
		}
	}
}
