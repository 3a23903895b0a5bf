package media_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/mmq/mmq/media"
)

// TestOpenPDFDecompressionBombs opens documents whose object stream or
// content stream is a few KB of Flate that inflate to gigabytes, and splits
// them. Each must open (the bomb is a damaged part, not the whole file) and
// allocate far less than the bomb's size: with pdfcpu's default decode limit
// of 512 MiB per filter stage, the object stream bomb cost 4 GB of
// allocations and a peak RSS of 3.9 GB.
func TestOpenPDFDecompressionBombs(t *testing.T) {
	for _, name := range []string{"bomb-objstm-double-flate-1g.pdf", "bomb-content-double-flate-4g.pdf", "bomb-content-flate-256m.pdf"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "testdata", "bad", name))
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			doc := open(t, data, media.PDFOptions{})
			page(t, doc, 1)
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 768<<20 {
				t.Errorf("opening and splitting allocated %d MiB, want at most 768", alloc>>20)
			}
		})
	}
}
