package pdftest_test

import (
	"bytes"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/mmq/mmq/internal/pdftest"
)

// The PDFs validate in pdfcpu's strict mode and have a page per line.
func TestText(t *testing.T) {
	for _, n := range []int{1, 3} {
		lines := make([]string, n)
		for i := range lines {
			lines[i] = "line " + string(rune('a'+i))
		}
		conf := model.NewDefaultConfiguration()
		conf.ValidationMode = model.ValidationStrict
		ctx, err := api.ReadValidateAndOptimize(bytes.NewReader(pdftest.Text(lines...)), conf)
		if err != nil {
			t.Fatalf("%d lines: %v", n, err)
		}
		if ctx.PageCount != n {
			t.Errorf("%d lines: %d pages", n, ctx.PageCount)
		}
	}
}
