package analyzer

import (
	"github.com/mmq/mmq/tasks"

	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Bounds on what one page may make the scanner do or hold.
const (
	// maxFormDepth bounds the nesting of form XObjects that are walked.
	maxFormDepth = 16
	// maxStreamBytes bounds one decoded content or form stream.
	maxStreamBytes = tasks.MaxDecodedBytes
	// maxOperands bounds the operand stack; a longer run is garbage.
	maxOperands = 64
	// maxArray bounds the elements kept of one array operand.
	maxArray = 1 << 14
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
	// maxStreamBytes: most likely a decompression bomb.
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
	content, err := pageContent(xref, d, maxStreamBytes)
	tooLarge := errors.Is(err, errContentTooLarge)
	switch {
	case errors.Is(err, model.ErrNoContent):
	case tooLarge:
		s.warn("page content stream larger than %d bytes skipped", maxStreamBytes)
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
	token
	arr []token
}

// scan interprets one content stream with resources res.
func (s *pageScanner) scan(content []byte, res types.Dict, depth int) {
	lx := &lexer{data: content}
	// composite says the font selected last is a Type0 one.
	composite := false
	stack := make([]operand, 0, 16)
	for {
		tok := lx.next()
		switch tok.kind {
		case tokEOF:
			return
		case tokArrayStart:
			stack = append(stack, operand{token: tok, arr: readArray(lx)})
		case tokDictStart:
			skipDict(lx)
			stack = append(stack, operand{token: tok})
		case tokKeyword:
			s.operator(string(tok.text), stack, &composite, res, depth, lx)
			stack = stack[:0]
			if s.ops++; s.ops%checkEvery == 0 && s.ctx.Err() != nil {
				return
			}
		default:
			stack = append(stack, operand{token: tok})
		}
		if len(stack) > maxOperands {
			stack = stack[:0]
		}
	}
}

// readArray reads the elements of an array whose '[' was just read. Nested
// arrays and dictionaries, which no text or XObject operator takes, are
// skipped, without recursion: nesting depth is up to the file.
func readArray(lx *lexer) []token {
	var out []token
	for depth := 1; ; {
		tok := lx.next()
		switch tok.kind {
		case tokEOF:
			return out
		case tokArrayEnd:
			if depth--; depth == 0 {
				return out
			}
		case tokArrayStart:
			depth++
		case tokDictStart:
			skipDict(lx)
		default:
			if depth == 1 && len(out) < maxArray {
				out = append(out, tok)
			}
		}
	}
}

// skipDict moves past a dictionary whose '<<' was just read.
func skipDict(lx *lexer) {
	for depth := 1; depth > 0; {
		switch lx.next().kind {
		case tokEOF:
			return
		case tokDictStart:
			depth++
		case tokDictEnd:
			depth--
		}
	}
}

// operator applies one content stream operator with its operands.
func (s *pageScanner) operator(op string, args []operand, composite *bool, res types.Dict, depth int, lx *lexer) {
	// Operands count from the end: extra leading operands are garbage.
	last := operand{}
	if len(args) > 0 {
		last = args[len(args)-1]
	}
	switch op {
	case "Tf":
		if len(args) >= 2 && args[len(args)-2].kind == tokName {
			*composite = s.font(res, string(args[len(args)-2].text))
		}
	case "Tj", "TJ", "'", `"`:
		s.chars += shownChars(last, *composite)
	case "Do":
		if last.kind == tokName {
			s.xObject(res, string(last.text), depth)
		}
	case "scn", "SCN":
		if last.kind == tokName {
			s.pattern(res, string(last.text), depth)
		}
	case "ID":
		lx.skipInlineImage()
	}
}

// shownChars estimates the characters a Tj string or TJ array shows.
func shownChars(o operand, composite bool) int {
	n := 0
	switch o.kind {
	case tokString:
		n = len(o.text)
	case tokArrayStart:
		for _, el := range o.arr {
			if el.kind == tokString {
				n += len(el.text)
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
	if res == nil {
		return nil, 0
	}
	sub, err := s.xref.DereferenceDict(res[category])
	if err != nil || sub == nil {
		return nil, 0
	}
	o := sub[name]
	objNr := 0
	if ir, ok := o.(types.IndirectRef); ok {
		objNr = ir.ObjectNumber.Value()
	}
	o, err = s.xref.Dereference(o)
	if err != nil {
		s.warn("%s resource %s unreadable: %v", category, name, err)
		return nil, 0
	}
	return o, objNr
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
	o, err := s.xref.Dereference(d["BaseFont"])
	if err != nil {
		return ""
	}
	var name string
	switch v := o.(type) {
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
	kids, err := s.xref.DereferenceArray(d["DescendantFonts"])
	if err != nil || len(kids) == 0 {
		return nil
	}
	kid, err := s.xref.DereferenceDict(kids[0])
	if err != nil {
		return nil
	}
	return kid
}

// decode decodes sd, a copy owned by the scanner, and returns its data.
func (s *pageScanner) decode(sd *types.StreamDict, what string) ([]byte, bool) {
	if err := sd.DecodeWithLimit(maxStreamBytes); err != nil {
		s.warn("%s undecodable: %v", what, err)
		return nil, false
	}
	return sd.Content, true
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
		s.walk(&sd, objNr, res, "form XObject "+name, depth)
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
		s.walk(&sd, objNr, res, "pattern "+name, depth)
	}
}

// walk scans the content of form or pattern stream sd, object objNr, once.
// Without Resources of its own it uses res, those of where it is painted.
func (s *pageScanner) walk(sd *types.StreamDict, objNr int, res types.Dict, what string, depth int) {
	if s.walked[objNr] {
		return
	}
	s.walked[objNr] = true
	if depth >= maxFormDepth {
		s.warn("forms and patterns nested deeper than %d skipped", maxFormDepth)
		return
	}
	content, ok := s.decode(sd, what)
	if !ok {
		return
	}
	if r, err := s.xref.DereferenceDict(sd.Dict["Resources"]); err == nil && r != nil {
		res = r
	}
	s.scan(content, res, depth+1)
}
