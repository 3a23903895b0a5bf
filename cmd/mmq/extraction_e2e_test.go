package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/provider"
	"github.com/mmq/mmq/provider/providertest"
	"github.com/mmq/mmq/schema"
	"github.com/mmq/mmq/tasks"
)

// pageSchema is what the corpus test extracts from every page.
const pageSchema = `{"type":"object","properties":{
  "summary":{"type":"string"},
  "word_count":{"type":"integer","minimum":0},
  "has_text":{"type":"boolean"}},
 "required":["summary","word_count","has_text"],"additionalProperties":false}`

// submitExtraction uploads file as a multipart form with the extraction
// fields, the way curl -F does.
func submitExtraction(t *testing.T, base, file string, fields map[string]string) *tasks.Job {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := w.CreateFormFile("file", filepath.Base(file))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	w.Close()
	resp, err := http.Post(base+"/v1/jobs", w.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusCreated {
		t.Fatalf("submit %s: %d %s", filepath.Base(file), resp.StatusCode, b)
	}
	var j tasks.Job
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	return &j
}

func getBody(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b
}

// On corpus documents, with a fake model whose first answer to 20% of the
// pages does not follow the schema (and to some pages never does), every
// page ends with data that validates or with schema_mismatch and the last
// answer kept; none is stored invalid. A job of scope document gets one
// combined answer, served by /document in both formats.
func TestSlowExtractionOnCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("analyzes about 100 pages")
	}
	var firstTries, badFirst, reasked atomic.Int64
	srv := providertest.NewAnthropic(t, "sk-ant-e2e")
	srv.Answer = func(r providertest.Received) string {
		if strings.Contains(r.Prompt, "<answer of=") {
			return `{"summary":"the whole document","word_count":1000,"has_text":true}`
		}
		var text string
		if len(r.Parts) == 1 {
			text = providertest.PDFText(r.Parts[0].Data)
		}
		words := len(strings.Fields(text))
		valid := fmt.Sprintf(`{"summary":%q,"word_count":%d,"has_text":%v}`, truncateRunes(text, 60), words, words > 0)
		if strings.Contains(r.Prompt, "Your previous answer was") {
			reasked.Add(1)
			if len(text)%23 == 0 {
				return `{"summary":"still wrong","word_count":-1}` // this page never follows the schema
			}
			return valid
		}
		if n := firstTries.Add(1); n%5 == 0 || len(text)%23 == 0 {
			badFirst.Add(1)
			return fmt.Sprintf(`{"summary":%d,"word_count":"many"}`, words)
		}
		return valid
	}
	c, base := startModelApp(t, srv)
	sch, err := schema.Compile([]byte(pageSchema), 0)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"pdfcpu-read.go.pdf", "pdfcpu-pike-stanford.pdf", "qpdf-linearized-30p.pdf", "pdfcpu-CenterOfWhy.pdf"}
	var pages, valid, mismatched int
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i, name := range files {
		fields := map[string]string{"schema": pageSchema, "instructions": "Count the words of the page."}
		if i == 0 {
			fields["scope"] = "document"
		}
		j := submitExtraction(t, base, corpusPDF(t, name), fields)
		j, err := c.Wait(ctx, j.ID, 50*time.Millisecond, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !j.Status.Final() || j.PagesDone+j.PagesFailed != j.PagesTotal {
			t.Fatalf("%s: job %s with %d+%d of %d pages", name, j.Status, j.PagesDone, j.PagesFailed, j.PagesTotal)
		}
		for cursor := ""; ; {
			rs, next, err := c.Results(ctx, j.ID, cursor, 500)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				pages++
				var o provider.Output
				if err := json.Unmarshal(r.Output, &o); err != nil {
					t.Fatalf("%s page %d: output %s: %v", name, r.Index, r.Output, err)
				}
				switch r.Status {
				case tasks.PageDone:
					if o.Data == nil || sch.Validate(o.Data) != nil {
						t.Errorf("%s page %d stored as done with data %s that does not validate", name, r.Index, o.Data)
					}
					valid++
				default:
					if r.ErrorCode != tasks.CodeSchemaMismatch || o.Data != nil || o.Text == "" || len(o.SchemaErrors) == 0 {
						t.Errorf("%s page %d failed with %s, output %+v: want schema_mismatch with the last answer", name, r.Index, r.ErrorCode, o)
					}
					if r.Metrics == nil || r.Metrics.SchemaRetries != 2 {
						t.Errorf("%s page %d: metrics %+v, want 2 schema retries", name, r.Index, r.Metrics)
					}
					mismatched++
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if i == 0 {
			if j.Answer == nil || sch.Validate(j.Answer) != nil {
				t.Errorf("%s: combined answer %s does not validate", name, j.Answer)
			}
			var doc struct {
				JobID  string          `json:"job_id"`
				Answer json.RawMessage `json:"answer"`
				Pages  []struct {
					Page int             `json:"page"`
					Data json.RawMessage `json:"data"`
				} `json:"pages"`
			}
			if err := json.Unmarshal(getBody(t, base+"/v1/jobs/"+j.ID+"/document"), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.JobID != j.ID || string(doc.Answer) != string(j.Answer) || len(doc.Pages) != j.PagesTotal {
				t.Errorf("/document: job %s, answer %s, %d pages; want %s, %s, %d", doc.JobID, doc.Answer, len(doc.Pages), j.ID, j.Answer, j.PagesTotal)
			}
			md := string(getBody(t, base+"/v1/jobs/"+j.ID+"/document?format=markdown"))
			if !strings.Contains(md, "<!-- page 1 -->") || !strings.Contains(md, fmt.Sprintf("<!-- page %d -->", j.PagesTotal)) ||
				!strings.Contains(md, "the whole document") {
				t.Errorf("/document?format=markdown lacks page markers or the answer:\n%.600s", md)
			}
		}
	}
	t.Logf("%d pages: %d first answers invalid (%.0f%%), %d re-asks; %d pages valid, %d schema_mismatch, 0 stored invalid",
		pages, badFirst.Load(), 100*float64(badFirst.Load())/float64(max(firstTries.Load(), 1)), reasked.Load(), valid, mismatched)
	if badFirst.Load() == 0 || mismatched == 0 || valid == 0 {
		t.Errorf("the fake's faults did not show: %d bad first answers, %d mismatched, %d valid", badFirst.Load(), mismatched, valid)
	}
}

func truncateRunes(s string, n int) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) > n {
		r = r[:n]
	}
	return string(r)
}

var _ = client.SubmitOptions{}

// The CLI: a bad --schema is refused before any request; with the local
// analyzer the extraction options are refused by the server; mmq
// document prints a finished job with its page markers.
func TestExtractionCLI(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "bad.json")
	os.WriteFile(notJSON, []byte(`{"type":`), 0o644)
	pdf := "testdata/pdfcpu-read.go.pdf"

	_, base := startApp(t)
	for _, args := range [][]string{
		{"submit", pdf, "--schema", filepath.Join(dir, "missing.json")},
		{"submit", pdf, "--schema", notJSON},
		{"submit", pdf, "--scope", "book"},
		{"estimate", pdf, "--schema", notJSON},
		{"document", "x", "--format", "pdf"},
	} {
		if _, code := runCLI(t, append(args, "--server", base)...); code != exitUsage {
			t.Errorf("mmq %v: exit %d, want %d (usage)", args, code, exitUsage)
		}
	}
	if _, code := runCLI(t, "submit", pdf, "--instructions", "x", "--server", base); code != exitRejected {
		t.Errorf("instructions with the local analyzer: exit %d, want %d (rejected)", code, exitRejected)
	}
	out, code := runCLI(t, "submit", pdf, "--wait", "--json", "--server", base)
	var j tasks.Job
	if code != 0 || json.Unmarshal([]byte(out), &j) != nil {
		t.Fatalf("submit: exit %d, %s", code, out)
	}
	md, code := runCLI(t, "document", j.ID, "--format", "markdown", "--server", base)
	if code != 0 || !strings.Contains(md, "<!-- page 1 -->") || !strings.Contains(md, fmt.Sprintf("<!-- page %d -->", j.PagesTotal)) {
		t.Errorf("mmq document: exit %d:\n%.300s", code, md)
	}
}

