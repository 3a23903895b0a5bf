package analyzer

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 400)
	tests := []struct {
		name, stderr, want string
	}{
		{"distinct lines", "Syntax Error: a\nSyntax Error: a\n\n  Syntax Warning: b  \n", "Syntax Error: a; Syntax Warning: b"},
		{"empty", "", ""},
		{"cut on a rune", long, long[:maxStderrSummary] + "…"},
	}
	for _, tt := range tests {
		if got := summarize(tt.stderr); got != tt.want {
			t.Errorf("%s: summarize = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestCleanLayoutText(t *testing.T) {
	t.Parallel()
	in := "\n   Title   \n\ncol1    col2  \n\f"
	if got, want := cleanLayoutText(in), "   Title\n\ncol1    col2"; got != want {
		t.Errorf("cleanLayoutText(%q) = %q, want %q", in, got, want)
	}
}

func TestCappedBuffer(t *testing.T) {
	t.Parallel()
	b := &cappedBuffer{max: 5}
	for _, p := range []string{"abc", "def", "gh"} {
		if n, err := b.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write(%q) = %d, %v; want all of it taken", p, n, err)
		}
	}
	if b.String() != "abcde" || !b.truncated {
		t.Errorf("buffer = %q, truncated %v; want \"abcde\", true", b.String(), b.truncated)
	}
}
