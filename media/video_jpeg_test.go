package media

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"testing"
	"testing/iotest"
)

// testJPEG encodes a w x h gradient.
func testJPEG(t testing.TB, w, h, quality int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), uint8(x ^ y), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withComment inserts a COM segment holding an EOI marker after the SOI:
// a splitter that looks for FFD9 byte by byte cuts the image there.
func withComment(img []byte) []byte {
	com := []byte{0xFF, 0xFE, 0x00, 0x08, 'x', 0xFF, 0xD9, 'y', 0xFF, 0xD9}
	return append(append(append([]byte{}, img[:2]...), com...), img[2:]...)
}

func splitAll(r io.Reader) ([][]byte, error) {
	sp := newJPEGSplitter(r)
	var out [][]byte
	for {
		img, err := sp.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, img)
	}
}

func TestJPEGSplitter(t *testing.T) {
	t.Parallel()
	a, b, c := testJPEG(t, 64, 48, 90), testJPEG(t, 1, 1, 50), withComment(testJPEG(t, 300, 200, 100))
	// Fill bytes before a marker are allowed.
	d := append([]byte{0xFF, 0xD8, 0xFF, 0xFF}, testJPEG(t, 8, 8, 75)[3:]...)
	tests := []struct {
		name   string
		stream []byte
		want   [][]byte
		err    bool
	}{
		{"empty", nil, nil, false},
		{"one", a, [][]byte{a}, false},
		{"several", bytes.Join([][]byte{a, b, c, a}, nil), [][]byte{a, b, c, a}, false},
		{"fill bytes", d, [][]byte{append([]byte{0xFF, 0xD8}, d[3:]...)}, false},
		{"cut in the scan", a[:len(a)-10], nil, true},
		{"cut in a segment", a[:30], nil, true},
		{"cut after an image", append(bytes.Clone(a), 0xFF), [][]byte{a}, true},
		{"no SOI", []byte("not a jpeg at all"), nil, true},
		{"garbage between images", append(append(bytes.Clone(a), 'x', 'x'), a...), [][]byte{a}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// One byte at a time, to cross every buffer boundary.
			for _, r := range []io.Reader{bytes.NewReader(tt.stream), iotest.OneByteReader(bytes.NewReader(tt.stream))} {
				got, err := splitAll(r)
				if (err != nil) != tt.err || (err != nil && !errors.Is(err, errNotJPEG)) {
					t.Fatalf("error %v, want error %v wrapping errNotJPEG", err, tt.err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("%d images, want %d", len(got), len(tt.want))
				}
				for i := range got {
					if !bytes.Equal(got[i], tt.want[i]) {
						t.Errorf("image %d: %d bytes, want %d", i, len(got[i]), len(tt.want[i]))
					}
					if _, err := jpeg.Decode(bytes.NewReader(got[i])); err != nil {
						t.Errorf("image %d does not decode: %v", i, err)
					}
				}
			}
		})
	}
}

// FuzzJPEGSplitter: any stream ends in images and an error or io.EOF, never
// a panic or a loop, and the images it yields are the stream's prefix.
func FuzzJPEGSplitter(f *testing.F) {
	a := testJPEG(f, 16, 16, 80)
	f.Add(a)
	f.Add(append(bytes.Clone(a), a...))
	f.Add(withComment(a))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0x00, 0xFF, 0xD0, 0xFF, 0xD9})
	f.Fuzz(func(t *testing.T, stream []byte) {
		got, _ := splitAll(bytes.NewReader(stream))
		if joined := bytes.Join(got, nil); !bytes.HasPrefix(stream, joined) && len(joined) > 0 {
			// Fill bytes are dropped; otherwise the images are the stream.
			if len(joined) > len(stream) {
				t.Fatalf("split %d bytes out of %d", len(joined), len(stream))
			}
		}
	})
}
