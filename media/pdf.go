package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/mmq/mmq/internal/pdfsyntax"
	"github.com/mmq/mmq/tasks"
)

// PDFOptions are the options of OpenPDF. The zero value opens unencrypted
// PDFs of any length without repair.
type PDFOptions struct {
	// Password opens an encrypted PDF; the user or the owner password will
	// do, except an AES-256 (revision 6) owner password, which pdfcpu
	// v0.15.0 rejects and only Repair accepts. Defaults to none, which opens
	// PDFs encrypted with an empty user password (permissions only) and no
	// others. It never appears in errors.
	Password string
	// MaxPages is the most pages a PDF may have; a longer one is a
	// tasks.CodeTooManyPages error. Defaults to 0: no limit.
	MaxPages int
	// Repair has qpdf rewrite a PDF that pdfcpu rejects (a broken xref table,
	// an encryption dict pdfcpu does not accept, a file on which pdfcpu
	// panics) or whose page content pdfcpu cannot decode, then has pdfcpu
	// read the rewritten file once more. Without it such content comes out
	// as pdfcpu read it. Defaults to false.
	Repair bool
	// QPDFPath is the qpdf executable Repair runs. Defaults to "qpdf", looked
	// up in PATH; when it is not found, no repair is tried.
	QPDFPath string
	// RepairTimeout bounds one qpdf run. Defaults to 1 minute.
	RepairTimeout time.Duration
}

func (o *PDFOptions) setDefaults() {
	if o.QPDFPath == "" {
		o.QPDFPath = "qpdf"
	}
	if o.RepairTimeout == 0 {
		o.RepairTimeout = time.Minute
	}
}

// Validate reports options that make no sense.
func (o PDFOptions) Validate() error {
	switch {
	case o.MaxPages < 0:
		return fmt.Errorf("media: PDFOptions.MaxPages is %d, want >= 0", o.MaxPages)
	case o.RepairTimeout < 0:
		return fmt.Errorf("media: PDFOptions.RepairTimeout is %v, want >= 0", o.RepairTimeout)
	}
	return nil
}

// PDF is a document read and validated once, from which single pages are
// extracted. Its methods are safe for concurrent use: Page only reads the
// document and builds each page in memory of its own.
type PDF struct {
	xt       *model.XRefTable
	tree     *pageTree
	version  string
	repaired bool
	// damage is why probeContent doubts that pdfcpu read the file right.
	damage error
}

// errNoPages is the cause of a PDF whose page tree holds no page.
var errNoPages = errors.New("media: page tree has no pages")

// OpenPDF reads and validates data once and indexes its pages. Its errors
// are *tasks.Error values with the codes CodeEmptyFile, CodeUnsupportedType
// (no PDF header in the first 1024 bytes), CodeEncryptedPDF (a password is
// needed and none was given), CodeWrongPassword, CodeInvalidPDF (damaged,
// including files on which pdfcpu panics) and CodeTooManyPages, or else the
// error of ctx. The returned PDF keeps a reference to data, which must not
// be modified while it is in use.
func OpenPDF(ctx context.Context, data []byte, opts PDFOptions) (*PDF, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, tasks.Errorf(tasks.CodeEmptyFile, msgEmpty)
	}
	if !hasPDFHeader(data) {
		return nil, tasks.Errorf(tasks.CodeUnsupportedType, msgNotPDF)
	}

	doc, err := readPDF(ctx, data, opts.Password)
	if errors.Is(err, pdfcpu.ErrWrongPassword) && opts.Password != "" {
		// A document that opens without a password needs none, whatever
		// was given: pdfcpu v0.15.0 rejects some right owner passwords
		// (AES-256, revision 6), which should not make such a file fail.
		if d, err2 := readPDF(ctx, data, ""); err2 == nil {
			doc, err = d, nil
		}
	}
	if opts.Repair && ctx.Err() == nil && (err != nil || doc.damage != nil) {
		doc, err = repairAndRead(ctx, data, opts, doc, err)
	}
	if err != nil {
		if errors.Is(err, errNoPages) {
			return nil, tasks.WrapError(tasks.CodeInvalidPDF, err, msgNoPages)
		}
		return nil, classifyReadError(err, opts.Password)
	}
	if opts.MaxPages > 0 && doc.PageCount() > opts.MaxPages {
		return nil, tasks.Errorf(tasks.CodeTooManyPages,
			"the PDF has %d pages; at most %d are allowed", doc.PageCount(), opts.MaxPages)
	}
	return doc, nil
}

