package media_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"

	"github.com/mmq/mmq/internal/corpus"
)

// corpusPasswords are the user passwords of the corpus's encrypted files.
var corpusPasswords = map[string]string{
	"qpdf-enc-R2-rc4-40-userpw-view.pdf":  "view",
	"qpdf-enc-R3-rc4-128-userpw-view.pdf": "view",
	"qpdf-enc-R6-aes256-userpw-view.pdf":  "view",
	"qpdf-enc-20-pages-userpw-user.pdf":   "user",
	"qpdf-enc-short-O-U.pdf":              "19723102477",
}

// TestCorpus opens every PDF of the shared corpus with and without repair
// and splits those that open. No file may crash the process or fail with
// anything but a tasks.Error of an input code; a file that opens must have
// the page count the manifest records and give pages pdfcpu validates. It
// logs which files open, with and without repair (go test -v -run Corpus).
// The corpus is found at $MMQ_CORPUS, default ../shared/corpus beside the repository.
func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus run skipped in -short mode")
	}
	dir := corpus.Dir()
	manifest, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Skipf("no corpus: %v", err)
	}
	defer manifest.Close()

	inputCodes := map[tasks.Code]bool{
		tasks.CodeEmptyFile: true, tasks.CodeUnsupportedType: true, tasks.CodeInvalidPDF: true,
		tasks.CodeEncryptedPDF: true, tasks.CodeWrongPassword: true,
	}
	s := bufio.NewScanner(manifest)
	for s.Scan() {
		f := strings.Split(s.Text(), "\t")
		if len(f) < 6 || !strings.HasPrefix(f[0], "pdf/") {
			continue
		}
		name, pagesField := strings.TrimPrefix(f[0], "pdf/"), f[5]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join(dir, f[0]))
			if err != nil {
				t.Fatal(err)
			}
			var results [2]string
			for i, repair := range []bool{false, true} {
				doc, err := media.OpenPDF(context.Background(), data, media.PDFOptions{Password: corpusPasswords[name], Repair: repair})
				if err != nil {
					var te *tasks.Error
					if !errors.As(err, &te) || !inputCodes[te.Code] {
						t.Errorf("repair=%v: error %v is not an input error", repair, err)
					}
					results[i] = string(tasks.ErrorCode(err))
					continue
				}
				results[i] = fmt.Sprintf("%d pages", doc.PageCount())
				if doc.Repaired() {
					results[i] += " (repaired)"
				}
				if want, err := strconv.Atoi(strings.Fields(pagesField)[0]); err == nil && doc.PageCount() != want {
					t.Errorf("repair=%v: %d pages, manifest says %d", repair, doc.PageCount(), want)
				}
				for n := 1; n <= doc.PageCount(); n++ {
					readSinglePage(t, page(t, doc, n))
				}
			}
			t.Logf("%-40s without repair: %-24s with repair: %s", name, results[0], results[1])
		})
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}
