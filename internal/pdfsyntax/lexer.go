package pdfsyntax

import (
	"bytes"
	"strconv"
)

// Kind is the kind of a token.
type Kind uint8

// Token kinds.
const (
	EOF Kind = iota
	Number
	String // a literal (...) or hex <...> string, decoded to its bytes
	Name   // a /Name, without the slash, #xx escapes decoded
	ArrayStart
	ArrayEnd
	DictStart
	DictEnd
	Keyword // an operator, true/false/null, or anything unrecognized
)

// MaxArray bounds the elements ReadArray keeps of one array.
const MaxArray = 1 << 14

// Token is one PDF syntax token. Text aliases the lexer's input for keywords
// and unescaped names; strings and escaped names are copies. Num is set for
// numbers only.
type Token struct {
	Kind Kind
	Num  float64
	Text []byte
}

// Lexer splits content streams into tokens (PDF 32000-1:2008, 7.2). It never
// fails: bytes it cannot make sense of come out as keywords, which the
// interpreters skip, and every call to Next consumes at least one byte until
// EOF.
type Lexer struct {
	data []byte
	pos  int
}

// NewLexer returns a lexer of data.
func NewLexer(data []byte) *Lexer { return &Lexer{data: data} }

// IsSpace reports whether c is PDF white space.
func IsSpace(c byte) bool {
	switch c {
	case 0, '\t', '\n', '\f', '\r', ' ':
		return true
	}
	return false
}

// IsDelimiter reports whether c is a PDF delimiter.
func IsDelimiter(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func isRegular(c byte) bool { return !IsSpace(c) && !IsDelimiter(c) }

// Next returns the next token, EOF at the end of the input.
func (lx *Lexer) Next() Token {
	for lx.pos < len(lx.data) {
		c := lx.data[lx.pos]
		switch {
		case IsSpace(c):
			lx.pos++
		case c == '%':
			for lx.pos < len(lx.data) && lx.data[lx.pos] != '\n' && lx.data[lx.pos] != '\r' {
				lx.pos++
			}
		case c == '(':
			lx.pos++
			return Token{Kind: String, Text: lx.literalString()}
		case c == '<':
			if lx.pos+1 < len(lx.data) && lx.data[lx.pos+1] == '<' {
				lx.pos += 2
				return Token{Kind: DictStart}
			}
			lx.pos++
			return Token{Kind: String, Text: lx.hexString()}
		case c == '>':
			if lx.pos+1 < len(lx.data) && lx.data[lx.pos+1] == '>' {
				lx.pos += 2
				return Token{Kind: DictEnd}
			}
			lx.pos++ // a stray '>'
		case c == '[':
			lx.pos++
			return Token{Kind: ArrayStart}
		case c == ']':
			lx.pos++
			return Token{Kind: ArrayEnd}
		case c == '/':
			lx.pos++
			return Token{Kind: Name, Text: decodeName(lx.regularRun())}
		case c == ')' || c == '{' || c == '}':
			lx.pos++
			return Token{Kind: Keyword, Text: lx.data[lx.pos-1 : lx.pos]}
		default:
			run := lx.regularRun()
			if looksNumeric(run) {
				if f, err := strconv.ParseFloat(string(run), 64); err == nil {
					return Token{Kind: Number, Num: f, Text: run}
				}
			}
			return Token{Kind: Keyword, Text: run}
		}
	}
	return Token{Kind: EOF}
}

// ReadArray reads the elements of an array whose '[' was just read, at most
// MaxArray of them. Nested arrays and dictionaries, which no text or XObject
// operator takes, are skipped, without recursion: nesting depth is up to
// the file.
func (lx *Lexer) ReadArray() []Token {
	var out []Token
	for depth := 1; ; {
		tok := lx.Next()
		switch tok.Kind {
		case EOF:
			return out
		case ArrayEnd:
			if depth--; depth == 0 {
				return out
			}
		case ArrayStart:
			depth++
		case DictStart:
			lx.SkipDict()
		default:
			if depth == 1 && len(out) < MaxArray {
				out = append(out, tok)
			}
		}
	}
}

// SkipDict moves past a dictionary whose '<<' was just read.
func (lx *Lexer) SkipDict() {
	for depth := 1; depth > 0; {
		switch lx.Next().Kind {
		case EOF:
			return
		case DictStart:
			depth++
		case DictEnd:
			depth--
		}
	}
}

// SkipInlineImage moves past the binary data of an inline image, which
// starts after the ID operator and ends at an EI operator that stands
// between whitespace (or the end of the stream).
func (lx *Lexer) SkipInlineImage() {
	if lx.pos < len(lx.data) && IsSpace(lx.data[lx.pos]) {
		lx.pos++
	}
	for i := lx.pos; i+1 < len(lx.data); i++ {
		if lx.data[i] != 'E' || lx.data[i+1] != 'I' {
			continue
		}
		before := i == lx.pos || IsSpace(lx.data[i-1])
		after := i+2 == len(lx.data) || IsSpace(lx.data[i+2]) || IsDelimiter(lx.data[i+2])
		if before && after {
			lx.pos = i + 2
			return
		}
	}
	lx.pos = len(lx.data)
}

// regularRun returns the run of regular characters at the current position.
func (lx *Lexer) regularRun() []byte {
	start := lx.pos
	for lx.pos < len(lx.data) && isRegular(lx.data[lx.pos]) {
		lx.pos++
	}
	return lx.data[start:lx.pos]
}

func looksNumeric(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	c := b[0]
	return c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9')
}

// decodeName resolves #xx escapes in a name.
func decodeName(b []byte) []byte {
	if bytes.IndexByte(b, '#') < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '#' && i+2 < len(b) {
			if v, ok := hexByte(b[i+1], b[i+2]); ok {
				out = append(out, v)
				i += 2
				continue
			}
		}
		out = append(out, b[i])
	}
	return out
}

func hexNibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func hexByte(hi, lo byte) (byte, bool) {
	h, ok1 := hexNibble(hi)
	l, ok2 := hexNibble(lo)
	return h<<4 | l, ok1 && ok2
}

// literalString reads a (...) string after its opening parenthesis,
// honoring nesting and escapes. An unterminated string runs to the end.
func (lx *Lexer) literalString() []byte {
	var out []byte
	depth := 1
	for lx.pos < len(lx.data) {
		c := lx.data[lx.pos]
		lx.pos++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return out
			}
		case '\\':
			if lx.pos >= len(lx.data) {
				return out
			}
			e := lx.data[lx.pos]
			lx.pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r': // a line continuation
				if lx.pos < len(lx.data) && lx.data[lx.pos] == '\n' {
					lx.pos++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for i := 0; i < 2 && lx.pos < len(lx.data); i++ {
						d := lx.data[lx.pos]
						if d < '0' || d > '7' {
							break
						}
						v = v*8 + int(d-'0')
						lx.pos++
					}
					c = byte(v)
				} else {
					c = e // \( \) \\ and unknown escapes stand for the character
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// hexString reads a <...> string after its opening bracket. Whitespace and
// invalid digits are skipped; an odd final digit is padded with 0.
func (lx *Lexer) hexString() []byte {
	var (
		out    []byte
		hi     byte
		haveHi bool
	)
	for lx.pos < len(lx.data) {
		c := lx.data[lx.pos]
		lx.pos++
		if c == '>' {
			break
		}
		v, ok := hexNibble(c)
		if !ok {
			continue
		}
		if haveHi {
			out = append(out, hi<<4|v)
			haveHi = false
		} else {
			hi, haveHi = v, true
		}
	}
	if haveHi {
		out = append(out, hi<<4)
	}
	return out
}
