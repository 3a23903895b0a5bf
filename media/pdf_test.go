package media_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
)

func TestPDFSplitsIntoValidPages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file     string
		password string
		pages    int
	}{
		{"pdfcpu-read.go.pdf", "", 45},                     // classic xref table
		{"pdfcpu-bookletTest.pdf", "", 64},                 // xref and object streams, linearized
		{"pdfcpu-5116.DCT_Filter.pdf", "", 52},             // images
		{"pdfcpu-pike-stanford.pdf", "", 56},               // slides
		{"pdfcpu-Acroforms2.pdf", "", 3},                   // form fields
		{"pdfcpu-sig-usageRights.pdf", "", 4},              // signed, incremental updates
		{"qpdf-merge-51-pages.pdf", "", 51},                // merged documents
		{"qpdf-linearized-30p.pdf", "", 30},                // linearized with hint tables
		{"qpdf-pdf20-need-appearances-utf8.pdf", "", 1},    // PDF 2.0, viewer must draw the fields
		{"qpdf-enc-V4-aes128-nouserpw.pdf", "", 30},        // AES-128, empty user password
		{"qpdf-enc-R6-aes256-userpw-view.pdf", "view", 30}, // AES-256, user password
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			data := testdata(t, tt.file)
			// Repair on: a sound file must not be sent to qpdf.
			doc := open(t, data, media.PDFOptions{Password: tt.password, Repair: true})
			if got := doc.PageCount(); got != tt.pages {
				t.Fatalf("PageCount = %d, want %d", got, tt.pages)
			}
			if doc.Repaired() {
				t.Error("Repaired() = true for a file pdfcpu reads")
			}
			for n := 1; n <= doc.PageCount(); n++ {
				readSinglePage(t, page(t, doc, n))
			}
			// The text of a page is the text of that page in the original.
			src := writeTemp(t, "src.pdf", data)
			for _, n := range samplePages(doc.PageCount()) {
				want, ok := pdftotext(t, src, n, tt.password)
				if !ok {
					needInCI(t, "pdftotext")
					t.Skip("pdftotext not installed")
				}
				got, _ := pdftotext(t, writeTemp(t, "page.pdf", page(t, doc, n)), 1, "")
				if got != want {
					t.Errorf("page %d: text\n%q\nwant\n%q", n, got, want)
				}
			}
		})
	}
}

func TestPDFPageCarriesInheritedAttributes(t *testing.T) {
	t.Parallel()
	// 25 pages under three intermediate nodes: /MediaBox on the root,
	// /Resources, /CropBox and (on every other node) /Rotate on the nodes.
	data := synthPDF{Pages: 25, Nested: true}.Bytes()
	doc := open(t, data, media.PDFOptions{})
	if doc.PageCount() != 25 {
		t.Fatalf("PageCount = %d, want 25", doc.PageCount())
	}
	src := writeTemp(t, "src.pdf", data)
	for _, n := range []int{1, 10, 11, 20, 25} {
		b := page(t, doc, n)
		ctx := readSinglePage(t, b)
		d, _, inh, err := ctx.PageDict(1, false)
		if err != nil {
			t.Fatal(err)
		}
		// On the page dict itself, not inherited from a node of the output.
		for _, k := range []string{"MediaBox", "CropBox", "Resources"} {
			if d[k] == nil {
				t.Errorf("page %d: no /%s on the page dict", n, k)
			}
		}
		if got := rect(inh.MediaBox); got != "0 0 612 792" {
			t.Errorf("page %d: MediaBox %s, want 0 0 612 792", n, got)
		}
		if got := rect(inh.CropBox); got != "10 10 602 782" {
			t.Errorf("page %d: CropBox %s, want 10 10 602 782", n, got)
		}
		wantRotate := 0
		if (n-1)/10%2 == 1 {
			wantRotate = 90
		}
		if inh.Rotate != wantRotate {
			t.Errorf("page %d: Rotate %d, want %d", n, inh.Rotate, wantRotate)
		}
		// A node's resources list the images of its ten pages; the page
		// keeps its own only. The last node has five, below the size that
		// is worth pruning: they are copied whole.
		wantImages := 1
		if n > 20 {
			wantImages = 5
		}
		xobjects := inh.Resources.DictEntry("XObject")
		if len(xobjects) != wantImages || xobjects[fmt.Sprintf("Im%d", n)] == nil {
			t.Errorf("page %d: XObjects %v, want %d with Im%d", n, xobjects, wantImages, n)
		}
		if c := bytes.Count(b, []byte("/Subtype/Image")); c != wantImages {
			t.Errorf("page %d: %d images in the file, want %d", n, c, wantImages)
		}
		if want, ok := pdftotext(t, src, n, ""); ok {
			got, _ := pdftotext(t, writeTemp(t, "p.pdf", b), 1, "")
			if got != want || !strings.Contains(got, pageText(n)) {
				t.Errorf("page %d: text %q, want %q", n, got, want)
			}
		}
	}
}

