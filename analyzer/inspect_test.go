package analyzer_test

import (
	"context"
	"os"
	"testing"

	"github.com/mmq/mmq/analyzer"
)

func TestInspectPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file    string
		w, h    float64
		images  int
		minText int
	}{
		{"letter-text.pdf", 612, 792, 0, 100},
		{"letter-image.pdf", 612, 792, 1, 100},
		{"scan-rotate270.pdf", 0, 0, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			s, err := analyzer.InspectPage(context.Background(), data)
			if err != nil {
				t.Fatal(err)
			}
			if (tt.w != 0 && (s.WidthPt != tt.w || s.HeightPt != tt.h)) || s.Images != tt.images || s.TextChars < tt.minText {
				t.Errorf("shape %+v", s)
			}
		})
	}
	if _, err := analyzer.InspectPage(context.Background(), []byte("not a pdf")); err == nil {
		t.Error("no error for garbage")
	}
}
