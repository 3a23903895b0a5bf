package analyzer

import (
	"compress/zlib"
	"errors"
	"fmt"

	"github.com/pdfcpu/pdfcpu/pkg/filter"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// errContentTooLarge is pageContent's error for content that decodes to
// more than its limit.
var errContentTooLarge = errors.New("analyzer: page content too large")

// pageContent returns the decoded content of page dict d, its streams
// joined, or model.ErrNoContent. It is pdfcpu's XRefTable.PageContent with
// a bound: that one decodes each filter stage up to 512 MiB, and a page
// whose content is a decompression bomb (a few KB of Flate that inflate to
// gigabytes) cost gigabytes of heap before it gave up. Here the content as
// a whole may decode to limit bytes; beyond that it is errContentTooLarge.
// A stream with corrupt Flate data is skipped, as pdfcpu does in relaxed
// mode.
func pageContent(xref *model.XRefTable, d types.Dict, limit int64) ([]byte, error) {
	o, _ := d.Find("Contents")
	if o == nil {
		return nil, model.ErrNoContent
	}
	o, err := xref.Dereference(o)
	if err != nil || o == nil {
		return nil, err
	}
	var refs types.Array
	switch v := o.(type) {
	case types.StreamDict:
		refs = types.Array{v}
	case types.Array:
		refs = v
	default:
		return nil, errors.New("analyzer: page content must be a stream or an array of streams")
	}
	var content []byte
	for _, r := range refs {
		sd, ok := r.(types.StreamDict)
		if !ok {
			p, _, err := xref.DereferenceStreamDict(r)
			if err != nil {
				return nil, fmt.Errorf("analyzer: page content: %w", err)
			}
			if p == nil {
				continue
			}
			sd = *p
		}
		// pdfcpu reads a limit of 0 as its default and a negative one as
		// none at all: the budget left must be positive.
		left := limit - int64(len(content))
		if left <= 0 {
			return nil, errContentTooLarge
		}
		// sd is a copy: decoding sets its Content, not the document's.
		err := sd.DecodeWithLimit(left)
		switch {
		case errors.Is(err, filter.ErrDecodeLimitExceeded):
			return nil, errContentTooLarge
		case filter.IsCorruptFlateInput(err), errors.Is(err, zlib.ErrChecksum):
			continue
		case err != nil:
			return nil, fmt.Errorf("analyzer: page content: %w", err)
		}
		// An unfiltered stream is not decoded, so not bounded by left.
		if int64(len(content)+len(sd.Content)) > limit {
			return nil, errContentTooLarge
		}
		content = append(content, sd.Content...)
	}
	if len(content) == 0 {
		return nil, model.ErrNoContent
	}
	return content, nil
}
