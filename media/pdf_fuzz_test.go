package media_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
)

// maxSeedBytes keeps large documents out of the seed corpus: the fuzzer
// mutates small inputs far faster, and the small ones cover the structures.
const maxSeedBytes = 16 << 10

// addPDFSeeds adds the small files of dirs that look like PDFs, but for the
// decompression bombs: each run of one inflates 32 MiB (see
// TestOpenPDFDecompressionBombs), which would have the fuzzer spend its time
// in zlib.
func addPDFSeeds(f *testing.F, dirs ...string) {
	f.Helper()
	n := 0
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".pdf") || strings.HasPrefix(e.Name(), "bomb-") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			if len(data) <= maxSeedBytes {
				f.Add(data)
				n++
			}
		}
	}
	if n == 0 {
		f.Fatalf("no seeds in %v", dirs)
	}
}

// inputCodes are the codes OpenPDF and Page may give a client's file.
var inputCodes = map[tasks.Code]bool{
	tasks.CodeEmptyFile: true, tasks.CodeUnsupportedType: true, tasks.CodeInvalidPDF: true,
	tasks.CodeEncryptedPDF: true, tasks.CodeWrongPassword: true, tasks.CodeTooManyPages: true,
}

// FuzzOpenPDF opens fuzzed bytes and splits what opens. Nothing may escape
// as a panic, every error must be a permanent *tasks.Error with an input
// code, and a panic that media recovered must have been pdfcpu's: one in
// media's own code (page tree walk, object copy, settling) is a bug here.
// Repair is off: running qpdf per input would make the fuzzer crawl.
func FuzzOpenPDF(f *testing.F) {
	addPDFSeeds(f, "testdata", filepath.Join("..", "testdata", "bad"))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxPages = 50
		doc, err := media.OpenPDF(ctx, data, media.PDFOptions{MaxPages: maxPages})
		if err != nil {
			wantInputError(t, "OpenPDF", err)
			return
		}
		n := doc.PageCount()
		if n < 1 || n > maxPages {
			t.Fatalf("PageCount = %d, want 1..%d", n, maxPages)
		}
		for i := 1; i <= min(n, 4); i++ {
			b, err := doc.Page(ctx, i)
			if err != nil {
				wantInputError(t, "Page", err)
				continue
			}
			if !bytes.HasPrefix(b, []byte("%PDF-")) || !bytes.HasSuffix(b, []byte("%%EOF\n")) {
				t.Fatalf("page %d is no PDF file: %.40q...%q", i, b, b[max(0, len(b)-10):])
			}
		}
		if _, err := doc.Page(ctx, n+1); !errors.Is(err, media.ErrPageRange) {
			t.Fatalf("Page(%d) of %d: %v, want ErrPageRange", n+1, n, err)
		}
	})
}

// wantInputError fails unless err is a permanent *tasks.Error with an input
// code, whose cause, if a recovered panic, was raised in pdfcpu.
func wantInputError(t *testing.T, op string, err error) {
	t.Helper()
	var te *tasks.Error
	if !errors.As(err, &te) || !inputCodes[te.Code] || !tasks.IsPermanent(err) {
		t.Fatalf("%s: %v (%T) is no input error", op, err, err)
	}
	var pe *media.PanicError
	if errors.As(err, &pe) && panickedIn(pe.Stack, "github.com/mmq/mmq/media.") {
		t.Fatalf("%s: media itself panicked: %v\n%s", op, pe.Value, pe.Stack)
	}
}

// panickedIn reports whether the innermost function of stack below the
// panic machinery is in the package with prefix pkg.
func panickedIn(stack []byte, pkg string) bool {
	lines := strings.Split(string(stack), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "panic(") {
			continue
		}
		// After panic(...) and its file line, the next function lines are
		// the runtime's (a nil map write, an index out of range) and then
		// the code that faulted.
		for _, fn := range lines[i+2:] {
			if strings.HasPrefix(fn, "\t") || strings.HasPrefix(fn, "runtime.") {
				continue
			}
			return strings.HasPrefix(fn, pkg)
		}
	}
	return false
}
