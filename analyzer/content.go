package analyzer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mmq/mmq/internal/pdfsyntax"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Bounds on what one page may make the scanner do or hold.
const (
	// maxFormDepth bounds the nesting of form XObjects that are walked.
	maxFormDepth = 16
	// maxOperands bounds the operand stack; a longer run is garbage.
	maxOperands = 64
	// maxWarnings bounds the warnings reported for one page.
	maxWarnings = 8
	// checkEvery is how many operators the scanner runs between looks at
	// its context.
	checkEvery = 1 << 12
)

// contentScan is what walking a page's content streams found.
type contentScan struct {
	// shownChars estimates the characters the text-showing operators
	// draw: one a byte of their strings under a simple font, one every two
	// bytes under a composite (Type0) one. It sizes the page's text for
	// cost estimates without decoding any font.
	shownChars int
	// fonts are the base font names selected with Tf.
	fonts []string
	// images counts the distinct image XObjects painted with Do.
	images   int
	warnings []string
	// tooLarge says the page's content decodes to more than
	// pdfsyntax.MaxDecoded: most likely a decompression bomb.
	tooLarge bool
}

// pageScanner walks a page's content stream and the form XObjects and tiling
// patterns it paints, collecting the fonts it selects, the images it paints
// and the size of the text it shows. Each form or pattern is walked once
// however often it is painted: that bounds the work. Soft-mask groups
// (ExtGState SMask) are not walked: what they paint shapes transparency and
// is never seen; annotations are not part of the page content and are not
// walked either.
type pageScanner struct {
	ctx    context.Context
	ops    int
	xref   *model.XRefTable
	chars  int
	fonts  map[string]bool
	images map[int]bool
	walked map[int]bool // forms and patterns already walked
	// composite caches, by object number, whether a font is a Type0 one.
	composite map[int]bool
	warnings  []string
}

// scanPage walks page dict d, whose resources in effect are res. It stops
// early when ctx is done; the caller checks ctx.
func scanPage(ctx context.Context, xref *model.XRefTable, d, res types.Dict) contentScan {
	s := &pageScanner{
		ctx:       ctx,
		xref:      xref,
		fonts:     map[string]bool{},
		images:    map[int]bool{},
		walked:    map[int]bool{},
		composite: map[int]bool{},
	}
	content, _, err := pdfsyntax.Content(xref, d["Contents"])
	tooLarge := errors.Is(err, pdfsyntax.ErrTooLarge)
	switch {
	case errors.Is(err, pdfsyntax.ErrNoContent):
	case tooLarge:
		s.warn("page content stream larger than %d bytes skipped", pdfsyntax.MaxDecoded)
	case err != nil:
		s.warn("page content stream unreadable: %v", err)
	default:
		s.scan(content, res, 0)
	}

	fonts := make([]string, 0, len(s.fonts))
	for f := range s.fonts {
		fonts = append(fonts, f)
	}
	slices.Sort(fonts)
	return contentScan{
		shownChars: s.chars,
		fonts:      fonts,
		images:     len(s.images),
		warnings:   s.warnings,
		tooLarge:   tooLarge,
	}
}

func (s *pageScanner) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if len(s.warnings) < maxWarnings && !slices.Contains(s.warnings, msg) {
		s.warnings = append(s.warnings, msg)
	}
}

// operand is one operand on the stack: a token, or an array of them.
type operand struct {
	pdfsyntax.Token
	arr []pdfsyntax.Token
}

// scan interprets one content stream with resources res.
func (s *pageScanner) scan(content []byte, res types.Dict, depth int) {
	lx := pdfsyntax.NewLexer(content)
	// composite says the font selected last is a Type0 one.
	composite := false
	stack := make([]operand, 0, 16)
	for {
		tok := lx.Next()
		switch tok.Kind {
		case pdfsyntax.EOF:
			return
		case pdfsyntax.ArrayStart:
			stack = append(stack, operand{Token: tok, arr: lx.ReadArray()})
		case pdfsyntax.DictStart:
			lx.SkipDict()
			stack = append(stack, operand{Token: tok})
		case pdfsyntax.Keyword:
			s.operator(string(tok.Text), stack, &composite, res, depth, lx)
			stack = stack[:0]
			if s.ops++; s.ops%checkEvery == 0 && s.ctx.Err() != nil {
				return
			}
		default:
			stack = append(stack, operand{Token: tok})
		}
		if len(stack) > maxOperands {
			stack = stack[:0]
		}
	}
}

// operator applies one content stream operator with its operands.
func (s *pageScanner) operator(op string, args []operand, composite *bool, res types.Dict, depth int, lx *pdfsyntax.Lexer) {
	// Operands count from the end: extra leading operands are garbage.
	last := operand{}
	if len(args) > 0 {
		last = args[len(args)-1]
	}
	switch op {
	case "Tf":
		if len(args) >= 2 && args[len(args)-2].Kind == pdfsyntax.Name {
			*composite = s.font(res, string(args[len(args)-2].Text))
		}
	case "Tj", "TJ", "'", `"`:
		s.chars += shownChars(last, *composite)
	case "Do":
		if last.Kind == pdfsyntax.Name {
			s.xObject(res, string(last.Text), depth)
		}
	case "scn", "SCN":
		if last.Kind == pdfsyntax.Name {
			s.pattern(res, string(last.Text), depth)
		}
	case "ID":
		lx.SkipInlineImage()
	}
}