// rect formats a rectangle as its four numbers.
func rect(r *types.Rectangle) string {
	if r == nil {
		return "none"
	}
	return fmt.Sprint(r.LL.X, r.LL.Y, r.UR.X, r.UR.Y)
}

func TestPDFEncrypted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		file     string
		password string
		pages    int        // when it opens
		code     tasks.Code // when it does not
		// repairOnly marks a right password that pdfcpu v0.15.0 rejects
		// (owner passwords of AES-256 R6): it takes qpdf to open the file.
		repairOnly bool
	}{
		{"AES-128 empty user password", "qpdf-enc-V4-aes128-nouserpw.pdf", "", 30, "", false},
		{"AES-256 owner password only", "qpdf-enc-R6-aes256-ownerpw-only.pdf", "", 30, "", false},
		{"AES-256 user password", "qpdf-enc-R6-aes256-userpw-view.pdf", "view", 30, "", false},
		{"AES-256 owner password", "qpdf-enc-R6-aes256-userpw-view.pdf", "master", 30, "", true},
		{"AES-256 needless owner password", "qpdf-enc-R6-aes256-ownerpw-only.pdf", "master", 30, "", false},
		{"AES-256 needless wrong password", "qpdf-enc-R6-aes256-ownerpw-only.pdf", "s3cret-guess", 30, "", false},
		{"RC4-40 owner password", "qpdf-enc-R2-rc4-40-userpw-view.pdf", "master", 30, "", false},
		{"RC4-40 user password", "qpdf-enc-R2-rc4-40-userpw-view.pdf", "view", 30, "", false},
		{"RC4 user password", "qpdf-enc-20-pages-userpw-user.pdf", "user", 20, "", false},
		{"AES-256 no password", "qpdf-enc-R6-aes256-userpw-view.pdf", "", 0, tasks.CodeEncryptedPDF, false},
		{"RC4-40 no password", "qpdf-enc-R2-rc4-40-userpw-view.pdf", "", 0, tasks.CodeEncryptedPDF, false},
		{"AES-256 wrong password", "qpdf-enc-R6-aes256-userpw-view.pdf", "s3cret-guess", 0, tasks.CodeWrongPassword, false},
		{"RC4 wrong password", "qpdf-enc-20-pages-userpw-user.pdf", "s3cret-guess", 0, tasks.CodeWrongPassword, false},
	}
	for _, tt := range tests {
		for _, repair := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/repair=%v", tt.name, repair), func(t *testing.T) {
				t.Parallel()
				data := testdata(t, tt.file)
				doc, err := media.OpenPDF(context.Background(), data, media.PDFOptions{Password: tt.password, Repair: repair})
				if tt.repairOnly && !repair {
					wantCode(t, err, tasks.CodeWrongPassword)
					return
				}
				if tt.code != "" {
					wantCode(t, err, tt.code)
					if tt.password != "" && strings.Contains(err.Error(), tt.password) {
						t.Errorf("error %q shows the password", err)
					}
					if tt.code == tasks.CodeEncryptedPDF && tasks.ErrorMessage(err) != "PDF is encrypted; submit it with its password" {
						t.Errorf("message %q", tasks.ErrorMessage(err))
					}
					return
				}
				if err != nil {
					t.Fatalf("OpenPDF: %v", err)
				}
				if doc.PageCount() != tt.pages {
					t.Fatalf("PageCount = %d, want %d", doc.PageCount(), tt.pages)
				}
				// Pages come out decrypted: readable without a password.
				src := writeTemp(t, "src.pdf", data)
				for _, n := range samplePages(doc.PageCount()) {
					b := page(t, doc, n)
					readSinglePage(t, b)
					if bytes.Contains(b, []byte("/Encrypt")) {
						t.Errorf("page %d still refers to an /Encrypt dict", n)
					}
					if want, ok := pdftotext(t, src, n, tt.password); ok {
						if got, _ := pdftotext(t, writeTemp(t, "p.pdf", b), 1, ""); got != want {
							t.Errorf("page %d: text %q, want %q", n, got, want)
						}
					}
				}
			})
		}
	}
}