// repairAndRead is OpenPDF's second chance when pdfcpu failed with readErr
// or read doc but could not decode its content. It prefers qpdf's rewrite
// when pdfcpu reads it without doubt, then doc, which may be damaged in
// places only. Without either, it returns readErr annotated for the logs:
// the client learns why pdfcpu refused the file, not why qpdf did.
func repairAndRead(ctx context.Context, data []byte, opts PDFOptions, doc *PDF, readErr error) (*PDF, error) {
	fixed, err := repairPDF(ctx, data, opts.Password, opts)
	if err == nil {
		var rdoc *PDF
		rdoc, err = readPDF(ctx, fixed, "") // qpdf removed the encryption
		if err == nil && (rdoc.damage == nil || doc == nil) {
			rdoc.repaired = true
			return rdoc, nil
		}
		if err == nil {
			err = rdoc.damage
		}
		err = fmt.Errorf("after qpdf repair: %w", err)
	}
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("media: open PDF: %w", ctx.Err())
	case doc != nil:
		return doc, nil
	}
	return nil, fmt.Errorf("%w (%v)", readErr, err)
}

// readPDF has pdfcpu read and validate data, then indexes the pages.
func readPDF(ctx context.Context, data []byte, password string) (doc *PDF, err error) {
	defer catchPanic(&err)
	mctx, err := pdfcpu.ReadWithContext(ctx, bytes.NewReader(data), newConfig(password))
	if err != nil {
		return nil, err
	}
	if err := api.ValidateContext(mctx); err != nil {
		return nil, err
	}
	if err := settleObjects(ctx, mctx.XRefTable, data); err != nil {
		return nil, err
	}
	tree, err := indexPages(mctx.XRefTable)
	if err != nil {
		return nil, err
	}
	if len(tree.pages) == 0 {
		return nil, errNoPages
	}
	return &PDF{
		xt: mctx.XRefTable, tree: tree, version: mctx.XRefTable.Version().String(),
		damage: probeContent(mctx.XRefTable, tree),
	}, nil
}

var disableConfigDir sync.Once

// newConfig returns the pdfcpu configuration for reading a document to split.
func newConfig(password string) *model.Configuration {
	disableConfigDir.Do(api.DisableConfigDir)
	conf := model.NewDefaultConfiguration()
	// VALIDATE rather than EXTRACTPAGES: pdfcpu would otherwise refuse a
	// document whose permissions forbid extraction once a password is
	// given, although the client who has the password may read the document.
	conf.Cmd = model.VALIDATE
	conf.ValidationMode = model.ValidationRelaxed
	conf.Optimize = false
	conf.OptimizeBeforeWriting = false
	conf.OptimizeResourceDicts = false
	conf.DecodeAllStreams = false
	conf.ValidateLinks = false
	conf.Offline = true
	// pdfcpu decodes object and xref streams while reading, and a few
	// others while validating, each filter stage up to 512 MiB by default:
	// a decompression bomb in one object stream then costs gigabytes of
	// heap (twice that while the buffer grows). No sane object stream
	// comes near this bound.
	conf.Limits.MaxDecodeBytes = pdfsyntax.MaxDecoded
	// Either password opens the document; pdfcpu tries the owner password
	// first and falls back to the user password.
	conf.UserPW = password
	conf.OwnerPW = password
	return conf
}

// PageCount returns the number of pages, at least 1.
func (d *PDF) PageCount() int { return len(d.tree.pages) }

// Repaired reports whether the document was read from qpdf's rewrite of the
// file rather than the file itself.
func (d *PDF) Repaired() bool { return d.repaired }

// Page returns page n (1-based) as a self-contained single-page PDF: the
// page with the attributes it inherits from the page tree (resources, media
// box, crop box, rotation) and every object it uses, unencrypted. An error
// is an ErrPageRange for n outside 1..PageCount, the error of ctx, or a
// tasks.Error with CodeInvalidPDF for a page too damaged to copy.
func (d *PDF) Page(ctx context.Context, n int) ([]byte, error) {
	if n < 1 || n > len(d.tree.pages) {
		return nil, fmt.Errorf("%w: %d not in 1..%d", ErrPageRange, n, len(d.tree.pages))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := d.page(n)
	if err != nil {
		return nil, tasks.WrapError(tasks.CodeInvalidPDF, fmt.Errorf("page %d: %w", n, err), msgBadPage)
	}
	return b, nil
}

func (d *PDF) page(n int) (b []byte, err error) {
	defer catchPanic(&err)
	return buildPage(d.xt, d.tree, d.tree.pages[n-1], d.version)
}