// shownChars estimates the characters a Tj string or TJ array shows.
func shownChars(o operand, composite bool) int {
	n := 0
	switch o.Kind {
	case pdfsyntax.String:
		n = len(o.Text)
	case pdfsyntax.ArrayStart:
		for _, el := range o.arr {
			if el.Kind == pdfsyntax.String {
				n += len(el.Text)
			}
		}
	}
	if composite {
		n /= 2
	}
	return n
}

// resource returns the entry name of category in res, resolved, and its
// object number, 0 for a direct object.
func (s *pageScanner) resource(res types.Dict, category, name string) (types.Object, int) {
	sub, _ := pdfsyntax.Resolve(s.xref, res[category]).(types.Dict)
	o := sub[name]
	return pdfsyntax.Resolve(s.xref, o), pdfsyntax.ObjectNumber(o)
}

// font records the base font of font resource name and reports whether it
// is a composite (Type0) font.
func (s *pageScanner) font(res types.Dict, name string) bool {
	o, objNr := s.resource(res, "Font", name)
	if composite, ok := s.composite[objNr]; ok && objNr != 0 {
		return composite
	}
	d, ok := o.(types.Dict)
	if !ok {
		return false
	}
	if base := s.baseFont(d); base != "" {
		s.fonts[base] = true
	}
	st := d.Subtype()
	composite := st != nil && *st == "Type0"
	if objNr != 0 {
		s.composite[objNr] = composite
	}
	return composite
}

// baseFont returns the font's name without a subset tag ("ABCDEF+"). A Type0
// font is named by its descendant, whose name lacks the CMap suffix. Type3
// fonts have no name and yield "".
func (s *pageScanner) baseFont(d types.Dict) string {
	if kid := s.descendant(d); kid != nil {
		d = kid
	}
	var name string
	switch v := pdfsyntax.Resolve(s.xref, d["BaseFont"]).(type) {
	case types.Name:
		name = v.Value()
	case types.StringLiteral:
		name = v.Value()
	}
	if len(name) > 7 && name[6] == '+' && strings.ToUpper(name[:6]) == name[:6] {
		name = name[7:]
	}
	return name
}

// descendant returns the CIDFont of Type0 font d, nil for other fonts.
func (s *pageScanner) descendant(d types.Dict) types.Dict {
	if st := d.Subtype(); st == nil || *st != "Type0" {
		return nil
	}
	kids, _ := pdfsyntax.Resolve(s.xref, d["DescendantFonts"]).(types.Array)
	if len(kids) == 0 {
		return nil
	}
	kid, _ := pdfsyntax.Resolve(s.xref, kids[0]).(types.Dict)
	return kid
}

// xObject counts image XObject name and walks form XObject name.
func (s *pageScanner) xObject(res types.Dict, name string, depth int) {
	o, objNr := s.resource(res, "XObject", name)
	sd, ok := o.(types.StreamDict)
	if !ok || objNr == 0 {
		// Streams are always indirect objects; anything else is broken.
		return
	}
	switch st := sd.Dict.Subtype(); {
	case st == nil:
	case *st == "Image":
		s.images[objNr] = true
	case *st == "Form":
		s.walk(sd, objNr, res, "form XObject "+name, depth)
	}
}

// pattern walks tiling pattern name, whose cells may paint images and text.
// Shading patterns paint neither.
func (s *pageScanner) pattern(res types.Dict, name string, depth int) {
	o, objNr := s.resource(res, "Pattern", name)
	sd, ok := o.(types.StreamDict)
	if !ok || objNr == 0 {
		return
	}
	if pt := sd.Dict.IntEntry("PatternType"); pt != nil && *pt == 1 {
		s.walk(sd, objNr, res, "pattern "+name, depth)
	}
}

// walk scans the content of form or pattern stream sd, object objNr, once.
// Without Resources of its own it uses res, those of where it is painted.
func (s *pageScanner) walk(sd types.StreamDict, objNr int, res types.Dict, what string, depth int) {
	if s.walked[objNr] {
		return
	}
	s.walked[objNr] = true
	if depth >= maxFormDepth {
		s.warn("forms and patterns nested deeper than %d skipped", maxFormDepth)
		return
	}
	content, err := pdfsyntax.Decode(sd)
	if err != nil {
		s.warn("%s undecodable: %v", what, err)
		return
	}
	if r, ok := pdfsyntax.Resolve(s.xref, sd.Dict["Resources"]).(types.Dict); ok {
		res = r
	}
	s.scan(content, res, depth+1)
}