func TestOpenPDFErrors(t *testing.T) {
	t.Parallel()
	synth := synthPDF{Pages: 12}.Bytes()
	tests := []struct {
		name string
		data []byte
		opts media.PDFOptions
		code tasks.Code
		msg  string // part of the client message, when set
	}{
		{"empty", nil, media.PDFOptions{}, tasks.CodeEmptyFile, "empty"},
		{"text", testdata(t, "qpdf-bad1-5bytes.pdf"), media.PDFOptions{}, tasks.CodeUnsupportedType, "not a PDF"},
		{"PNG", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), media.PDFOptions{}, tasks.CodeUnsupportedType, "not a PDF"},
		{"header past 1024 bytes", append(bytes.Repeat([]byte{' '}, 1100), synth...), media.PDFOptions{}, tasks.CodeUnsupportedType, ""},
		{"header only", []byte("%PDF-1.7\n"), media.PDFOptions{}, tasks.CodeInvalidPDF, "could not be parsed"},
		{"no startxref, no root", testdata(t, "qpdf-issue-146-no-startxref.pdf"), media.PDFOptions{}, tasks.CodeInvalidPDF, "could not be parsed"},
		{"no startxref, no root, repair", testdata(t, "qpdf-issue-146-no-startxref.pdf"), media.PDFOptions{Repair: true}, tasks.CodeInvalidPDF, "could not be parsed"},
		{"page tree loop", testdata(t, "qpdf-pages-tree-loop.pdf"), media.PDFOptions{}, tasks.CodeInvalidPDF, ""},
		{"pdfcpu panics", testdata(t, "qpdf-xref-compressed-in-compressed.pdf"), media.PDFOptions{}, tasks.CodeInvalidPDF, "could not be parsed"},
		{"pdfcpu panics, qpdf missing", testdata(t, "qpdf-xref-compressed-in-compressed.pdf"),
			media.PDFOptions{Repair: true, QPDFPath: "/nonexistent/qpdf"}, tasks.CodeInvalidPDF, "could not be parsed"},
		{"encryption pdfcpu rejects", testdata(t, "qpdf-enc-bad-length.pdf"), media.PDFOptions{}, tasks.CodeEncryptedPDF, ""},
		{"too many pages", synth, media.PDFOptions{MaxPages: 11}, tasks.CodeTooManyPages, "12 pages"},
		// Cut before its xref table and trailer: nothing says where the
		// catalog is, and qpdf cannot rebuild one either.
		{"truncated", truncate(synth, 0.6), media.PDFOptions{}, tasks.CodeInvalidPDF, "could not be parsed"},
		{"truncated, repair", truncate(synth, 0.6), media.PDFOptions{Repair: true}, tasks.CodeInvalidPDF, "could not be parsed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, err := media.OpenPDF(context.Background(), tt.data, tt.opts)
			if doc != nil {
				t.Errorf("OpenPDF returned a document with the error")
			}
			wantCode(t, err, tt.code)
			if !strings.Contains(tasks.ErrorMessage(err), tt.msg) {
				t.Errorf("message %q does not say %q", tasks.ErrorMessage(err), tt.msg)
			}
			if !tasks.IsPermanent(err) {
				t.Errorf("error %v is not permanent", err)
			}
		})
	}

	t.Run("panic is recorded", func(t *testing.T) {
		t.Parallel()
		_, err := media.OpenPDF(context.Background(), testdata(t, "qpdf-xref-compressed-in-compressed.pdf"), media.PDFOptions{})
		var p *media.PanicError
		if !errors.As(err, &p) || len(p.Stack) == 0 {
			t.Fatalf("error %v carries no PanicError with a stack", err)
		}
	})
	t.Run("max pages equal to the count", func(t *testing.T) {
		t.Parallel()
		if doc := open(t, synth, media.PDFOptions{MaxPages: 12}); doc.PageCount() != 12 {
			t.Fatalf("PageCount = %d, want 12", doc.PageCount())
		}
	})
	t.Run("bad options", func(t *testing.T) {
		t.Parallel()
		for _, o := range []media.PDFOptions{{MaxPages: -1}, {RepairTimeout: -1}} {
			if _, err := media.OpenPDF(context.Background(), synth, o); err == nil || tasks.ErrorCode(err) != tasks.CodeInternal {
				t.Errorf("OpenPDF(%+v) = %v, want a configuration error", o, err)
			}
		}
	})
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := media.OpenPDF(ctx, synth, media.PDFOptions{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("OpenPDF with a canceled context = %v, want context.Canceled", err)
		}
	})
}

