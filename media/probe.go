package media

import (
	"errors"
	"fmt"
	"slices"

	"github.com/mmq/mmq/internal/pdfsyntax"
	"github.com/pdfcpu/pdfcpu/pkg/filter"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// probeContent decodes the content streams of the first, middle and last
// pages. pdfcpu accepts some files whose streams it then reads from the
// wrong place or decrypts wrongly (an encrypted file with junk before its
// header, in the corpus), and every page would come out blank. A failure
// here is the cue to try a qpdf repair; it is not an error by itself, since
// one damaged page does not make the others unreadable.
func probeContent(xt *model.XRefTable, t *pageTree) error {
	n := len(t.pages)
	for _, i := range slices.Compact([]int{0, n / 2, n - 1}) {
		d, ok := pdfsyntax.Lookup(xt, t.pages[i].objNr).(types.Dict)
		if !ok {
			return fmt.Errorf("media: page %d: not a dict", i+1)
		}
		_, corrupt, err := pdfsyntax.Content(xt, d["Contents"])
		switch {
		case corrupt > 0:
			return fmt.Errorf("media: page %d content: %d streams with corrupt data", i+1, corrupt)
		case errors.Is(err, pdfsyntax.ErrNotStream):
			return fmt.Errorf("media: page %d: malformed /Contents", i+1)
		case err != nil && !errors.Is(err, pdfsyntax.ErrNoContent) && !errors.Is(err, filter.ErrUnsupportedFilter):
			return fmt.Errorf("media: page %d content: %w", i+1, err)
		}
	}
	return nil
}
