package media_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/mmq/mmq/media"
)

// benchPages are the document lengths of BASELINES.md.
var benchPages = []int{500, 2000, 8000}

// BenchmarkSplit opens a synthetic PDF and extracts every page into memory,
// as the worker does. Besides time per page it reports, as multiples of the
// file size, the peak of the heap during a split and the heap an open
// document holds (live/file), both above the heap before OpenPDF: the input
// itself is not counted. x-qpdf compares with `qpdf --split-pages` on the
// same file (which writes files), measured once per size when qpdf is
// installed.
//
//	go test -run '^$' -bench Split -benchtime 3x ./media/
func BenchmarkSplit(b *testing.B) {
	for _, pages := range benchPages {
		b.Run(fmt.Sprintf("pages=%d", pages), func(b *testing.B) {
			data := synthPDF{Pages: pages}.Bytes()
			qpdf := qpdfSplit(b, data)
			live := liveAfterOpen(b, data)
			var peak uint64
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				base := heapBytes()
				stop := sampleHeap()
				b.StartTimer()

				splitAll(b, data)

				b.StopTimer()
				if p := stop(); p > base {
					peak = max(peak, p-base)
				}
				b.StartTimer()
			}
			// The worker runs with worker.gc_percent 50 (cmd/mmq): the
			// same split once more under that GC target.
			b.StopTimer()
			old := debug.SetGCPercent(50)
			runtime.GC()
			base := heapBytes()
			stop := sampleHeap()
			splitAll(b, data)
			top := stop()
			peak50 := top - min(base, top)
			debug.SetGCPercent(old)
			b.StartTimer()
			perPage := b.Elapsed().Seconds() / float64(b.N) / float64(pages)
			b.ReportMetric(perPage*1e3, "ms/page")
			b.ReportMetric(1/perPage, "pages/s")
			b.ReportMetric(float64(len(data))/1e6, "file-MB")
			b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
			b.ReportMetric(float64(peak)/float64(len(data)), "peak/file")
			b.ReportMetric(float64(peak50)/float64(len(data)), "peak/file-gc50")
			b.ReportMetric(float64(live)/float64(len(data)), "live/file")
			if qpdf > 0 {
				qpdfPerPage := qpdf.Seconds() / float64(pages)
				b.ReportMetric(qpdfPerPage*1e3, "qpdf-ms/page")
				b.ReportMetric(perPage/qpdfPerPage, "x-qpdf")
			}
		})
	}
}

// BenchmarkSplitPDFCPU is the baseline of BASELINES.md, in the same run:
// pdfcpu reads and validates once, then api.ExtractPage per page. It takes
// minutes at 8000 pages, so it runs only with MMQ_BENCH_PDFCPU=1.
func BenchmarkSplitPDFCPU(b *testing.B) {
	if os.Getenv("MMQ_BENCH_PDFCPU") == "" {
		b.Skip("set MMQ_BENCH_PDFCPU=1 to run pdfcpu's own ExtractPage")
	}
	for _, pages := range benchPages {
		b.Run(fmt.Sprintf("pages=%d", pages), func(b *testing.B) {
			data := synthPDF{Pages: pages}.Bytes()
			for b.Loop() {
				conf := model.NewDefaultConfiguration()
				conf.Optimize = false
				conf.ValidationMode = model.ValidationRelaxed
				conf.Cmd = model.EXTRACTPAGES
				ctx, err := api.ReadAndValidate(bytes.NewReader(data), conf)
				if err != nil {
					b.Fatal(err)
				}
				for n := 1; n <= ctx.PageCount; n++ {
					r, err := api.ExtractPage(ctx, n)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, r); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(pages)*1e3, "ms/page")
		})
	}
}

// TestSplitIsLinear guards against a return of quadratic splitting (a
// re-read of the document per page) without timing anything: it counts
// the bytes allocated per page, which a per-page re-read multiplies by
// the document's size. At 8000 pages the cost per page must stay within
// 1.5x of that at 500 pages; BenchmarkSplit reports the times.
func TestSplitIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("8000-page split skipped in -short mode")
	}
	perPage := func(pages int) uint64 {
		data := synthPDF{Pages: pages}.Bytes()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		splitAll(t, data)
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / uint64(pages)
	}
	small, large := perPage(500), perPage(8000)
	t.Logf("allocated per page: %d B at 500 pages, %d B at 8000 pages (x%.2f)", small, large, float64(large)/float64(small))
	if large*2 > small*3 {
		t.Errorf("splitting is not linear: %d B allocated per page at 8000 pages, %d B at 500", large, small)
	}
}

// liveAfterOpen returns how much heap an open document holds beyond its
// input: what a worker keeps while the pages of a job are analyzed.
func liveAfterOpen(tb testing.TB, data []byte) uint64 {
	runtime.GC()
	base := heapBytes()
	doc, err := media.OpenPDF(context.Background(), data, media.PDFOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	runtime.GC()
	live := heapBytes()
	runtime.KeepAlive(doc)
	return live - min(live, base)
}

// splitAll opens data and extracts every page.
func splitAll(tb testing.TB, data []byte) {
	ctx := context.Background()
	doc, err := media.OpenPDF(ctx, data, media.PDFOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	for n := 1; n <= doc.PageCount(); n++ {
		if _, err := doc.Page(ctx, n); err != nil {
			tb.Fatal(err)
		}
	}
}

// qpdfSplit returns how long `qpdf --split-pages` takes to split data into
// files, or 0 when qpdf is not installed.
func qpdfSplit(tb testing.TB, data []byte) time.Duration {
	qpdf, err := exec.LookPath("qpdf")
	if err != nil {
		return 0
	}
	dir := tb.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	if out, err := exec.Command(qpdf, "--split-pages", in, filepath.Join(dir, "p-%d.pdf")).CombinedOutput(); err != nil {
		tb.Fatalf("qpdf --split-pages: %v: %s", err, out)
	}
	return time.Since(start)
}

// heapMetric is the live and not yet swept heap objects: HeapAlloc,
// readable without stopping the world.
const heapMetric = "/memory/classes/heap/objects:bytes"

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampleHeap samples the heap every millisecond until the returned
// function is called, which returns the highest value seen.
func sampleHeap() (stop func() uint64) {
	done := make(chan struct{})
	var peak uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, heapBytes())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return max(peak, heapBytes())
	}
}
