package analyzer

import "testing"

func TestTextWriter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		write func(w *textWriter)
		want  string
	}{
		{"separators collapse", func(w *textWriter) {
			w.space()
			w.newline()
			w.writeString("a")
			w.space()
			w.space()
			w.writeString("b")
			w.space()
			w.newline()
			w.newline()
			w.writeString("c")
			w.space()
		}, "a b\nc"},
		{"whitespace runes", func(w *textWriter) { w.writeString("a\tb\u00a0c\r\nd  e") }, "a b c\nd e"},
		{"control and replacement runes", func(w *textWriter) { w.writeString("a\x00\x07b\ufffdc") }, "abc"},
		{"truncated", func(w *textWriter) { w.writeString("0123456789abcdefghij") }, "012345678"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := &textWriter{max: 16}
			tt.write(w)
			if got := w.String(); got != tt.want {
				t.Errorf("text = %q, want %q", got, tt.want)
			}
			if w.truncated != (tt.name == "truncated") {
				t.Errorf("truncated = %v", w.truncated)
			}
		})
	}
}
