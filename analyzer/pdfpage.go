package analyzer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// pageLayout is the geometry of a page.
type pageLayout struct {
	// width and height are the visible area in points, as displayed: after
	// the rotation is applied.
	width, height float64
	// rotation is the clockwise display rotation: 0, 90, 180 or 270.
	rotation int
}

// pdfPage is what pdfcpu tells about page 1 of a PDF.
type pdfPage struct {
	pageLayout
	scan     contentScan
	warnings []string
}

// errPDFPanic reports a panic inside pdfcpu (or the scanner driving it) on
// malformed input.
var errPDFPanic = errors.New("analyzer: pdfcpu panicked")

// readConfig is the pdfcpu configuration for reading pages: relaxed, without
// validation or optimization. It is built by hand because
// model.NewDefaultConfiguration creates a config directory under the user's
// home unless a process-wide switch (api.DisableConfigDir) is thrown.
func readConfig() *model.Configuration {
	return &model.Configuration{
		Version:                   model.VersionStr,
		Reader15:                  true,
		ValidationMode:            model.ValidationRelaxed,
		UnsupportedResourcePolicy: model.UnsupportedResourceSkip,
		Eol:                       types.EolLF,
		Offline:                   true,
		Cmd:                       model.LISTINFO,
		Limits:                    model.DefaultResourceLimits(),
	}
}

// readPage reads page 1 of data with pdfcpu. It does not validate the file:
// the page was cut from a document that was validated whole, and a reader
// that tolerates what validation would reject gets more pages analyzed.
// Panics are recovered and returned as errors wrapping errPDFPanic.
func readPage(ctx context.Context, data []byte) (page *pdfPage, err error) {
	defer func() {
		if r := recover(); r != nil {
			page, err = nil, fmt.Errorf("%w: %v", errPDFPanic, r)
		}
	}()

	pc, err := pdfcpu.ReadWithContext(ctx, bytes.NewReader(data), readConfig())
	if err != nil {
		return nil, err
	}
	if root, err := pc.Pages(); err != nil {
		return nil, fmt.Errorf("analyzer: page tree: %w", err)
	} else if root == nil {
		return nil, errors.New("analyzer: no page tree")
	}
	if err := pc.EnsurePageCount(); err != nil {
		return nil, err
	}
	if pc.PageCount < 1 {
		return nil, errors.New("analyzer: document has no pages")
	}
	d, _, attrs, err := pc.PageDict(1, false)
	if err != nil {
		return nil, fmt.Errorf("analyzer: page dict: %w", err)
	}

	page = &pdfPage{}
	if pc.PageCount > 1 {
		page.warnings = append(page.warnings, fmt.Sprintf("unit has %d pages, only the first was analyzed", pc.PageCount))
	}
	layout, warn := layoutOf(pc.XRefTable, d, attrs)
	page.pageLayout = layout
	if warn != "" {
		page.warnings = append(page.warnings, warn)
	}
	page.scan = scanPage(ctx, pc.XRefTable, d, attrs.Resources)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return page, nil
}

// layoutOf computes the visible size of page dict d: the crop box clipped to
// the media box, scaled by UserUnit and turned by Rotate. A page without a
// usable media box has size 0 and a warning.
func layoutOf(xref *model.XRefTable, d types.Dict, attrs *model.InheritedPageAttrs) (pageLayout, string) {
	var l pageLayout
	l.rotation = normalizeRotation(attrs.Rotate)

	if attrs.MediaBox == nil {
		return l, "page has no MediaBox"
	}
	llx, lly, urx, ury := box(attrs.MediaBox)
	if attrs.CropBox != nil {
		cllx, clly, curx, cury := box(attrs.CropBox)
		llx, lly, urx, ury = max(llx, cllx), max(lly, clly), min(urx, curx), min(ury, cury)
	}
	w, h := max(urx-llx, 0), max(ury-lly, 0)

	if o, ok := d["UserUnit"]; ok {
		if u, err := xref.DereferenceNumber(o); err == nil && u > 0 {
			w, h = w*u, h*u
		}
	}
	if l.rotation == 90 || l.rotation == 270 {
		w, h = h, w
	}
	l.width, l.height = roundPt(w), roundPt(h)
	if l.width == 0 || l.height == 0 {
		return l, "page has an empty visible area"
	}
	return l, ""
}

// box returns r's corners in order, whichever way the file wrote them.
func box(r *types.Rectangle) (llx, lly, urx, ury float64) {
	return min(r.LL.X, r.UR.X), min(r.LL.Y, r.UR.Y), max(r.LL.X, r.UR.X), max(r.LL.Y, r.UR.Y)
}

// normalizeRotation maps any /Rotate value to 0, 90, 180 or 270. The value
// should be a multiple of 90; others are rounded to the nearest one.
func normalizeRotation(r int) int {
	r = ((r % 360) + 360) % 360
	return (r + 45) / 90 * 90 % 360
}

// roundPt rounds to hundredths of a point, the precision files write.
func roundPt(v float64) float64 { return math.Round(v*100) / 100 }
