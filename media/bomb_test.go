package media_test

import (
	"github.com/mmq/mmq/tasks"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

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

// TestOpenPDFRepairBomb opens the security review's bomb: 2.9 KB whose
// object stream holds one string of 512 MiB, and a page whose broken
// /Contents sends the file to qpdf for repair. qpdf then writes the string
// out whole; before its run was bounded the API held it in memory (3.2 GB
// of RSS, 2.7 GB of it qpdf's, for 60 s). Now qpdf is killed at its output
// cap or its memory limit, the document opens as pdfcpu read it, and this
// process grows by far less than the string.
func TestOpenPDFRepairBomb(t *testing.T) {
	if !hasTool("qpdf") {
		needInCI(t, "qpdf")
		t.Skip("qpdf not installed")
	}
	data, err := os.ReadFile(filepath.Join("..", "testdata", "bad", "bomb-objstm-string-512m-repair.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	base := resetPeakRSS(t)
	start := time.Now()
	doc, err := media.OpenPDF(t.Context(), data, media.PDFOptions{Repair: true})
	took := time.Since(start)
	growth := peakRSS(t) - base
	t.Logf("bomb: %v, peak RSS growth %d MiB, err %v", took, growth>>20, err)
	if err == nil {
		if doc.Repaired() {
			t.Error("the document was read from qpdf's rewrite, which cannot be whole")
		}
		page(t, doc, 1)
	} else if code := tasks.ErrorCode(err); code != tasks.CodeInvalidPDF {
		t.Errorf("OpenPDF error %v (code %q), want success or %q", err, code, tasks.CodeInvalidPDF)
	}
	if took > 20*time.Second {
		t.Errorf("OpenPDF took %v, want a few seconds", took)
	}
	if growth > 256<<20 {
		t.Errorf("peak RSS grew by %d MiB, want at most 256", growth>>20)
	}
}

// resetPeakRSS resets the process's peak resident size (VmHWM) to its
// current one and returns it, in bytes.
func resetPeakRSS(t *testing.T) int64 {
	t.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		if runtime.GOOS == "linux" {
			t.Fatalf("cannot reset the peak RSS: %v", err)
		}
		t.Skipf("cannot reset the peak RSS on %s: %v", runtime.GOOS, err)
	}
	return procStatus(t, "VmRSS:")
}

// peakRSS returns the process's peak resident size since resetPeakRSS.
func peakRSS(t *testing.T) int64 { return procStatus(t, "VmHWM:") }

func procStatus(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(l, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
