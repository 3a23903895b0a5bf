package media

import "context"

// Document is a PDF or an image whose pages come out as one-page PDFs:
// *PDF and *Image implement it.
type Document interface {
	// PageCount returns the number of pages, at least 1.
	PageCount() int
	// Page returns page n (1-based) as a self-contained one-page PDF.
	Page(ctx context.Context, n int) ([]byte, error)
}

var (
	_ Document = (*PDF)(nil)
	_ Document = (*Image)(nil)
)

// DocumentOptions are the options of OpenDocument: those of the PDF
// reader and those of the image reader. MaxPages, when set on PDF and not
// on Image, bounds a TIFF's pages too.
type DocumentOptions struct {
	PDF   PDFOptions
	Image ImageOptions
}

// OpenDocument opens data as an image when its magic bytes say it is one
// (ImageFormat), else as a PDF, so that an image is a document of one page
// (a TIFF of one page per image) for the rest of the pipeline. Its errors
// are those of OpenImage or OpenPDF.
func OpenDocument(ctx context.Context, data []byte, opts DocumentOptions) (Document, error) {
	if ImageFormat(data) == "" {
		d, err := OpenPDF(ctx, data, opts.PDF)
		if err != nil {
			return nil, err
		}
		return d, nil
	}
	if opts.Image.MaxPages == 0 {
		opts.Image.MaxPages = opts.PDF.MaxPages
	}
	im, err := OpenImage(ctx, data, opts.Image)
	if err != nil {
		return nil, err
	}
	return im, nil
}
