package analyzer_test

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkFrameFacts: the local analysis of one JPEG frame.
func BenchmarkFrameFacts(b *testing.B) {
	l := newLocal(b)
	for _, size := range [][2]int{{640, 360}, {1920, 1080}} {
		b.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(b *testing.B) {
			u := frameUnit(0, 0, encodeJPEG(b, picture(size[0], size[1], checker(8))), "image/jpeg")
			for b.Loop() {
				if _, err := l.Analyze(context.Background(), u); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
