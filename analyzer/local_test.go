package analyzer_test

//go:generate go run testdata/generate.go

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image/color"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/analyzer"
	"github.com/mmq/mmq/internal/proctest"
	"github.com/mmq/mmq/tasks"

	"github.com/mmq/mmq/internal/corpus"
)

// setup returns a Local with poppler's pdftotext, which page text needs. A
// host without it skips the test, except in CI, where it fails.
func setup(t testing.TB) *analyzer.Local {
	t.Helper()
	proctest.Need(t, "pdftotext")
	l, err := analyzer.NewLocal(analyzer.LocalConfig{})
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	if err := l.Available(); err != nil {
		t.Fatalf("Available() = %v with pdftotext on PATH", err)
	}
	return l
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func pdfUnit(index int, data []byte) tasks.Unit {
	return tasks.Unit{JobID: "job-1", Kind: tasks.KindDocument, Index: index, Data: data, MIME: "application/pdf", Task: "general_qa"}
}

// analyze runs l on u and decodes the facts, failing on any error.
func analyze(t *testing.T, l *analyzer.Local, u tasks.Unit) analyzer.PageFacts {
	t.Helper()
	a, err := l.Analyze(context.Background(), u)
	if err != nil {
		t.Fatalf("Analyze: %v", err)
	}
	if a.Analyzer != analyzer.LocalName {
		t.Errorf("Analyzer = %q, want %q", a.Analyzer, analyzer.LocalName)
	}
	dec := json.NewDecoder(strings.NewReader(string(a.Output)))
	dec.DisallowUnknownFields()
	var f analyzer.PageFacts
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("decode output %s: %v", a.Output, err)
	}
	return f
}

func TestLocalPageFacts(t *testing.T) {
	t.Parallel()
	l := setup(t)

	tests := []struct {
		file          string
		width, height float64
		rotation      int
		words         []string // words the text must contain
		fonts         []string // fonts that must be listed; nil for none at all
		images        int
	}{
		{
			file: "letter-text.pdf", width: 612, height: 792,
			words: []string{"Supporting", "DCT", "Filters", "PostScript", "November"},
			fonts: []string{"Helvetica", "Helvetica-Bold", "Times-Italic"},
		},
		{
			file: "letter-text-rotate90.pdf", width: 792, height: 612, rotation: 90,
			words: []string{"Supporting", "DCT", "Filters"},
			fonts: []string{"Helvetica", "Helvetica-Bold"},
		},
		{
			file: "a4-code.pdf", width: 594.96, height: 840.96,
			words: []string{"Copyright", "pdfcpu", "Apache", "License"},
			fonts: []string{"Times-Roman"},
		},
		{
			file: "a4-text.pdf", width: 595, height: 842,
			words: []string{"INTERNATIONAL", "TELECOMMUNICATION", "T.81"},
			fonts: []string{"Helvetica", "Helvetica-Bold"},
		},
		{
			file: "letter-image.pdf", width: 612, height: 792,
			words:  []string{"Center", "Kay", "Kyoto", "Glendale"},
			fonts:  []string{"TimesNewRoman", "Verdana"},
			images: 1,
		},
		{
			// The image's soft mask is not an image of its own.
			file: "a4-image-smask.pdf", width: 595.32, height: 841.92,
			fonts: []string{"Georgia"}, images: 1,
		},
		{
			// A scan: no text, no fonts, turned by the file's own /Rotate.
			file: "scan-rotate270.pdf", width: 780.72, height: 607.23, rotation: 270,
			images: 1,
		},
		{
			file: "hello.pdf", width: 612, height: 396,
			words: []string{"Hello"}, fonts: []string{"Helvetica"},
		},
		{
			// pdfcpu paints the stamp through a form XObject.
			file: "hello-image-in-form.pdf", width: 612, height: 396,
			words: []string{"Hello"}, fonts: []string{"Helvetica"}, images: 1,
		},
	}
	for _, tt := range tests {
		data := readTestdata(t, tt.file)
		sum := sha256.Sum256(data)
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			f := analyze(t, l, pdfUnit(7, data))

			if f.Page != 7 {
				t.Errorf("Page = %d, want 7", f.Page)
			}
			if f.WidthPt != tt.width || f.HeightPt != tt.height {
				t.Errorf("size = %v x %v pt, want %v x %v", f.WidthPt, f.HeightPt, tt.width, tt.height)
			}
			if f.Rotation != tt.rotation {
				t.Errorf("Rotation = %d, want %d", f.Rotation, tt.rotation)
			}
			if f.ImageCount != tt.images {
				t.Errorf("ImageCount = %d, want %d", f.ImageCount, tt.images)
			}
			if f.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("SHA256 = %s, want the hash of the unit's data", f.SHA256)
			}
			if f.TextSource != analyzer.TextSourcePDFToText {
				t.Errorf("TextSource = %q, want %q (warnings %q)", f.TextSource, analyzer.TextSourcePDFToText, f.Warnings)
			}
			if len(f.Warnings) > 0 {
				t.Errorf("Warnings = %q, want none", f.Warnings)
			}

			if f.Fonts == nil {
				t.Error("Fonts is null, want a list")
			}
			if tt.fonts == nil && len(f.Fonts) > 0 {
				t.Errorf("Fonts = %q, want none", f.Fonts)
			}
			for _, font := range tt.fonts {
				if !slices.Contains(f.Fonts, font) {
					t.Errorf("Fonts = %q, want %q among them", f.Fonts, font)
				}
			}
			if !slices.IsSorted(f.Fonts) || len(slices.Compact(slices.Clone(f.Fonts))) != len(f.Fonts) {
				t.Errorf("Fonts = %q, want sorted and distinct", f.Fonts)
			}

			fields := strings.Fields(f.Text)
			for _, w := range tt.words {
				if !slices.ContainsFunc(fields, func(field string) bool { return strings.Contains(field, w) }) {
					t.Errorf("Text lacks the word %q:\n%s", w, f.Text)
				}
			}
			if len(tt.words) == 0 && f.WordCount != 0 {
				t.Errorf("WordCount = %d, want 0 for a page without text; text %q", f.WordCount, f.Text)
			}
			if f.WordCount != len(fields) {
				t.Errorf("WordCount = %d, want %d", f.WordCount, len(fields))
			}
			if want := len([]rune(strings.Join(fields, ""))); f.CharCount != want {
				t.Errorf("CharCount = %d, want %d non-space runes", f.CharCount, want)
			}
			if len(tt.words) > 0 && (f.LineCount < 1 || f.LineCount > strings.Count(f.Text, "\n")+1) {
				t.Errorf("LineCount = %d for %d lines of text", f.LineCount, strings.Count(f.Text, "\n")+1)
			}
		})
	}
}