// With a model provider, estimate and submit --schema --scope document
// --wait end with the combined answer that mmq document shows first.
func TestExtractionCLIModel(t *testing.T) {
	schemaFile := filepath.Join(t.TempDir(), "page.schema.json")
	os.WriteFile(schemaFile, []byte(pageSchema), 0o644)
	pdf := "testdata/pdfcpu-read.go.pdf"
	srv := providertest.NewAnthropic(t, "sk-ant-e2e")
	srv.Answer = func(r providertest.Received) string {
		return `{"summary":"s","word_count":3,"has_text":true}`
	}
	_, mbase := startModelApp(t, srv)
	out, code := runCLI(t, "estimate", pdf, "--schema", schemaFile, "--scope", "document", "--json", "--server", mbase)
	var est tasks.Estimate
	if code != 0 || json.Unmarshal([]byte(out), &est) != nil || len(est.Combine) == 0 {
		t.Fatalf("estimate: exit %d, %s", code, out)
	}
	var j tasks.Job
	out, code = runCLI(t, "submit", pdf, "--schema", schemaFile, "--instructions", "Count words.", "--scope", "document", "--wait", "--json", "--server", mbase)
	if code != 0 || json.Unmarshal([]byte(out), &j) != nil || compactJSON(j.Answer) != `{"summary":"s","word_count":3,"has_text":true}` {
		t.Fatalf("submit --scope document: exit %d, %.300s", code, out)
	}
	md, _ := runCLI(t, "document", j.ID, "--format", "markdown", "--server", mbase)
	if !strings.HasPrefix(md, "<!-- document -->\n\n- **summary**: s\n") {
		t.Errorf("document markdown:\n%.300s", md)
	}
	// The estimate is close to what the job accounted, combining included.
	if j.Usage != nil {
		t.Logf("estimate $%.4f (%d combining calls) vs accounted $%.4f: %+.1f%%", est.CostUSD, len(est.Combine),
			j.Usage.CostUSD, 100*(est.CostUSD/j.Usage.CostUSD-1))
	}
}

func compactJSON(raw []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}
