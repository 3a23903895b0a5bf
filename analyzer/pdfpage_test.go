package analyzer

import "testing"

func TestNormalizeRotation(t *testing.T) {
	t.Parallel()
	for in, want := range map[int]int{0: 0, 90: 90, 180: 180, 270: 270, 360: 0, 450: 90, -90: 270, -180: 180, 44: 0, 46: 90, -1: 0, 1000: 270} {
		if got := normalizeRotation(in); got != want {
			t.Errorf("normalizeRotation(%d) = %d, want %d", in, got, want)
		}
	}
}
