package analyzer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// textWriter accumulates extracted text up to max bytes. Spaces and line
// breaks are held back until the next visible character, so that runs are
// separated by at most one of them and the text never ends in whitespace.
type textWriter struct {
	b         strings.Builder
	max       int
	truncated bool
	// pending is the separator to write before the next character: 0, ' ' or '\n'.
	pending rune
}

func (w *textWriter) writeString(s string) {
	for _, r := range s {
		w.writeRune(r)
	}
}

func (w *textWriter) writeRune(r rune) {
	switch {
	case r == ' ' || r == '\t' || r == '\u00a0':
		w.space()
	case r == '\n' || r == '\r':
		w.newline()
	case unicode.IsControl(r) || r == '\ufffd':
		// Codes mapped to nothing printable.
	default:
		w.put(r)
	}
}

// space separates words.
func (w *textWriter) space() {
	if w.b.Len() > 0 && w.pending == 0 {
		w.pending = ' '
	}
}

// newline ends the current line; a space already pending is dropped.
func (w *textWriter) newline() {
	if w.b.Len() > 0 {
		w.pending = '\n'
	}
}

func (w *textWriter) put(r rune) {
	if w.truncated {
		return
	}
	if w.b.Len()+2*utf8.UTFMax > w.max {
		w.truncated = true
		return
	}
	if w.pending != 0 {
		w.b.WriteRune(w.pending)
		w.pending = 0
	}
	w.b.WriteRune(r)
}

// String returns the text written so far.
func (w *textWriter) String() string { return w.b.String() }
