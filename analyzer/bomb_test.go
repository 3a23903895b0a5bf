package analyzer_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/analyzer"
)

// TestLocalDecompressionBomb analyzes a page whose content stream is 17 KB
// of Flate inside Flate that inflates to 4 GiB of blanks. The page is
// analyzed, with a warning, and the content is never held whole: before
// pdfsyntax.Content bounded it, pdfcpu's PageContent allocated 2.3 GB here, and
// pdftotext spent its 30 s timeout inflating it.
func TestLocalDecompressionBomb(t *testing.T) {
	l := setup(t) // pdftotext, which must not be run on the bomb
	data, err := os.ReadFile(filepath.Join("..", "testdata", "bad", "bomb-content-double-flate-4g.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	f := analyze(t, l, pdfUnit(1, data))
	runtime.ReadMemStats(&after)

	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 512<<20 {
		t.Errorf("analyzing the bomb allocated %d MiB, want at most 512", alloc>>20)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("analyzing the bomb took %v: pdftotext ran on it", d)
	}
	if f.WidthPt != 612 || f.HeightPt != 792 {
		t.Errorf("page is %v x %v pt, want 612 x 792", f.WidthPt, f.HeightPt)
	}
	if !strings.Contains(strings.Join(f.Warnings, "\n"), "larger than") {
		t.Errorf("warnings %q do not say the content was too large", f.Warnings)
	}
	if f.TextSource != analyzer.TextSourceNone || f.Text != "" {
		t.Errorf("text %q from %q, want none from %q", f.Text, f.TextSource, analyzer.TextSourceNone)
	}
}
