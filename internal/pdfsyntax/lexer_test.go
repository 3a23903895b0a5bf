package pdfsyntax

import (
	"fmt"
	"strings"
	"testing"
)

// tokens lexes src to the end, skipping inline image data after ID, and
// renders every token as kind:text.
func tokens(src string) []string {
	lx := NewLexer([]byte(src))
	var out []string
	for tok := lx.Next(); tok.Kind != EOF; tok = lx.Next() {
		switch tok.Kind {
		case Number:
			out = append(out, fmt.Sprintf("num:%g", tok.Num))
		case String:
			out = append(out, fmt.Sprintf("str:%q", tok.Text))
		case Name:
			out = append(out, "name:"+string(tok.Text))
		case ArrayStart, ArrayEnd, DictStart, DictEnd:
			out = append(out, map[Kind]string{ArrayStart: "[", ArrayEnd: "]", DictStart: "<<", DictEnd: ">>"}[tok.Kind])
		default:
			out = append(out, "kw:"+string(tok.Text))
			if string(tok.Text) == "ID" {
				lx.SkipInlineImage()
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
		// Inline image data is skipped up to an EI between white space.
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

// FuzzLexer checks that the lexer ends on any input, without panicking,
// read token by token and as the content scanner reads it (arrays and
// dictionaries taken whole), and that ScanNames does too.
func FuzzLexer(f *testing.F) {
	for _, s := range []string{"BT /F1 12 Tf (x) Tj ET", "<< /A [1 2 <41>] >>", "(\\", "<", "/#", "BI ID \x00 EI", "[(a) [1] << /K [3] >> -250 (b)] TJ"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, whole := range []bool{false, true} {
			lx := NewLexer(data)
			for i := 0; ; i++ {
				if i > len(data)+1 {
					t.Fatalf("lexer (whole %v) made %d tokens of %d bytes", whole, i, len(data))
				}
				tok := lx.Next()
				if tok.Kind == EOF {
					break
				}
				switch {
				case tok.Kind == Keyword && string(tok.Text) == "ID":
					lx.SkipInlineImage()
				case whole && tok.Kind == ArrayStart:
					if n := len(lx.ReadArray()); n > MaxArray {
						t.Fatalf("ReadArray kept %d elements, more than %d", n, MaxArray)
					}
				case whole && tok.Kind == DictStart:
					lx.SkipDict()
				}
			}
		}
		ScanNames(data, map[string]bool{})
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
			lx := NewLexer([]byte(tt.src))
			if got := lx.ReadArray(); len(got) != tt.want {
				t.Errorf("ReadArray kept %d elements, want %d", len(got), tt.want)
			}
		})
	}
}