// TestLocalMountain reads the corpus's one-page photo, too large to copy into
// testdata, when the corpus is present.
func TestLocalMountain(t *testing.T) {
	t.Parallel()
	l := setup(t)
	path := filepath.Join(corpus.Dir(), "pdf", "pdfcpu-mountain.pdf")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("corpus not present: %v", err)
	}
	f := analyze(t, l, pdfUnit(1, data))
	if f.ImageCount != 1 || f.WidthPt != 1268 || f.HeightPt != 720 || f.WordCount != 0 {
		t.Errorf("facts = %d images, %v x %v pt, %d words; want 1 image, 1268 x 720 pt, 0 words",
			f.ImageCount, f.WidthPt, f.HeightPt, f.WordCount)
	}
}

func TestLocalRejects(t *testing.T) {
	t.Parallel()
	l := setup(t)
	hello := readTestdata(t, "hello.pdf")

	tests := []struct {
		name  string
		unit  tasks.Unit
		want  tasks.Code
		cause string // what the logged cause must say, if anything
	}{
		{"garbage", pdfUnit(1, []byte("this is not a PDF, just text")), tasks.CodeInvalidPDF, ""},
		{"header only", pdfUnit(1, []byte("%PDF-1.7\n%%EOF\n")), tasks.CodeInvalidPDF, ""},
		{"zeros", pdfUnit(1, make([]byte, 4096)), tasks.CodeInvalidPDF, ""},
		{"truncated", pdfUnit(1, hello[:len(hello)/3]), tasks.CodeInvalidPDF, ""},
		{"pdfcpu panics", pdfUnit(1, readTestdata(t, "pdfcpu-panics.pdf")), tasks.CodeInvalidPDF, "pdfcpu panicked"},
		{"needs a password", pdfUnit(1, readTestdata(t, "encrypted-userpw.pdf")), tasks.CodeEncryptedPDF, "password"},
		{"no data", pdfUnit(1, nil), tasks.CodeInvalidRequest, ""},
		{"wrong MIME", tasks.Unit{Kind: tasks.KindDocument, Index: 1, Data: hello, MIME: "image/png"}, tasks.CodeInvalidRequest, ""},
		{"bad MIME", tasks.Unit{Kind: tasks.KindDocument, Index: 1, Data: hello, MIME: "application/pdf; ="}, tasks.CodeInvalidRequest, ""},
		{"unknown kind", tasks.Unit{Kind: "audio", Index: 1, Data: hello, MIME: "application/pdf"}, tasks.CodeInvalidRequest, ""},
		{"truncated video frame", tasks.Unit{Kind: tasks.KindVideo, Index: 0, Data: []byte{0xff, 0xd8}, MIME: "image/jpeg"}, tasks.CodeInvalidVideo, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := l.Analyze(context.Background(), tt.unit)
			var te *tasks.Error
			if !errors.As(err, &te) {
				t.Fatalf("Analyze = %s, %v; want a *tasks.Error", a.Output, err)
			}
			if te.Code != tt.want {
				t.Errorf("code = %s (%v), want %s", te.Code, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.cause) {
				t.Errorf("error %q does not mention %q", err, tt.cause)
			}
			if !tasks.IsPermanent(err) {
				t.Errorf("IsPermanent(%v) = false, want true", err)
			}
			if a.Output != nil {
				t.Errorf("Output = %s, want none", a.Output)
			}
		})
	}
}

