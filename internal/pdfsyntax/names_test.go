package pdfsyntax

import (
	"slices"
	"testing"
)

func TestScanNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content string
		want          []string
	}{
		{"operators", "/GS1 gs /F1 12 Tf /Im1 Do", []string{"F1", "GS1", "Im1"}},
		{"written and decoded", "/A#20B Do", []string{"A B", "A#20B"}},
		{"delimiters end names", "/CS0 cs/P1 scn[/X]<</Y 1>>", []string{"CS0", "P1", "X", "Y"}},
		// Inside strings and inline image data too: one too many is harmless.
		{"in a string", "(/Fake) Tj", []string{"Fake"}},
		{"in inline image data", "BI /W 1 ID \x00/Im2\x00 EI", []string{"Im2", "W"}},
		{"a bare slash", "/ /", []string{""}},
	}
	for _, tt := range tests {
		names := map[string]bool{}
		ScanNames([]byte(tt.content), names)
		var got []string
		for n := range names {
			got = append(got, n)
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: ScanNames(%q) = %q, want %q", tt.name, tt.content, got, tt.want)
		}
	}
}
