package media

import (
	"image"
	"slices"
	"testing"
)

// Each EXIF orientation turns the stored picture upright: a 3x2 gray
// picture numbered 1 to 6 row by row comes out as the tag says it
// should be shown.
func TestOrientedPixels(t *testing.T) {
	t.Parallel()
	g := image.NewGray(image.Rect(0, 0, 3, 2))
	copy(g.Pix, []byte{1, 2, 3, 4, 5, 6})
	tests := []struct {
		orient int
		w, h   int
		want   []byte
	}{
		{1, 3, 2, []byte{1, 2, 3, 4, 5, 6}},
		{2, 3, 2, []byte{3, 2, 1, 6, 5, 4}},
		{3, 3, 2, []byte{6, 5, 4, 3, 2, 1}},
		{4, 3, 2, []byte{4, 5, 6, 1, 2, 3}},
		{5, 2, 3, []byte{1, 4, 2, 5, 3, 6}},
		{6, 2, 3, []byte{4, 1, 5, 2, 6, 3}},
		{7, 2, 3, []byte{6, 3, 5, 2, 4, 1}},
		{8, 2, 3, []byte{3, 6, 2, 5, 1, 4}},
	}
	for _, tt := range tests {
		p := orientedPixels(g, tt.orient)
		if p.w != tt.w || p.h != tt.h || !p.gray || !slices.Equal(p.pixels, tt.want) {
			t.Errorf("orientation %d: %dx%d gray %v %v, want %dx%d %v", tt.orient, p.w, p.h, p.gray, p.pixels, tt.w, tt.h, tt.want)
		}
	}
}

// A picture with transparency is flattened onto white.
func TestOrientedPixelsAlpha(t *testing.T) {
	t.Parallel()
	img := image.NewNRGBA(image.Rect(0, 0, 1, 1)) // transparent black
	if p := orientedPixels(img, 1); p.gray || !slices.Equal(p.pixels, []byte{255, 255, 255}) {
		t.Errorf("transparent pixel: %v, want white", p.pixels)
	}
}
