package analyzer

import (
	"fmt"
	"strings"
	"testing"
)

// tokens lexes src to the end, skipping inline image data after ID, and
// renders every token as kind:text.
func tokens(src string) []string {
	lx := &lexer{data: []byte(src)}
	var out []string
	for tok := lx.next(); tok.kind != tokEOF; tok = lx.next() {
		switch tok.kind {
		case tokNumber:
			out = append(out, fmt.Sprintf("num:%g", tok.num))
		case tokString:
			out = append(out, fmt.Sprintf("str:%q", tok.text))
		case tokName:
			out = append(out, "name:"+string(tok.text))
		case tokArrayStart, tokArrayEnd, tokDictStart, tokDictEnd:
			out = append(out, map[tokenKind]string{tokArrayStart: "[", tokArrayEnd: "]", tokDictStart: "<<", tokDictEnd: ">>"}[tok.kind])
		default:
			out = append(out, "kw:"+string(tok.text))
			if string(tok.text) == "ID" {
				lx.skipInlineImage()
			}
		}
	}
	return out
}

func TestLexer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      []string
	}{
		{"operators", "BT /F1 12 Tf -3.5 .5 Td ET", []string{"kw:BT", "name:F1", "num:12", "kw:Tf", "num:-3.5", "num:0.5", "kw:Td", "kw:ET"}},
		{"literal escapes", `(a\(b\)c\\ \101\n\x)`, []string{`str:"a(b)c\\ A\nx"`}},
		{"nested parens", "(a(b)c)", []string{`str:"a(b)c"`}},
		{"line continuation", "(ab\\\ncd)", []string{`str:"abcd"`}},
		{"hex string", "<48 65 6C6C 6>", []string{"str:\"Hell`\""}},
		{"name escape", "/A#20B/C", []string{"name:A B", "name:C"}},
		{"dict and array", "<< /K [1 (x)] >>", []string{"<<", "name:K", "[", "num:1", `str:"x"`, "]", ">>"}},
		{"comment", "1 % note ) (\n2", []string{"num:1", "num:2"}},
		{"stray delimiters", ") > }", []string{"kw:)", "kw:}"}},
		{"unterminated string", "(abc", []string{`str:"abc"`}},
		{"unterminated hex", "<41", []string{`str:"A"`}},
		{"not a number", "1.2.3 --", []string{"kw:1.2.3", "kw:--"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tokens(tt.src); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("tokens(%q) = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
}

func TestSkipInlineImage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      []string
	}{
		{"EI inside the data", "BI /W 1 ID \x00EIx\xff EI\n(after) Tj", []string{"kw:BI", "name:W", "num:1", "kw:ID", `str:"after"`, "kw:Tj"}},
		{"EI at the end", "BI ID \x01 EI", []string{"kw:BI", "kw:ID"}},
		{"no EI", "BI ID \x01\x02 (lost) Tj", []string{"kw:BI", "kw:ID"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tokens(tt.src); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("tokens(%q) = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
}

// FuzzLexer checks that the lexer ends on any input, without panicking.
func FuzzLexer(f *testing.F) {
	for _, s := range []string{"BT /F1 12 Tf (x) Tj ET", "<< /A [1 2 <41>] >>", "(\\", "<", "/#", "BI ID \x00 EI"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lx := &lexer{data: data}
		for i := 0; ; i++ {
			if i > len(data)+1 {
				t.Fatalf("lexer made %d tokens of %d bytes", i, len(data))
			}
			tok := lx.next()
			if tok.kind == tokEOF {
				return
			}
			if tok.kind == tokKeyword && string(tok.text) == "ID" {
				lx.skipInlineImage()
			}
		}
	})
}

func TestReadArray(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", 1<<20) + strings.Repeat("]", 1<<20)
	tests := []struct {
		name, src string
		want      int
	}{
		{"flat", "(a) -250 (b)] Tj", 3},
		{"nested skipped", "(a) [1 [2]] << /K [3] >> (b)] Tj", 2},
		{"deeply nested", deep[1:] + " Tj", 0},
		{"unterminated", "(a) (b", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lx := &lexer{data: []byte(tt.src)}
			if got := readArray(lx); len(got) != tt.want {
				t.Errorf("readArray kept %d elements, want %d", len(got), tt.want)
			}
		})
	}
}
