package analyzer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"os/exec"
	"sync"
	"time"

	"github.com/mmq/mmq/tasks"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
)

// Analyzer turns one page or frame into a structured result. It has the
// method set of worker.Analyzer and is declared here for documentation and
// compile-time checks; the worker declares its own.
type Analyzer interface {
	Analyze(ctx context.Context, u tasks.Unit) (tasks.Analysis, error)
}

var _ Analyzer = (*Local)(nil)

// LocalName is the Analysis.Analyzer of the local analyzer.
const LocalName = "local"

// maxTextBytes bounds the text kept for one page.
// At 256 KiB (a hundred times a dense page of text) the page's result
// stays under the store's default cap on one result (1 MiB) even when
// every character needs escaping in JSON.
const maxTextBytes = 256 << 10

// LocalConfig configures the local analyzer. The zero value is ready to use.
type LocalConfig struct {
	// PDFToTextPath is the pdftotext binary (poppler-utils), a path or a name
	// looked up on PATH. Defaults to "pdftotext". Page text needs it: when
	// it cannot be found, NewLocal still succeeds (frames need no
	// pdftotext, and the API builds a Local only for estimates), but every
	// page fails with tasks.CodePDFToTextUnavailable; see Available.
	PDFToTextPath string
	// Timeout bounds one pdftotext run; a page that takes longer has no
	// text (TextSourceNone) and a warning. Defaults to 30 seconds.
	Timeout time.Duration
	// ChunkPages is how many pages one pdftotext run reads of a document
	// prepared with PrepareDocument. Defaults to DefaultChunkPages.
	ChunkPages int
}