func TestOpenPDFRepair(t *testing.T) {
	t.Parallel()
	if !hasTool("qpdf") {
		needInCI(t, "qpdf")
		t.Skip("qpdf not installed")
	}
	tests := []struct {
		name  string
		data  []byte
		pages int
	}{
		// pdfcpu panics; qpdf rewrites it with warnings (exit status 3).
		{"pdfcpu panics", testdata(t, "qpdf-xref-compressed-in-compressed.pdf"), 30},
		// pdfcpu refuses the encryption dict, qpdf opens it with the empty
		// user password and decrypts it.
		{"bad encryption length", testdata(t, "qpdf-enc-bad-length.pdf"), 1},
		// pdfcpu reads it but decodes no content stream: the content probe
		// sends it to qpdf.
		{"junk before the header", testdata(t, "qpdf-leading-junk.pdf"), 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := open(t, tt.data, media.PDFOptions{Repair: true})
			if !doc.Repaired() {
				t.Error("Repaired() = false")
			}
			if doc.PageCount() != tt.pages {
				t.Errorf("PageCount = %d, want %d", doc.PageCount(), tt.pages)
			}
			for n := 1; n <= doc.PageCount(); n++ {
				b := page(t, doc, n)
				readSinglePage(t, b)
				if text, ok := pdftotext(t, writeTemp(t, "p.pdf", b), 1, ""); ok && strings.TrimSpace(text) == "" {
					t.Errorf("page %d has no text", n)
				}
			}
		})
	}
}

// truncate returns the first fraction of b.
func truncate(b []byte, fraction float64) []byte {
	return b[:int(float64(len(b))*fraction)]
}

func TestPDFPage(t *testing.T) {
	t.Parallel()
	doc := open(t, synthPDF{Pages: 3}.Bytes(), media.PDFOptions{})

	for _, n := range []int{0, -1, 4} {
		if _, err := doc.Page(context.Background(), n); !errors.Is(err, media.ErrPageRange) {
			t.Errorf("Page(%d) = %v, want ErrPageRange", n, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := doc.Page(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Page with a canceled context = %v, want context.Canceled", err)
	}
	// The same page comes out byte for byte the same.
	if a, b := page(t, doc, 2), page(t, doc, 2); !bytes.Equal(a, b) {
		t.Error("two extractions of page 2 differ")
	}
}

func TestPDFPageConcurrentUse(t *testing.T) {
	t.Parallel()
	// Form fields, annotations and shared resources: the parts of the
	// document that every page's copy reads.
	for _, file := range []string{"pdfcpu-Acroforms2.pdf", "pdfcpu-pike-stanford.pdf"} {
		doc := open(t, testdata(t, file), media.PDFOptions{})
		want := make([][]byte, doc.PageCount()+1)
		for n := 1; n <= doc.PageCount(); n++ {
			want[n] = page(t, doc, n)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for n := doc.PageCount(); n >= 1; n-- {
					b, err := doc.Page(context.Background(), n)
					if err != nil || !bytes.Equal(b, want[n]) {
						t.Errorf("%s page %d: concurrent extraction differs (%v)", file, n, err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

func TestPDFPageFormFields(t *testing.T) {
	t.Parallel()
	doc := open(t, testdata(t, "qpdf-pdf20-need-appearances-utf8.pdf"), media.PDFOptions{})
	ctx := readSinglePage(t, page(t, doc, 1))
	form, ok := ctx.RootDict["AcroForm"].(types.Dict)
	if !ok {
		t.Fatal("the page has no /AcroForm: its fields would draw nothing")
	}
	fields, err := ctx.DereferenceArray(form["Fields"])
	if form["NeedAppearances"] == nil || err != nil || len(fields) == 0 {
		t.Errorf("AcroForm %v lacks /NeedAppearances or /Fields (%v)", form, err)
	}
}
