package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/provider/providertest"
	"github.com/mmq/mmq/tasks"
)

// Bad extraction flags are usage errors found before any request: the
// server here does not exist, so a request would exit 6 (unreachable).
func TestExtractionFlagsBeforeRequest(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	os.WriteFile(big, []byte(`{"type":"object","description":"`+strings.Repeat("x", 64<<10)+`"}`), 0o644)
	notJSON := filepath.Join(dir, "bad.json")
	os.WriteFile(notJSON, []byte(`{"type":"object",}`), 0o644)
	pdf := "testdata/pdfcpu-read.go.pdf"
	const nowhere = "http://127.0.0.1:1"
	for _, args := range [][]string{
		{"submit", pdf, "--schema", big},
		{"submit", pdf, "--schema", dir},
		{"submit", pdf, "--instructions", strings.Repeat("i", 8<<10+1)},
		{"submit", pdf, pdf, "--schema", notJSON},
		{"submit", pdf, pdf, "--scope", "chapter"},
		{"estimate", pdf, "--scope", "chapter"},
		{"estimate", pdf, "--schema", filepath.Join(dir, "missing.json")},
		{"document", "x", "--format", "html"},
	} {
		if _, code := runCLI(t, append(args, "--server", nowhere)...); code != exitUsage {
			t.Errorf("mmq %.80v: exit %d, want %d (usage)", args, code, exitUsage)
		}
	}
	// Good flags reach the server, here none. The schema bound is on the
	// compacted schema: an indented file may be larger.
	indented := filepath.Join(dir, "indented.json")
	os.WriteFile(indented, []byte("{\n"+strings.Repeat("  ", 10<<10)+`"type": "object", "description": "`+strings.Repeat("x", 60<<10)+"\"\n}\n"), 0o644)
	for _, args := range [][]string{
		{"document", "x"},
		{"submit", pdf, "--schema", indented, "--scope", "document"},
	} {
		if _, code := runCLI(t, append(args, "--server", nowhere)...); code != exitUnavailable {
			t.Errorf("mmq %.80v: exit %d, want %d (it asked the server)", args, code, exitUnavailable)
		}
	}
}

// With a model provider: a batch submitted with --schema --scope document
// gives every job its data and combined answer, which mmq document prints
// as JSON; a schema the server refuses exits 3 saying where the problem
// is; the estimate counts the schema on every page.
func TestSlowExtractionCLIBatch(t *testing.T) {
	dir := t.TempDir()
	schemaFile := filepath.Join(dir, "page.schema.json")
	os.WriteFile(schemaFile, []byte(pageSchema), 0o644)
	arrayTop := filepath.Join(dir, "array.schema.json")
	os.WriteFile(arrayTop, []byte(`{"type":"array"}`), 0o644)
	pdf, pdf2 := "testdata/pdfcpu-read.go.pdf", "testdata/qpdf-enc-R3-rc4-128-userpw-view.pdf"
	srv := providertest.NewAnthropic(t, "sk-ant-e2e")
	srv.Answer = func(providertest.Received) string { return `{"summary":"s","word_count":3,"has_text":true}` }
	c, base := startModelApp(t, srv)

	out, code := runCLI(t, "submit", pdf, pdf, "--schema", schemaFile, "--instructions", "Count words.", "--scope", "document", "--json", "--server", base)
	var b client.BatchReply
	if code != 0 || json.Unmarshal([]byte(out), &b) != nil || len(b.JobIDs) != 2 {
		t.Fatalf("batch submit: exit %d, %.300s", code, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range b.JobIDs {
		j, err := c.Wait(ctx, id, 20*time.Millisecond, nil)
		if err != nil {
			t.Fatal(err)
		}
		if j.Options.Instructions != "Count words." || j.Options.Scope != tasks.ScopeDocument || len(j.Options.Schema) == 0 {
			t.Errorf("job %s options %+v", id, j.Options)
		}
		out, code := runCLI(t, "document", id, "--server", base)
		var doc client.Document
		if code != 0 || json.Unmarshal([]byte(out), &doc) != nil {
			t.Fatalf("mmq document: exit %d, %.300s", code, out)
		}
		if doc.JobID != id || compactJSON(doc.Answer) != `{"summary":"s","word_count":3,"has_text":true}` || len(doc.Pages) != j.PagesTotal {
			t.Errorf("document %s: answer %s, %d pages of %d", doc.JobID, doc.Answer, len(doc.Pages), j.PagesTotal)
		}
		for _, p := range doc.Pages {
			if p.Page == nil || p.Status != tasks.PageDone || compactJSON(p.Data) != `{"summary":"s","word_count":3,"has_text":true}` {
				t.Errorf("page %+v", p)
				break
			}
		}
	}

	cmd := newRootCmd()
	cmd.SetOut(new(strings.Builder))
	cmd.SetErr(new(strings.Builder))
	cmd.SetArgs([]string{"submit", pdf2, "--password", "user", "--schema", arrayTop, "--server", base})
	err := cmd.ExecuteContext(context.Background())
	if exitCode(err) != exitRejected || err == nil || !strings.Contains(err.Error(), "invalid_schema") || !strings.Contains(err.Error(), "/type") {
		t.Errorf("a schema the server refuses: exit %d, %v; want %d naming invalid_schema and /type", exitCode(err), err, exitRejected)
	}

	estimate := func(args ...string) tasks.Estimate {
		out, code := runCLI(t, append([]string{"estimate", pdf, "--json", "--server", base}, args...)...)
		var est tasks.Estimate
		if code != 0 || json.Unmarshal([]byte(out), &est) != nil {
			t.Fatalf("estimate %v: exit %d, %.300s", args, code, out)
		}
		return est
	}
	plain, with := estimate(), estimate("--schema", schemaFile, "--instructions", strings.Repeat("Count the words. ", 20))
	if with.Pages != plain.Pages || with.InputTokens-plain.InputTokens < int64(plain.Pages)*50 || len(with.Combine) != 0 {
		t.Errorf("estimate with a schema and instructions: %d input tokens for %d pages, without %d; combining calls %d",
			with.InputTokens, with.Pages, plain.InputTokens, len(with.Combine))
	}
}
