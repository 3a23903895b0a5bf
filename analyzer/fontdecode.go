package analyzer

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// fontDecoder turns the bytes of a shown string into text, for the fallback
// extraction. It knows a font's ToUnicode CMap and, for simple fonts, the
// base encoding and /Differences. A composite (Type0) font without ToUnicode
// shows glyph ids that only its font program could map: its text is dropped.
// It also knows the glyph widths, where the font dictionary lists them, so
// that the scanner can tell a word gap from the next glyph of the same word.
type fontDecoder struct {
	// composite fonts use two-byte codes unless their CMap says otherwise.
	composite bool
	toUnicode *toUnicode
	// simple maps the codes of a simple font; nil for composite fonts.
	simple *[256]rune
	widths fontWidths
}

// fontWidths are the advance widths of a font's glyphs, already scaled from
// glyph space to text space for a font size of 1.
type fontWidths struct {
	// known says the font lists its widths; without them nothing is known.
	known bool
	// simple holds the widths of a simple font's 256 codes.
	simple *[256]float64
	// def is the width of a code not listed: DW or MissingWidth.
	def float64
	// cids and cidRanges hold a composite font's W array, by CID; codes
	// are CIDs under the Identity encodings, the only ones widths are
	// known for.
	cids      map[uint32]float64
	cidRanges []cidRange
}

type cidRange struct {
	lo, hi uint32
	w      float64
}

func (fw *fontWidths) width(code uint32, composite bool) float64 {
	if !composite {
		if code < 256 && fw.simple != nil {
			return fw.simple[code]
		}
		return fw.def
	}
	if w, ok := fw.cids[code]; ok {
		return w
	}
	for _, r := range fw.cidRanges {
		if code >= r.lo && code <= r.hi {
			return r.w
		}
	}
	return fw.def
}

// run is what decoding one shown string found, for placing the next one.
type run struct {
	// advance is the sum of the glyph widths for a font size of 1.
	advance float64
	// codes counts the codes shown, spaces the single-byte codes 32, which
	// character and word spacing apply to.
	codes, spaces int
}

// decode appends the text of the codes in b to w.
func (d *fontDecoder) decode(b []byte, w *textWriter) run {
	var r run
	for len(b) > 0 {
		n := 1
		if d.composite {
			n = 2
		}
		if d.toUnicode != nil {
			n = d.toUnicode.codeLength(b, n)
		}
		n = min(n, len(b))
		code := codeValue(b[:n])
		b = b[n:]

		r.codes++
		if n == 1 && code == ' ' {
			r.spaces++
		}
		r.advance += d.widths.width(code, d.composite)

		if d.toUnicode != nil {
			if s, ok := d.toUnicode.lookup(code, n); ok {
				w.writeString(s)
				continue
			}
		}
		if d.simple != nil && n == 1 {
			if c := d.simple[code]; c != 0 {
				w.writeRune(c)
			}
		}
	}
	return r
}

func codeValue(b []byte) uint32 {
	var v uint32
	for _, c := range b {
		v = v<<8 | uint32(c)
	}
	return v
}

// codespace is one range of codes of n bytes from a CMap's codespacerange.
type codespace struct {
	n      int
	lo, hi uint32
}

// cmapRange is one bfrange line: codes lo..hi map to consecutive characters
// starting at first, or one by one to the strings of list.
type cmapRange struct {
	n      int
	lo, hi uint32
	first  []rune
	list   []string
}

type cmapKey struct {
	n    int
	code uint32
}

// toUnicode is a parsed ToUnicode CMap.
type toUnicode struct {
	spaces []codespace
	chars  map[cmapKey]string
	ranges []cmapRange
}

// codeLength returns the byte length of the code at the start of b: the
// shortest codespace range that contains it, else def.
func (t *toUnicode) codeLength(b []byte, def int) int {
	for n := 1; n <= 4 && n <= len(b); n++ {
		code := codeValue(b[:n])
		for _, cs := range t.spaces {
			if cs.n == n && code >= cs.lo && code <= cs.hi {
				return n
			}
		}
	}
	return def
}

func (t *toUnicode) lookup(code uint32, n int) (string, bool) {
	if s, ok := t.chars[cmapKey{n, code}]; ok {
		return s, true
	}
	for _, r := range t.ranges {
		if r.n != n || code < r.lo || code > r.hi {
			continue
		}
		off := code - r.lo
		if r.list != nil {
			if int(off) < len(r.list) {
				return r.list[off], true
			}
			return "", false
		}
		if len(r.first) == 0 {
			return "", false
		}
		// The last character counts up through the range.
		rs := append([]rune(nil), r.first...)
		rs[len(rs)-1] += rune(off)
		return string(rs), true
	}
	return "", false
}

// CMaps come from the file; bound what one may make us hold.
const (
	maxCMapEntries = 1 << 16
	maxCMapArray   = 1 << 12
)

