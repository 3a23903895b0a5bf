package worker_test

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mmq/mmq/analyzer"
	"github.com/mmq/mmq/internal/corpus"
	"github.com/mmq/mmq/internal/proctest"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

var _ worker.DocumentPreparer = (*analyzer.Local)(nil)

// pagesAtOnce is how many pages the comparisons analyze at once, the
// worker's default per job.
const pagesAtOnce = 16

// needPDFToText fails in CI, and skips elsewhere, when pdftotext is missing.
func needPDFToText(tb testing.TB) {
	tb.Helper()
	proctest.Need(tb, "pdftotext")
}

// corpusPDFs lists the corpus's PDFs from its MANIFEST.tsv.
func corpusPDFs(tb testing.TB) []string {
	tb.Helper()
	f, err := os.Open(corpus.Path("MANIFEST.tsv"))
	if err != nil {
		tb.Fatalf("corpus not found (%v): set MMQ_CORPUS or put it at ../shared/corpus", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma, r.LazyQuotes, r.FieldsPerRecord = '\t', true, -1
	rows, err := r.ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, row := range rows[1:] {
		if strings.HasPrefix(row[0], "pdf/") {
			out = append(out, row[0])
		}
	}
	return out
}

// facts analyzes the first pages of doc (all of them when pages is 0) with
// l, pagesAtOnce at a time, as job jobID, and returns each page's facts.
func facts(ctx context.Context, tb testing.TB, l *analyzer.Local, jobID string, doc *media.PDF, pages int) []analyzer.PageFacts {
	tb.Helper()
	if pages == 0 || pages > doc.PageCount() {
		pages = doc.PageCount()
	}
	out := make([]analyzer.PageFacts, pages)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(pagesAtOnce)
	for n := 1; n <= pages; n++ {
		g.Go(func() error {
			data, err := doc.Page(ctx, n)
			if err != nil {
				return fmt.Errorf("page %d: %w", n, err)
			}
			a, err := l.Analyze(ctx, tasks.Unit{JobID: jobID, Kind: tasks.KindDocument, Index: n, Data: data, MIME: "application/pdf"})
			if err != nil {
				return fmt.Errorf("page %d: %w", n, err)
			}
			return json.Unmarshal(a.Output, &out[n-1])
		})
	}
	if err := g.Wait(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// comparedPages is how many pages of each corpus PDF
// TestPreparedTextMatchesPerPage compares: three chunks of 16; all of them
// would take minutes.
const comparedPages = 48

// knownBetter lists the pages whose text differs, by corpus file and page:
// the chunked text, read by pdftotext from the whole file, is right, and
// media's single page is not. qpdf-xref-compressed-in-compressed.pdf has
// broken object streams ("supposed object stream 69 is not a stream", says
// qpdf): pdfcpu resolves page 28's content to page 8's ("Potato 7"), where
// poppler finds "Potato 27" (each page N says "Potato N-1").
var knownBetter = map[string]map[int]string{
	"qpdf-xref-compressed-in-compressed.pdf": {28: "Potato 27"},
}

// TestPreparedTextMatchesPerPage analyzes the first comparedPages pages of
// every corpus PDF that opens without a password twice, with chunks of 16
// pages: with the document prepared (one pdftotext run per chunk of the
// whole file) and without (one run per single-page unit, as before). Text,
// text source and warnings must be the same on every page but those of
// knownBetter.
func TestPreparedTextMatchesPerPage(t *testing.T) {
	needPDFToText(t)
	t.Parallel()
	prepared, err := analyzer.NewLocal(analyzer.LocalConfig{ChunkPages: 16})
	if err != nil {
		t.Fatal(err)
	}
	perPage, err := analyzer.NewLocal(analyzer.LocalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var docs, pages int
	for _, name := range corpusPDFs(t) {
		data, err := os.ReadFile(corpus.Path(name))
		if err != nil {
			t.Fatalf("%s is in MANIFEST.tsv but not readable: %v", name, err)
		}
		ctx := t.Context()
		doc, err := media.OpenPDF(ctx, data, media.PDFOptions{Repair: true})
		if err != nil {
			continue // refused without a password, or not a PDF at all
		}
		base := filepath.Base(name)
		t.Run(base, func(t *testing.T) {
			release := prepared.PrepareDocument(ctx, "prepared", data, doc.PageCount())
			defer release()
			got := facts(ctx, t, prepared, "prepared", doc, comparedPages)
			want := facts(ctx, t, perPage, "per-page", doc, comparedPages)
			for i := range got {
				g, w := got[i], want[i]
				if better, ok := knownBetter[base][i+1]; ok {
					if g.Text != better || w.Text == better {
						t.Errorf("page %d: chunked text %q, per page %q; want %q chunked only", i+1, g.Text, w.Text, better)
					}
					continue
				}
				if g.Text != w.Text || g.TextSource != w.TextSource || strings.Join(g.Warnings, "\n") != strings.Join(w.Warnings, "\n") {
					t.Errorf("page %d: chunked text %q (%s, warnings %q), per page %q (%s, warnings %q)",
						i+1, short(g.Text), g.TextSource, g.Warnings, short(w.Text), w.TextSource, w.Warnings)
				}
			}
			pages += len(got)
		})
		docs++
	}
	t.Logf("compared %d pages of %d documents", pages, docs)
	if docs == 0 {
		t.Fatal("no corpus PDF opened: the test compared nothing")
	}
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// TestPrepareDocumentRunsPerChunk counts the pdftotext runs of a prepared
// 30-page document: one per chunk of 16 pages, none per page, and one for
// a page analyzed again (a retry), which its chunk no longer holds.
func TestPrepareDocumentRunsPerChunk(t *testing.T) {
	needPDFToText(t)
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "runs")
	shim := filepath.Join(dir, "pdftotext")
	real, _ := exec.LookPath("pdftotext")
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %q\nexec %q \"$@\"\n", log, real)
	if err := os.WriteFile(shim, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := analyzer.NewLocal(analyzer.LocalConfig{PDFToTextPath: shim, ChunkPages: 16})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(corpus.Path("pdf", "qpdf-linearized-30p.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	doc, err := media.OpenPDF(ctx, data, media.PDFOptions{})
	if err != nil {
		t.Fatal(err)
	}
	release := l.PrepareDocument(ctx, "job", data, doc.PageCount())
	got := facts(ctx, t, l, "job", doc, 0)
	runs := func() []string {
		b, _ := os.ReadFile(log)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	if r := runs(); len(r) != 2 || !strings.Contains(r[0]+r[1], "-f 1 -l 16") || !strings.Contains(r[0]+r[1], "-f 17 -l 30") {
		t.Errorf("pdftotext runs for %d pages: %q; want 2, of pages 1-16 and 17-30", doc.PageCount(), r)
	}
	for i, f := range got {
		if f.TextSource != analyzer.TextSourcePDFToText || f.WordCount == 0 {
			t.Errorf("page %d: %d words from %q", i+1, f.WordCount, f.TextSource)
		}
	}
	page, err := doc.Page(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Analyze(ctx, tasks.Unit{JobID: "job", Kind: tasks.KindDocument, Index: 3, Data: page}); err != nil {
		t.Fatal(err)
	}
	release()
	if r := runs(); len(r) != 3 || strings.Contains(r[2], "-f") {
		t.Errorf("runs after page 3 again: %q; want a third, of the single page", r)
	}
}

// BenchmarkLocalDocument times, side by side in one run, on a text-heavy
// corpus book (MMQ_BENCH_PDF to change): pdftotext on the whole file alone;
// the local analyzer on every page with one pdftotext run per page (the
// path without preparation); and the same with the document prepared (one
// run per chunk of 64 pages, MMQ_BENCH_CHUNK_PAGES to change). Both
// analyzer paths open the PDF with media, extract each page and analyze 16
// pages at once, as a worker does. It reports each time and their ratios
// to pdftotext alone, in wall and in CPU time. Goal: chunked ≤ 1.5× in
// wall time.
func BenchmarkLocalDocument(b *testing.B) {
	needPDFToText(b)
	name := cmp.Or(os.Getenv("MMQ_BENCH_PDF"), "pdfcpu-ECSTR11-01.pdf")
	data, err := os.ReadFile(corpus.Path("pdf", name))
	if err != nil {
		b.Fatalf("corpus file %s (set MMQ_CORPUS or put the corpus at ../shared/corpus): %v", name, err)
	}
	chunk, _ := strconv.Atoi(os.Getenv("MMQ_BENCH_CHUNK_PAGES")) // 0: the default
	l, err := analyzer.NewLocal(analyzer.LocalConfig{ChunkPages: chunk})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	job := func(prepare bool) {
		doc, err := media.OpenPDF(ctx, data, media.PDFOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if prepare {
			defer l.PrepareDocument(ctx, "bench", data, doc.PageCount())()
		}
		facts(ctx, b, l, "bench", doc, 0)
	}
	alone := func() {
		cmd := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", corpus.Path("pdf", name), os.DevNull)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("pdftotext: %v: %s", err, out)
		}
	}
	// Wall time, and CPU time (this process's and its children's, user and
	// system): on a shared machine the wall time follows the load, the CPU
	// time much less.
	type cost struct{ wall, cpu time.Duration }
	measure := func(c *cost, f func()) {
		cpu0, start := cpuTime(b), time.Now()
		f()
		c.wall += time.Since(start)
		c.cpu += cpuTime(b) - cpu0
	}
	var tAlone, tPerPage, tChunked cost
	for b.Loop() {
		measure(&tAlone, alone)
		measure(&tPerPage, func() { job(false) })
		measure(&tChunked, func() { job(true) })
	}
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return math.Round(float64(d.Milliseconds())/n*10) / 10 }
	b.ReportMetric(ms(tAlone.wall), "pdftotext-ms")
	b.ReportMetric(ms(tPerPage.wall), "per-page-ms")
	b.ReportMetric(ms(tChunked.wall), "chunked-ms")
	b.ReportMetric(float64(tPerPage.wall)/float64(tAlone.wall), "per-page/pdftotext")
	b.ReportMetric(float64(tChunked.wall)/float64(tAlone.wall), "chunked/pdftotext")
	b.ReportMetric(ms(tAlone.cpu), "pdftotext-cpu-ms")
	b.ReportMetric(ms(tChunked.cpu), "chunked-cpu-ms")
	b.ReportMetric(float64(tPerPage.cpu)/float64(tAlone.cpu), "per-page-cpu/pdftotext")
	b.ReportMetric(float64(tChunked.cpu)/float64(tAlone.cpu), "chunked-cpu/pdftotext")
}

// cpuTime is the user and system time of this process and of its children
// that ended.
func cpuTime(tb testing.TB) time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			tb.Fatal(err)
		}
		total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return total
}

// preparingFake is a fake analyzer that records its document preparations.
type preparingFake struct {
	*fakeAnalyzer
	mu       sync.Mutex
	prepared []string // "job/pages", in order
	released int
	// outside counts the pages analyzed while no preparation was in effect.
	outside int
}

func (p *preparingFake) PrepareDocument(_ context.Context, jobID string, pdf []byte, pages int) func() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(pdf) == 0 {
		pages = -1
	}
	p.prepared = append(p.prepared, fmt.Sprintf("%s/%d", jobID, pages))
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.released++
	}
}

func (p *preparingFake) Analyze(ctx context.Context, u tasks.Unit) (tasks.Analysis, error) {
	p.mu.Lock()
	if len(p.prepared) == p.released {
		p.outside++
	}
	p.mu.Unlock()
	return p.fakeAnalyzer.Analyze(ctx, u)
}

// TestHandlerPreparesDocument: the worker prepares a document job's input
// once, with its page count, before any page is analyzed, and releases it
// once all are; a job read with a password is not prepared.
func TestHandlerPreparesDocument(t *testing.T) {
	b := setup(t)
	tests := []struct {
		name, file, password string
		pages                int
		prepared             bool
	}{
		{"no password", booklet, "", 64, true},
		{"password", "testdata/qpdf-enc-R3-rc4-128-userpw-view.pdf", "view", 30, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &preparingFake{fakeAnalyzer: newFake(nil)}
			j, task := b.newJob(t, tt.file, tt.password)
			if err := b.handler(t, fake).ProcessTask(context.Background(), task); err != nil {
				t.Fatal(err)
			}
			if got := b.job(t, j.ID); got.Status != tasks.StatusSucceeded || got.PagesDone != tt.pages {
				t.Fatalf("job = %+v, want succeeded with %d pages", got, tt.pages)
			}
			want := []string{fmt.Sprintf("%s/%d", j.ID, tt.pages)}
			outside := 0
			if !tt.prepared {
				want, outside = nil, tt.pages
			}
			if !slices.Equal(fake.prepared, want) || fake.released != len(want) || fake.outside != outside {
				t.Errorf("prepared %q, released %d times, %d pages analyzed outside a preparation; want %q, %d, %d",
					fake.prepared, fake.released, fake.outside, want, len(want), outside)
			}
		})
	}
}
