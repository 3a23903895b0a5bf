package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mmq/mmq/schema"
	"github.com/mmq/mmq/tasks"
)

// Extraction: a job's own instructions and JSON Schema on top of its task.
//
// Instructions are appended to the task's prompt. A schema goes to the
// client as Request.Schema, which the client enforces with the provider's
// structured-output feature; the pipeline validates every answer itself as
// well, and asks again with the validation errors fed back, at most
// SchemaRetries more times, before the unit fails with CodeSchemaMismatch.

// schemaOverhead is the tokens a provider adds for a structured-output
// request beyond the schema's own text: Anthropic's tool-use system prompt
// (about 300 tokens with a forced tool choice), OpenAI's response_format
// framing.
const schemaOverhead = 300

// maxFeedbackAnswer bounds how much of a rejected answer is quoted back to
// the model when it is asked again.
const maxFeedbackAnswer = 4 << 10

// extractionPrompt returns prompt with the client's instructions and, for a
// schema, the request to answer with JSON that follows it.
func extractionPrompt(prompt, instructions string, withSchema bool) string {
	if instructions == "" && !withSchema {
		return prompt
	}
	var b strings.Builder
	b.WriteString(prompt)
	if instructions != "" {
		b.WriteString("\n\nInstructions from the client:\n")
		b.WriteString(instructions)
	}
	if withSchema {
		b.WriteString("\n\nGive the answer as JSON that follows the provided JSON Schema exactly. " +
			"Use null or leave out optional fields the input does not show; never invent values.")
	}
	return b.String()
}

// feedbackPrompt asks again after answer failed validation.
func feedbackPrompt(prompt, answer string, mismatch *schema.MismatchError) string {
	if len(answer) > maxFeedbackAnswer {
		answer = answer[:maxFeedbackAnswer] + "…"
	}
	var b strings.Builder
	b.WriteString(prompt)
	b.WriteString("\n\nYour previous answer was:\n")
	b.WriteString(answer)
	b.WriteString("\n\nIt does not validate against the JSON Schema:\n")
	for _, is := range mismatch.Issues {
		p := is.Pointer
		if p == "" {
			p = "/"
		}
		fmt.Fprintf(&b, "- at %s: %s\n", p, is.Message)
	}
	b.WriteString("Answer again, with JSON that validates.")
	return b.String()
}

// compileSchema compiles a unit's schema through the pipeline's cache; a
// schema that does not compile is the request's fault.
func (p *Pipeline) compileSchema(raw json.RawMessage) (*schema.Schema, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	s, err := p.schemas.Compile(raw)
	if err != nil {
		return nil, tasks.WrapError(tasks.CodeInvalidSchema, err, err.Error())
	}
	return s, nil
}

// ask is one question to the model under the limiter, asked again while
// the answer does not validate against sch and re-asks are left. It sums
// the usage of every call. The answer it returns is the last one; mismatch
// is why it does not validate, nil when it does (or there is no schema).
type asked struct {
	ans      *answer
	mismatch *schema.MismatchError
	reasks   int
}

// answerOrNil is the answer identical units waiting on this one may take:
// none when it does not validate.
func (a asked) answerOrNil() *answer {
	if a.mismatch != nil {
		return nil
	}
	return a.ans
}

func (p *Pipeline) ask(ctx context.Context, u tasks.Unit, req *Request, sch *schema.Schema, estTokens int, m *tasks.Metrics) (asked, error) {
	var out asked
	prompt := req.Prompt
	for {
		if l := p.cfg.Limiter; l != nil {
			waited, err := l.Wait(ctx, u, p.Name(), req.Model, estTokens)
			m.ThrottledMS += waited.Milliseconds()
			if err != nil {
				return out, err
			}
		}
		resp, err := p.client.Send(ctx, req)
		if err != nil {
			return out, err
		}
		m.TTFBMS, m.Retries = resp.TTFB.Milliseconds(), m.Retries+resp.Retries
		if resp.LastError != nil {
			m.Error = tasks.CodeProviderFailed
		}
		if !resp.UsageReported && resp.InputTokens == 0 {
			resp.InputTokens = estTokens - resp.OutputTokens
		}
		a := &answer{Text: resp.Text, StopReason: resp.StopReason, Model: resp.Model,
			InputTokens: resp.InputTokens, OutputTokens: resp.OutputTokens}
		if a.Model == "" {
			a.Model = req.Model
		}
		if out.ans != nil {
			a.InputTokens += out.ans.InputTokens
			a.OutputTokens += out.ans.OutputTokens
		}
		out.ans, out.mismatch = a, nil
		if sch == nil {
			return out, nil
		}
		var mm *schema.MismatchError
		if err := sch.Validate([]byte(resp.Text)); !errors.As(err, &mm) {
			return out, nil
		}
		out.mismatch = mm
		if out.reasks >= p.cfg.SchemaRetries {
			return out, nil
		}
		out.reasks++
		r := *req
		r.Prompt = feedbackPrompt(prompt, resp.Text, mm)
		req = &r
	}
}

// schemaData returns text compacted when it is JSON that validates against
// sch, or the mismatch.
func schemaData(text string, sch *schema.Schema) (json.RawMessage, *schema.MismatchError) {
	var mm *schema.MismatchError
	if err := sch.Validate([]byte(text)); errors.As(err, &mm) {
		return nil, mm
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(strings.TrimSpace(text))); err != nil {
		return nil, &schema.MismatchError{Issues: []schema.Issue{{Message: "the answer is not valid JSON"}}}
	}
	return buf.Bytes(), nil
}

// mismatchError is the unit's failure after its re-asks.
func mismatchError(mm *schema.MismatchError, tries int) error {
	return tasks.WrapError(tasks.CodeSchemaMismatch, mm,
		fmt.Sprintf("%s (after %d tries)", truncate(mm.Error(), 1000), tries))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// answerTokens estimates the tokens of an answer shaped by the schema:
// every property's name and a typical value (a short string, a number),
// arrays of two items, nested objects in full. It bounds its walk.
func answerTokens(raw json.RawMessage) int {
	var doc any
	if json.Unmarshal(raw, &doc) != nil {
		return 0
	}
	budget := 2000
	var walk func(v any, depth int) int
	walk = func(v any, depth int) int {
		budget--
		obj, ok := v.(map[string]any)
		if !ok || budget <= 0 || depth > 8 {
			return 2
		}
		if props, ok := obj["properties"].(map[string]any); ok {
			n := 2
			for name, ps := range props {
				n += textTokens(name) + 2 + walk(ps, depth+1)
			}
			return n
		}
		if items, ok := obj["items"]; ok {
			return 2 + 2*walk(items, depth+1)
		}
		switch t, _ := obj["type"].(string); t {
		case "string":
			if _, ok := obj["enum"]; ok {
				return 3
			}
			return 8
		case "number", "integer":
			return 3
		case "boolean", "null":
			return 1
		}
		return 4
	}
	return walk(doc, 0)
}