func (c *LocalConfig) setDefaults() {
	if c.PDFToTextPath == "" {
		c.PDFToTextPath = "pdftotext"
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.ChunkPages == 0 {
		c.ChunkPages = DefaultChunkPages
	}
}

// Validate reports a configuration that cannot work.
func (c LocalConfig) Validate() error {
	if c.Timeout < 0 {
		return fmt.Errorf("analyzer: LocalConfig.Timeout must not be negative, got %v", c.Timeout)
	}
	if c.ChunkPages < 0 {
		return fmt.Errorf("analyzer: LocalConfig.ChunkPages must not be negative, got %d", c.ChunkPages)
	}
	return nil
}

// Local is the offline analyzer: for each page it reports the facts of
// PageFacts, read with pdfcpu and pdftotext, and for each video frame those
// of FrameFacts, without calling any model. It is safe for concurrent use.
type Local struct {
	timeout    time.Duration
	chunkPages int
	// pdfToText is the resolved pdftotext path, "" when none was found.
	pdfToText string
	// missing is why pdfToText is "", nil when it was found.
	missing error

	// docs holds the documents PrepareDocument prepared, by job ID.
	docsMu sync.Mutex
	docs   map[string]*docText
}

// NewLocal returns a local analyzer configured by cfg. It looks pdftotext up
// once, here; see Available for the outcome.
func NewLocal(cfg LocalConfig) (*Local, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Local{timeout: cfg.Timeout, chunkPages: cfg.ChunkPages, docs: map[string]*docText{}}
	if path, err := exec.LookPath(cfg.PDFToTextPath); err == nil {
		l.pdfToText = path
	} else {
		l.missing = fmt.Errorf("pdftotext (%s) not found: %w", cfg.PDFToTextPath, err)
	}
	return l, nil
}

// Available returns nil when pdftotext was found, else a *tasks.Error with
// CodePDFToTextUnavailable, the error every page then fails with. Video
// frames are analyzed either way.
func (l *Local) Available() error {
	if l.missing == nil {
		return nil
	}
	return tasks.WrapError(tasks.CodePDFToTextUnavailable, l.missing, "page text needs pdftotext (poppler-utils), and this worker lacks it")
}

// Analyze returns the PageFacts of a document page, or the FrameFacts of a
// video frame, as JSON. Input it can never analyze yields a permanent
// *tasks.Error: CodeInvalidRequest for a malformed unit, CodeInvalidPDF or
// CodeEncryptedPDF for a page pdfcpu cannot read, CodeInvalidVideo for a
// frame that is no readable image, CodePDFToTextUnavailable for any page
// when pdftotext is not installed. A canceled ctx stops pdftotext and
// returns ctx's error.
func (l *Local) Analyze(ctx context.Context, u tasks.Unit) (tasks.Analysis, error) {
	switch u.Kind {
	case tasks.KindDocument:
	case tasks.KindVideo:
		return l.analyzeFrame(ctx, u)
	default:
		return tasks.Analysis{}, tasks.Errorf(tasks.CodeInvalidRequest, "unit %d has unknown kind %q", u.Index, u.Kind)
	}

	facts, err := l.analyzePage(ctx, u)
	if err != nil {
		return tasks.Analysis{}, err
	}
	// Page text is full of <, > and &: keep them readable in the stored JSON.
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(facts); err != nil {
		return tasks.Analysis{}, fmt.Errorf("analyzer: encode facts of page %d: %w", u.Index, err)
	}
	return tasks.Analysis{Output: bytes.TrimSuffix(out.Bytes(), []byte("\n")), Analyzer: LocalName}, nil
}

func (l *Local) analyzePage(ctx context.Context, u tasks.Unit) (*PageFacts, error) {
	if err := checkPDFUnit(u); err != nil {
		return nil, err
	}
	if err := l.Available(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("analyzer: page %d: %w", u.Index, err)
	}

	page, err := readPage(ctx, u.Data)
	if err != nil {
		return nil, pageReadError(ctx, u.Index, err)
	}

	sum := sha256.Sum256(u.Data)
	facts := &PageFacts{
		Page:       u.Index,
		WidthPt:    page.width,
		HeightPt:   page.height,
		Rotation:   page.rotation,
		ImageCount: page.scan.images,
		Fonts:      page.scan.fonts,
		SHA256:     hex.EncodeToString(sum[:]),
	}
	facts.Warnings = append(facts.Warnings, page.warnings...)
	facts.Warnings = append(facts.Warnings, page.scan.warnings...)

	// pdftotext would inflate a content bomb to its end, spending its whole
	// timeout of CPU on a page that has no text worth the wait.
	text, source := "", TextSourceNone
	if !page.scan.tooLarge {
		t, truncated, err := l.pageText(ctx, u)
		switch {
		case err == nil:
			text, source = t, TextSourcePDFToText
			if truncated {
				facts.Warnings = append(facts.Warnings, fmt.Sprintf("text truncated to %d bytes", maxTextBytes))
			}
		case ctx.Err() != nil:
			return nil, fmt.Errorf("analyzer: page %d: %w", u.Index, ctx.Err())
		default:
			facts.Warnings = append(facts.Warnings, err.Error()+"; the page has no text")
		}
	}
	facts.setText(text, source)
	return facts, nil
}

// pageText returns the text of page unit u: from its document's chunk when
// the document was prepared, else from a pdftotext run on the page.
func (l *Local) pageText(ctx context.Context, u tasks.Unit) (string, bool, error) {
	t, truncated, ok, err := l.preparedText(ctx, u.JobID, u.Index)
	if ok || err != nil {
		return t, truncated, err
	}
	return pdfToText(ctx, l.pdfToText, l.timeout, u.Data, maxTextBytes)
}

// checkPDFUnit rejects a document unit that cannot hold a PDF. An empty MIME
// is taken to mean application/pdf.
func checkPDFUnit(u tasks.Unit) error {
	if len(u.Data) == 0 {
		return tasks.Errorf(tasks.CodeInvalidRequest, "page %d has no data", u.Index)
	}
	if u.MIME == "" {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(u.MIME); err != nil || mt != "application/pdf" {
		return tasks.Errorf(tasks.CodeInvalidRequest, "page %d has media type %q, want application/pdf", u.Index, u.MIME)
	}
	return nil
}

// pageReadError classifies a failure to read a page with pdfcpu.
func pageReadError(ctx context.Context, index int, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("analyzer: page %d: %w", index, ctx.Err())
	case errors.Is(err, pdfcpu.ErrWrongPassword):
		return tasks.WrapError(tasks.CodeEncryptedPDF, err, fmt.Sprintf("page %d is encrypted", index))
	default:
		return tasks.WrapError(tasks.CodeInvalidPDF, err, fmt.Sprintf("page %d is not a readable PDF", index))
	}
}