// TestLocalEmptyMIME takes a unit without a media type for a PDF.
func TestLocalEmptyMIME(t *testing.T) {
	t.Parallel()
	l := setup(t)
	u := pdfUnit(1, readTestdata(t, "hello.pdf"))
	u.MIME = ""
	if f := analyze(t, l, u); f.WordCount == 0 {
		t.Errorf("WordCount = 0, want the page's words")
	}
}

// fakePDFToText writes an executable shell script standing in for pdftotext.
func fakePDFToText(t *testing.T, script string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("fake pdftotext is a shell script")
	}
	path := filepath.Join(t.TempDir(), "pdftotext")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLocalPDFToTextFailure(t *testing.T) {
	t.Parallel()
	hello := readTestdata(t, "hello.pdf")

	tests := []struct {
		name    string
		script  string
		timeout time.Duration
		warning string // what the warning must say
	}{
		{
			name:    "exit status",
			script:  `echo "Syntax Error: Couldn't read xref table" >&2; echo "Syntax Error: Couldn't read xref table" >&2; exit 1`,
			warning: "pdftotext: exit status 1: Syntax Error: Couldn't read xref table; the page has no text",
		},
		{
			name:    "timeout",
			script:  `exec sleep 30`,
			timeout: 50 * time.Millisecond,
			warning: "pdftotext: deadline exceeded: after 50ms",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, err := analyzer.NewLocal(analyzer.LocalConfig{PDFToTextPath: fakePDFToText(t, tt.script), Timeout: tt.timeout})
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Available(); err != nil {
				t.Fatalf("Available() = %v, want nil", err)
			}
			start := time.Now()
			f := analyze(t, l, pdfUnit(1, hello))
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("Analyze took %v", elapsed)
			}
			if f.TextSource != analyzer.TextSourceNone || f.Text != "" || f.WordCount != 0 {
				t.Errorf("text %q (%d words) from %q, want none from %q", f.Text, f.WordCount, f.TextSource, analyzer.TextSourceNone)
			}
			if f.WidthPt != 612 || f.HeightPt != 396 || !slices.Equal(f.Fonts, []string{"Helvetica"}) {
				t.Errorf("layout facts %v x %v pt, fonts %q; want 612 x 396, [Helvetica] without pdftotext's text", f.WidthPt, f.HeightPt, f.Fonts)
			}
			if !slices.ContainsFunc(f.Warnings, func(w string) bool { return strings.Contains(w, tt.warning) }) {
				t.Errorf("Warnings = %q, want one with %q", f.Warnings, tt.warning)
			}
		})
	}
}

func TestLocalContextEndsPDFToText(t *testing.T) {
	t.Parallel()
	hello := readTestdata(t, "hello.pdf")
	// A pdftotext that hangs: only the context can end the call.
	l, err := analyzer.NewLocal(analyzer.LocalConfig{PDFToTextPath: fakePDFToText(t, "exec sleep 30"), Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		ctx  func(t *testing.T) context.Context
		want error
		code tasks.Code
	}{
		{
			name: "canceled before",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				return ctx
			},
			want: context.Canceled, code: tasks.CodeCanceled,
		},
		{
			name: "canceled during",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				time.AfterFunc(100*time.Millisecond, cancel)
				return ctx
			},
			want: context.Canceled, code: tasks.CodeCanceled,
		},
		{
			name: "deadline",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			want: context.DeadlineExceeded, code: tasks.CodeTimeout,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := l.Analyze(tt.ctx(t), pdfUnit(1, hello))
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("Analyze returned after %v, want promptly", elapsed)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Analyze error = %v, want %v", err, tt.want)
			}
			if got := tasks.ErrorCode(err); got != tt.code {
				t.Errorf("ErrorCode = %s, want %s", got, tt.code)
			}
			if tasks.IsPermanent(err) && tt.code == tasks.CodeTimeout {
				t.Errorf("a deadline must stay retryable: %v", err)
			}
		})
	}
}

