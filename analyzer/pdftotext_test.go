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
