package analyzer

import (
	"github.com/mmq/mmq/tasks"

	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Bounds on what one page may make the scanner do or hold.
const (
	// maxFormDepth bounds the nesting of form XObjects that are walked.
	maxFormDepth = 16
	// maxStreamBytes bounds one decoded content, form or CMap stream.
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
	// tjWordGap is the TJ adjustment, in thousandths of an em, read as a
	// space between words.
	tjWordGap = 200
)

// contentScan is what walking a page's content streams found.
type contentScan struct {
	// text is the rough text of the page's text-showing operators.
	text      string
	truncated bool
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
// and a rough text. Each form or pattern is walked once however often it is
// painted: that bounds the work, at the price of text repeated by a reused
// form appearing once. Soft-mask groups (ExtGState SMask) are not walked:
// what they paint shapes transparency and is never seen; annotations are not
// part of the page content and are not walked either.
type pageScanner struct {
	ctx      context.Context
	ops      int
	xref     *model.XRefTable
	text     textWriter
	fonts    map[string]bool
	images   map[int]bool
	walked   map[int]bool // forms and patterns already walked
	decoders map[int]*fontDecoder
	warnings []string
}

// scanPage walks page dict d, whose resources in effect are res. It stops
// early when ctx is done; the caller checks ctx.
func scanPage(ctx context.Context, xref *model.XRefTable, d, res types.Dict, maxText int) contentScan {
	s := &pageScanner{
		ctx:      ctx,
		xref:     xref,
		text:     textWriter{max: maxText},
		fonts:    map[string]bool{},
		images:   map[int]bool{},
		walked:   map[int]bool{},
		decoders: map[int]*fontDecoder{},
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
		text:      s.text.String(),
		truncated: s.text.truncated,
		fonts:     fonts,
		images:    len(s.images),
		warnings:  s.warnings,
		tooLarge:  tooLarge,
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

func (o operand) number() float64 {
	if o.kind == tokNumber {
		return o.num
	}
	return 0
}

// matrix is a PDF transformation matrix [a b c d e f].
type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// translate returns the matrix moved by (tx, ty) in its own space, as Td does.
func (m matrix) translate(tx, ty float64) matrix {
	m[4] += tx*m[0] + ty*m[2]
	m[5] += tx*m[1] + ty*m[3]
	return m
}

// textState is the part of the text state that places runs into lines and
// words.
type textState struct {
	font                         *fontDecoder
	fontSize, leading            float64
	charSpace, wordSpace, hScale float64
	// tlm is the text line matrix, tm the text matrix: where the next glyph goes.
	tlm, tm matrix
	// moved says the line matrix changed since the last run was shown;
	// newLine says it moved to a new line by T*, ' or ".
	moved, newLine bool
	// shown says a run was shown; endX and endY are where it ended, endX
	// known only when its font lists widths.
	shown      bool
	endX, endY float64
	endKnown   bool
}

func newTextState() textState {
	return textState{tlm: identity, tm: identity, hScale: 1}
}

// moveLine sets the line matrix, and the text matrix with it.
func (ts *textState) moveLine(m matrix) {
	ts.tlm, ts.tm, ts.moved = m, m, true
}

// scan interprets one content stream with resources res.
func (s *pageScanner) scan(content []byte, res types.Dict, depth int) {
	lx := &lexer{data: content}
	ts := newTextState()
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
			s.operator(string(tok.text), stack, &ts, res, depth, lx)
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
func (s *pageScanner) operator(op string, args []operand, ts *textState, res types.Dict, depth int, lx *lexer) {
	arg := func(i int) operand {
		// Operands count from the end: extra leading operands are garbage.
		if j := len(args) - i; j >= 0 {
			return args[j]
		}
		return operand{}
	}
	switch op {
	case "BT":
		ts.moveLine(identity)
	case "Tf":
		ts.font = s.font(res, string(arg(2).text))
		ts.fontSize = arg(1).number()
	case "TL":
		ts.leading = arg(1).number()
	case "Tc":
		ts.charSpace = arg(1).number()
	case "Tw":
		ts.wordSpace = arg(1).number()
	case "Tz":
		ts.hScale = arg(1).number() / 100
	case "Td":
		ts.moveLine(ts.tlm.translate(arg(2).number(), arg(1).number()))
	case "TD":
		ts.leading = -arg(1).number()
		ts.moveLine(ts.tlm.translate(arg(2).number(), arg(1).number()))
	case "Tm":
		ts.moveLine(matrix{arg(6).number(), arg(5).number(), arg(4).number(), arg(3).number(), arg(2).number(), arg(1).number()})
	case "T*":
		ts.nextLine()
	case "Tj", "TJ":
		s.show(ts, arg(1))
	case "'":
		ts.nextLine()
		s.show(ts, arg(1))
	case `"`:
		ts.wordSpace, ts.charSpace = arg(3).number(), arg(2).number()
		ts.nextLine()
		s.show(ts, arg(1))
	case "Do":
		if a := arg(1); a.kind == tokName {
			s.xObject(res, string(a.text), depth)
		}
	case "scn", "SCN":
		if a := arg(1); a.kind == tokName {
			s.pattern(res, string(a.text), depth)
		}
	case "ID":
		lx.skipInlineImage()
	}
}

func (ts *textState) nextLine() {
	ts.moveLine(ts.tlm.translate(0, -ts.leading))
	ts.newLine = true
}

// Thresholds, in ems of the current font, for placing a run.
const (
	// lineGap is the baseline move that starts a new line.
	lineGap = 0.5
	// wordGap is the horizontal gap after the previous run that makes a
	// new word; a move back by more than backGap does too.
	wordGap = 0.15
	backGap = 1.0
)

// show appends the text of a Tj string or TJ array. The run starts a new line
// when its baseline is off the previous run's by more than lineGap, and a new
// word when it starts wordGap after the previous run ended — or, when the
// previous run's width is unknown, whenever it was positioned anew.
func (s *pageScanner) show(ts *textState, o operand) {
	if o.kind != tokString && o.kind != tokArrayStart {
		return
	}
	x, y := ts.tm[4], ts.tm[5]
	em := math.Abs(ts.fontSize) * math.Hypot(ts.tm[0], ts.tm[1])
	size := math.Abs(ts.fontSize * ts.tm[3])
	if ts.shown {
		switch gap := x - ts.endX; {
		case ts.newLine || math.Abs(y-ts.endY) > max(1, size*lineGap):
			s.text.newline()
		case ts.endKnown && (gap > em*wordGap || gap < -em*backGap):
			s.text.space()
		case !ts.endKnown && ts.moved:
			s.text.space()
		}
	}
	ts.shown, ts.moved, ts.newLine = true, false, false
	ts.endX, ts.endY, ts.endKnown = x, y, false
	if ts.font == nil {
		return
	}

	// advance is the run's width in text space, as the text matrix moves.
	var advance float64
	showString := func(b []byte) {
		r := ts.font.decode(b, &s.text)
		advance += r.advance*ts.fontSize + float64(r.codes)*ts.charSpace + float64(r.spaces)*ts.wordSpace
	}
	if o.kind == tokString {
		showString(o.text)
	} else {
		for _, el := range o.arr {
			switch el.kind {
			case tokString:
				showString(el.text)
			case tokNumber:
				advance -= el.num / 1000 * ts.fontSize
				if -el.num > tjWordGap {
					s.text.space()
				}
			}
		}
	}
	ts.tm = ts.tm.translate(advance*ts.hScale, 0)
	ts.endX, ts.endY, ts.endKnown = ts.tm[4], ts.tm[5], ts.font.widths.known
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

// font returns the decoder of font resource name and records its base font.
func (s *pageScanner) font(res types.Dict, name string) *fontDecoder {
	o, objNr := s.resource(res, "Font", name)
	if dec, ok := s.decoders[objNr]; ok && objNr != 0 {
		return dec
	}
	d, ok := o.(types.Dict)
	if !ok {
		return nil
	}
	if base := s.baseFont(d); base != "" {
		s.fonts[base] = true
	}
	dec := s.newFontDecoder(d)
	if objNr != 0 {
		s.decoders[objNr] = dec
	}
	return dec
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

// number resolves o to a number; ok is false for anything else.
func (s *pageScanner) number(o types.Object) (float64, bool) {
	if o == nil {
		return 0, false
	}
	v, err := s.xref.DereferenceNumber(o)
	return v, err == nil
}

func (s *pageScanner) newFontDecoder(d types.Dict) *fontDecoder {
	st := d.Subtype()
	dec := &fontDecoder{composite: st != nil && *st == "Type0"}
	if _, ok := d["ToUnicode"]; ok {
		if data, ok := s.stream(d["ToUnicode"], "ToUnicode CMap"); ok {
			dec.toUnicode = parseToUnicode(data)
		}
	}
	if dec.composite {
		dec.widths = s.cidWidths(d)
		return dec
	}

	// Type3 glyph space is the font's own; the others' is 1/1000 of text space.
	scale := 0.001
	if st != nil && *st == "Type3" {
		if m, err := s.xref.DereferenceArray(d["FontMatrix"]); err == nil && len(m) == 6 {
			if v, ok := s.number(m[0]); ok {
				scale = v
			}
		}
	}
	dec.widths = s.simpleWidths(d, scale)

	var (
		base  string
		diffs []token
	)
	enc, err := s.xref.Dereference(d["Encoding"])
	if err != nil {
		s.warn("font encoding unreadable: %v", err)
	}
	switch e := enc.(type) {
	case types.Name:
		base = e.Value()
	case types.Dict:
		if n := e.NameEntry("BaseEncoding"); n != nil {
			base = *n
		}
		if a, err := s.xref.DereferenceArray(e["Differences"]); err == nil {
			diffs = differences(a)
		}
	}
	dec.simple = simpleEncoding(base, diffs)
	return dec
}

// simpleWidths reads the FirstChar and Widths of simple font d. The standard
// 14 fonts may omit them; their widths stay unknown.
func (s *pageScanner) simpleWidths(d types.Dict, scale float64) fontWidths {
	a, err := s.xref.DereferenceArray(d["Widths"])
	if err != nil || len(a) == 0 {
		return fontWidths{}
	}
	fw := fontWidths{known: true, simple: new([256]float64)}
	if fd, err := s.xref.DereferenceDict(d["FontDescriptor"]); err == nil && fd != nil {
		if v, ok := s.number(fd["MissingWidth"]); ok {
			fw.def = v * scale
		}
	}
	for i := range fw.simple {
		fw.simple[i] = fw.def
	}
	first, _ := s.number(d["FirstChar"])
	for i, o := range a {
		code := int(first) + i
		if code < 0 || code > 255 {
			continue
		}
		if v, ok := s.number(o); ok {
			fw.simple[code] = v * scale
		}
	}
	return fw
}

// cidWidths reads the DW and W of Type0 font d's descendant. Only under the
// Identity encodings are codes CIDs; otherwise widths stay unknown.
func (s *pageScanner) cidWidths(d types.Dict) fontWidths {
	enc, err := s.xref.Dereference(d["Encoding"])
	if n, ok := enc.(types.Name); err != nil || !ok || (n != "Identity-H" && n != "Identity-V") {
		return fontWidths{}
	}
	kid := s.descendant(d)
	if kid == nil {
		return fontWidths{}
	}
	fw := fontWidths{known: true, def: 1, cids: map[uint32]float64{}}
	if v, ok := s.number(kid["DW"]); ok {
		fw.def = v / 1000
	}
	w, err := s.xref.DereferenceArray(kid["W"])
	if err != nil {
		return fw
	}
	// W holds "c [w1 w2 ...]" (widths of c, c+1, ...) and "cfirst clast w".
	for i := 0; i+1 < len(w) && len(fw.cids) < maxCMapEntries; {
		c, ok := s.number(w[i])
		if !ok || c < 0 {
			break
		}
		next, err := s.xref.Dereference(w[i+1])
		if err != nil {
			break
		}
		if list, ok := next.(types.Array); ok {
			for j, o := range list {
				if v, ok := s.number(o); ok {
					fw.cids[uint32(c)+uint32(j)] = v / 1000
				}
			}
			i += 2
			continue
		}
		if i+2 >= len(w) {
			break
		}
		last, ok1 := s.number(w[i+1])
		v, ok2 := s.number(w[i+2])
		if !ok1 || !ok2 || last < c {
			break
		}
		fw.cidRanges = append(fw.cidRanges, cidRange{uint32(c), uint32(last), v / 1000})
		i += 3
	}
	return fw
}

// differences converts a /Differences array into the tokens simpleEncoding reads.
func differences(a types.Array) []token {
	out := make([]token, 0, len(a))
	for _, o := range a {
		switch v := o.(type) {
		case types.Integer:
			out = append(out, token{kind: tokNumber, num: float64(v.Value())})
		case types.Float:
			out = append(out, token{kind: tokNumber, num: v.Value()})
		case types.Name:
			out = append(out, token{kind: tokName, text: []byte(v.Value())})
		}
	}
	return out
}

// stream returns the decoded data of stream object o.
func (s *pageScanner) stream(o types.Object, what string) ([]byte, bool) {
	sd, _, err := s.xref.DereferenceStreamDict(o)
	if err != nil {
		s.warn("%s unreadable: %v", what, err)
		return nil, false
	}
	if sd == nil {
		return nil, false
	}
	return s.decode(sd, what)
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
	// The form's text is placed in its own space: set it apart by lines.
	s.text.newline()
	s.scan(content, res, depth+1)
	s.text.newline()
}
