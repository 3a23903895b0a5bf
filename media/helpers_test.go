package media_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
)

func TestMain(m *testing.M) {
	// Before any test runs: pdfcpu reads this global unguarded, and the
	// package under test reads it in every OpenPDF.
	api.DisableConfigDir()
	os.Exit(m.Run())
}

// testdata returns the content of a file in testdata/.
func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// open opens data and fails the test on error.
func open(t testing.TB, data []byte, opts media.PDFOptions) *media.PDF {
	t.Helper()
	doc, err := media.OpenPDF(context.Background(), data, opts)
	if err != nil {
		t.Fatalf("OpenPDF: %v", err)
	}
	return doc
}

// page extracts page n and fails the test on error.
func page(t testing.TB, doc *media.PDF, n int) []byte {
	t.Helper()
	b, err := doc.Page(context.Background(), n)
	if err != nil {
		t.Fatalf("Page(%d): %v", n, err)
	}
	return b
}

// readSinglePage has pdfcpu read and validate b, which must be a PDF of one
// page, and returns pdfcpu's model of it.
func readSinglePage(t testing.TB, b []byte) *model.Context {
	t.Helper()
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	ctx, err := api.ReadContext(bytes.NewReader(b), conf)
	if err == nil {
		err = api.ValidateContext(ctx)
	}
	if err != nil {
		t.Fatalf("pdfcpu rejects the page: %v", err)
	}
	if ctx.PageCount != 1 {
		t.Fatalf("page has %d pages, want 1", ctx.PageCount)
	}
	return ctx
}

// pdftotext returns the text of page n of the PDF file at path, or ok false
// when pdftotext is not installed. password is tried as the user password,
// then as the owner password, then not at all.
func pdftotext(t testing.TB, path string, n int, password string) (text string, ok bool) {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		return "", false
	}
	args := []string{"-q", "-f", strconv.Itoa(n), "-l", strconv.Itoa(n)}
	out, err := exec.Command(bin, append(args, "-upw", password, path, "-")...).Output()
	if err != nil && password != "" {
		out, err = exec.Command(bin, append(args, "-opw", password, path, "-")...).Output()
	}
	if err != nil && password != "" { // not needed at all
		out, err = exec.Command(bin, append(args, path, "-")...).Output()
	}
	if err != nil {
		t.Fatalf("pdftotext %s page %d: %v", path, n, err)
	}
	return string(out), true
}

// writeTemp writes b to a file in the test's temp dir and returns its path.
func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// samplePages returns the first, middle and last page numbers of n pages.
func samplePages(n int) []int {
	s := []int{1}
	if n/2 > 1 {
		s = append(s, n/2)
	}
	if n > 1 && n != n/2 {
		s = append(s, n)
	}
	return s
}

// wantCode fails the test unless err is a *tasks.Error with code.
func wantCode(t testing.TB, err error, code tasks.Code) {
	t.Helper()
	var te *tasks.Error
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T) is no *tasks.Error, want code %s", err, err, code)
	}
	if te.Code != code {
		t.Fatalf("error code %s (%v), want %s", te.Code, err, code)
	}
}

// hasTool reports whether a program is in PATH.
func hasTool(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}