// parseToUnicode reads the codespace, bfchar and bfrange sections of a
// ToUnicode CMap and ignores everything else. Malformed lines are skipped.
func parseToUnicode(data []byte) *toUnicode {
	t := &toUnicode{chars: map[cmapKey]string{}}
	lx := &lexer{data: data}
	entries := 0
	for {
		tok := lx.next()
		if tok.kind == tokEOF || entries > maxCMapEntries {
			return t
		}
		if tok.kind != tokKeyword {
			continue
		}
		switch string(tok.text) {
		case "begincodespacerange":
			for {
				lo, hi := lx.next(), lx.next()
				if lo.kind != tokString || hi.kind != tokString {
					break
				}
				if n := len(lo.text); n >= 1 && n <= 4 && len(hi.text) == n {
					t.spaces = append(t.spaces, codespace{n, codeValue(lo.text), codeValue(hi.text)})
				}
				entries++
			}
		case "beginbfchar":
			for {
				src, dst := lx.next(), lx.next()
				if src.kind != tokString {
					break
				}
				if n := len(src.text); n >= 1 && n <= 4 {
					if s, ok := cmapTarget(dst); ok {
						t.chars[cmapKey{n, codeValue(src.text)}] = s
					}
				}
				entries++
			}
		case "beginbfrange":
			for {
				lo, hi := lx.next(), lx.next()
				if lo.kind != tokString || hi.kind != tokString {
					break
				}
				r := cmapRange{n: len(lo.text), lo: codeValue(lo.text), hi: codeValue(hi.text)}
				dst := lx.next()
				switch dst.kind {
				case tokString:
					r.first = []rune(utf16BE(dst.text))
				case tokArrayStart:
					r.list = []string{}
					for el := lx.next(); el.kind != tokArrayEnd && el.kind != tokEOF; el = lx.next() {
						if s, ok := cmapTarget(el); ok && len(r.list) < maxCMapArray {
							r.list = append(r.list, s)
						}
					}
				}
				if r.n >= 1 && r.n <= 4 && len(hi.text) == r.n && r.lo <= r.hi {
					t.ranges = append(t.ranges, r)
				}
				entries++
			}
		}
	}
}

// cmapTarget is the text a bfchar or bfrange destination stands for: UTF-16BE
// in a string, or a glyph name.
func cmapTarget(tok token) (string, bool) {
	switch tok.kind {
	case tokString:
		return utf16BE(tok.text), true
	case tokName:
		if r, ok := glyphRune(string(tok.text)); ok {
			return string(r), true
		}
	}
	return "", false
}

func utf16BE(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	return string(utf16.Decode(u))
}

// simpleEncoding returns the code table of a simple font whose /Encoding
// names base (a predefined encoding, "" for the font's built-in one, taken
// to be StandardEncoding) and whose /Differences are diffs.
func simpleEncoding(base string, diffs []token) *[256]rune {
	var enc [256]rune
	for c := 0x20; c < 0x7F; c++ {
		enc[c] = rune(c)
	}
	switch base {
	case "WinAnsiEncoding", "PDFDocEncoding":
		// PDFDocEncoding differs from WinAnsi only in codes text rarely uses.
		for i, r := range []rune(winAnsiHigh) {
			if r != utf8.RuneError {
				enc[0x80+i] = r
			}
		}
		for c := 0xA0; c <= 0xFF; c++ {
			enc[c] = rune(c)
		}
	case "MacRomanEncoding":
		for i, r := range []rune(macRomanHigh) {
			enc[0x80+i] = r
		}
	default:
		enc['\''] = '\u2019'
		enc['`'] = '\u2018'
		for c, r := range standardHigh {
			enc[c] = r
		}
	}

	code := -1
	for _, tok := range diffs {
		switch tok.kind {
		case tokNumber:
			code = int(tok.num)
		case tokName:
			if code >= 0 && code < 256 {
				if r, ok := glyphRune(string(tok.text)); ok {
					enc[code] = r
				} else {
					enc[code] = 0 // a glyph we cannot name: show nothing rather than a wrong letter
				}
			}
			code++
		}
	}
	return &enc
}

// glyphRune resolves a glyph name: single letters and digits stand for
// themselves, uniXXXX and uXXXX[XX] carry their code point, and common names
// come from glyphNames. Suffixes like ".sc" or ".alt" are ignored.
func glyphRune(name string) (rune, bool) {
	if i := strings.IndexByte(name, '.'); i > 0 {
		name = name[:i]
	}
	if r, ok := glyphNames[name]; ok {
		return r, true
	}
	if len(name) == 1 {
		c := name[0]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			return rune(c), true
		}
	}
	var hex string
	switch {
	case strings.HasPrefix(name, "uni") && len(name) == 7:
		hex = name[3:]
	case strings.HasPrefix(name, "u") && len(name) >= 5 && len(name) <= 7:
		hex = name[1:]
	default:
		return 0, false
	}
	v, err := strconv.ParseUint(hex, 16, 32)
	if err != nil || v == 0 || v > utf8.MaxRune || (v >= 0xD800 && v <= 0xDFFF) {
		return 0, false
	}
	return rune(v), true
}