func TestNewLocalConfig(t *testing.T) {
	t.Parallel()
	if _, err := analyzer.NewLocal(analyzer.LocalConfig{Timeout: -time.Second}); err == nil {
		t.Error("NewLocal with a negative timeout succeeded, want an error")
	}
}

// TestLocalWithoutPDFToText: without pdftotext every page fails with
// CodePDFToTextUnavailable, permanently, naming the program, instead of
// coming back without text; frames are still analyzed.
func TestLocalWithoutPDFToText(t *testing.T) {
	t.Parallel()
	l, err := analyzer.NewLocal(analyzer.LocalConfig{PDFToTextPath: "no-such-pdftotext-binary"})
	if err != nil {
		t.Fatalf("NewLocal with a missing binary: %v, want a Local for frames", err)
	}
	if got := tasks.ErrorCode(l.Available()); got != tasks.CodePDFToTextUnavailable {
		t.Errorf("Available() code = %q, want %q", got, tasks.CodePDFToTextUnavailable)
	}
	a, err := l.Analyze(context.Background(), pdfUnit(1, readTestdata(t, "hello.pdf")))
	if got := tasks.ErrorCode(err); got != tasks.CodePDFToTextUnavailable || a.Output != nil {
		t.Fatalf("Analyze = %s, %v (code %q); want no output and %q", a.Output, err, got, tasks.CodePDFToTextUnavailable)
	}
	if !tasks.IsPermanent(err) || !strings.Contains(err.Error(), "no-such-pdftotext-binary") {
		t.Errorf("error %v: want permanent and naming the missing program", err)
	}
	red := picture(8, 8, solid(color.RGBA{255, 0, 0, 255}))
	if f := analyzeFrame(t, l, frameUnit(0, 0, encodePNG(t, red), "image/png")); f.Width != 8 {
		t.Errorf("frame facts %+v, want an 8 px wide frame", f)
	}
}

func BenchmarkLocalAnalyze(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "letter-image.pdf"))
	if err != nil {
		b.Fatal(err)
	}
	l := setup(b)
	u := pdfUnit(1, data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := l.Analyze(context.Background(), u); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzLocalAnalyze mutates real pages: whatever the bytes, Analyze (pdfcpu,
// the content-stream scanner and pdftotext) must not panic, and must return
// facts or a *tasks.Error.
func FuzzLocalAnalyze(f *testing.F) {
	for _, name := range []string{"hello.pdf", "hello-image-in-form.pdf", "letter-text.pdf"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	l := setup(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := l.Analyze(context.Background(), pdfUnit(1, data))
		if err != nil {
			var te *tasks.Error
			if !errors.As(err, &te) {
				t.Fatalf("Analyze error %v is not a *tasks.Error", err)
			}
			return
		}
		var facts analyzer.PageFacts
		if err := json.Unmarshal(a.Output, &facts); err != nil {
			t.Fatalf("output %s: %v", a.Output, err)
		}
	})
}

// TestPrepareDocumentWithoutPDFToText: without pdftotext there is nothing to
// prepare, and the page still fails with CodePDFToTextUnavailable.
func TestPrepareDocumentWithoutPDFToText(t *testing.T) {
	t.Parallel()
	l, err := analyzer.NewLocal(analyzer.LocalConfig{PDFToTextPath: "no-such-pdftotext-binary"})
	if err != nil {
		t.Fatal(err)
	}
	hello := readTestdata(t, "hello.pdf")
	release := l.PrepareDocument(t.Context(), "job-1", hello, 1)
	defer release()
	if _, err := l.Analyze(t.Context(), pdfUnit(1, hello)); tasks.ErrorCode(err) != tasks.CodePDFToTextUnavailable {
		t.Errorf("Analyze of a prepared page without pdftotext: %v, want %s", err, tasks.CodePDFToTextUnavailable)
	}
}

// TestPrepareDocumentFallsBack: a chunk whose output does not split into its
// pages (here a pdftotext that prints no form feed) leaves each page to a
// run of its own, with the same text; a second release is harmless.
func TestPrepareDocumentFallsBack(t *testing.T) {
	t.Parallel()
	l, err := analyzer.NewLocal(analyzer.LocalConfig{PDFToTextPath: fakePDFToText(t, `case "$*" in *"-f "*) echo chunk;; *) echo page;; esac`)})
	if err != nil {
		t.Fatal(err)
	}
	hello := readTestdata(t, "hello.pdf")
	release := l.PrepareDocument(t.Context(), "job-1", hello, 1)
	f := analyze(t, l, pdfUnit(1, hello))
	release()
	release()
	if f.Text != "page" {
		t.Errorf("text %q, want the single page's run's %q", f.Text, "page")
	}
}
