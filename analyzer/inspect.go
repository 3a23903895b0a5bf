package analyzer

import "context"

// PageShape is what a model provider needs to know of a page before
// sending it: its size, whether it paints images, and how much text it
// holds. It is read without pdftotext, so it is cheap.
type PageShape struct {
	// WidthPt and HeightPt are the visible size in points, as displayed.
	WidthPt, HeightPt float64
	// Images counts the image XObjects the page paints.
	Images int
	// TextChars estimates the length, in characters, of the text the
	// page's text-showing operators draw, from the size of their strings
	// (no font is decoded): one character a byte under a simple font, one
	// every two bytes under a composite one.
	TextChars int
}

// InspectPage reads page 1 of a single-page PDF with pdfcpu and returns its
// shape, for routing and cost estimates. Its error is a permanent
// *tasks.Error for a page pdfcpu cannot read, or ctx's.
func InspectPage(ctx context.Context, pdf []byte) (PageShape, error) {
	page, err := readPage(ctx, pdf)
	if err != nil {
		return PageShape{}, pageReadError(ctx, 1, err)
	}
	return PageShape{
		WidthPt:   page.width,
		HeightPt:  page.height,
		Images:    page.scan.images,
		TextChars: page.scan.shownChars,
	}, nil
}
