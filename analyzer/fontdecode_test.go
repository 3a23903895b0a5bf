package analyzer

import (
	"testing"
)

const testCMap = `/CIDInit /ProcSet findresource begin
12 dict begin begincmap
1 begincodespacerange <0000> <FFFF> endcodespacerange
3 beginbfchar
<0003> <0020>
<0011> <D83DDE00>
<0012> /emdash
endbfchar
2 beginbfrange
<0024> <0026> <0041>
<0030> <0031> [<0066006C> <2014>]
endbfrange
endcmap CMapName currentdict /CMap defineresource pop end end`

func TestToUnicodeDecode(t *testing.T) {
	t.Parallel()
	dec := &fontDecoder{composite: true, toUnicode: parseToUnicode([]byte(testCMap))}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"range", []byte{0, 0x24, 0, 0x25, 0, 0x26}, "ABC"},
		{"char and space", []byte{0, 0x24, 0, 0x03, 0, 0x26}, "A C"},
		{"surrogate pair", []byte{0, 0x11}, "😀"},
		{"glyph name", []byte{0, 0x12}, "—"},
		{"array range", []byte{0, 0x30, 0, 0x31}, "fl—"},
		{"unmapped", []byte{0, 0x99, 0, 0x24}, "A"},
		{"odd byte", []byte{0, 0x24, 0x26}, "A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := &textWriter{max: 1 << 10}
			r := dec.decode(tt.in, w)
			if got := w.String(); got != tt.want {
				t.Errorf("decode(% x) = %q, want %q", tt.in, got, tt.want)
			}
			if r.codes != (len(tt.in)+1)/2 {
				t.Errorf("decode(% x) counted %d codes, want %d", tt.in, r.codes, (len(tt.in)+1)/2)
			}
		})
	}
}

func TestSimpleEncoding(t *testing.T) {
	t.Parallel()
	diffs := []token{
		{kind: tokNumber, num: 0x41}, {kind: tokName, text: []byte("eacute")}, {kind: tokName, text: []byte("uni2022")},
		{kind: tokName, text: []byte("g17")}, {kind: tokName, text: []byte("f.sc")},
	}
	tests := []struct {
		base  string
		diffs []token
		code  byte
		want  rune
	}{
		{"WinAnsiEncoding", nil, 'a', 'a'},
		{"WinAnsiEncoding", nil, 0x93, '“'},
		{"WinAnsiEncoding", nil, 0xE9, 'é'},
		{"WinAnsiEncoding", nil, 0x81, 0},
		{"MacRomanEncoding", nil, 0x8E, 'é'},
		{"MacRomanEncoding", nil, 0xD0, '–'},
		{"", nil, '\'', '’'},
		{"", nil, 0xAE, 'ﬁ'},
		{"WinAnsiEncoding", diffs, 0x41, 'é'},
		{"WinAnsiEncoding", diffs, 0x42, '•'},
		{"WinAnsiEncoding", diffs, 0x43, 0},
		{"WinAnsiEncoding", diffs, 0x44, 'f'},
		{"WinAnsiEncoding", diffs, 0x45, 'E'},
	}
	for _, tt := range tests {
		if got := simpleEncoding(tt.base, tt.diffs)[tt.code]; got != tt.want {
			t.Errorf("simpleEncoding(%q, %d diffs)[%#x] = %q, want %q", tt.base, len(tt.diffs), tt.code, got, tt.want)
		}
	}
}

func TestGlyphRune(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want rune
		ok   bool
	}{
		{"a", 'a', true},
		{"Z", 'Z', true},
		{"seven", '7', true},
		{"quoteright", '’', true},
		{"Lslash", 'Ł', true},
		{"uni20AC", '€', true},
		{"u1F600", '😀', true},
		{"uniD800", 0, false},
		{"g123", 0, false},
		{"", 0, false},
		{"fi.alt", 'ﬁ', true},
	}
	for _, tt := range tests {
		if got, ok := glyphRune(tt.name); got != tt.want || ok != tt.ok {
			t.Errorf("glyphRune(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParseToUnicode checks that any CMap parses and decodes without panicking.
func FuzzParseToUnicode(f *testing.F) {
	f.Add([]byte(testCMap), []byte{0, 0x24, 0, 0x30})
	f.Add([]byte("1 beginbfrange <00> <FF> [<0041>] endbfrange"), []byte{0xff, 0})
	f.Add([]byte("1 begincodespacerange <00> <80> <8140> <FFFF> endcodespacerange"), []byte{0x81, 0x40, 0x20})
	f.Fuzz(func(t *testing.T, cmap, text []byte) {
		dec := &fontDecoder{toUnicode: parseToUnicode(cmap)}
		dec.decode(text, &textWriter{max: 1 << 16})
	})
}
