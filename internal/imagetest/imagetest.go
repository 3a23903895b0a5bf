// Package imagetest writes the image files the tests of images as documents
// need, from the standard library's encoders and, for what those do not
// write (a TIFF of several pages, an EXIF orientation tag), a few bytes
// laid out by hand.
package imagetest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// Picture returns a w x h RGB picture whose left half is red and right
// half blue, so that a test sees which way it was turned.
func Picture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{R: 220, G: 20, B: 20, A: 255}
			if x >= w/2 {
				c = color.RGBA{R: 20, G: 20, B: 220, A: 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// PNG returns Picture(w, h) as a PNG.
func PNG(w, h int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, Picture(w, h)); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// JPEG returns Picture(w, h) as a JPEG, with an EXIF block whose
// Orientation tag is orientation (1 to 8) when that is not 0.
func JPEG(w, h, orientation int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, Picture(w, h), &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	if orientation == 0 {
		return b.Bytes()
	}
	// APP1: "Exif\0\0", then the TIFF structure.
	seg := append([]byte("Exif\x00\x00"), EXIF(orientation)...)
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}
	out = append(out, seg...)
	return append(out, b.Bytes()[2:]...)
}

// TIFF returns a little-endian baseline TIFF with one uncompressed 8-bit
// gray page per picture, each IFD followed by the next.
func TIFF(pages ...*image.Gray) []byte {
	le := binary.LittleEndian
	b := []byte("II\x2A\x00\x00\x00\x00\x00")
	prevNext := 4 // where the offset of the next IFD goes
	for _, p := range pages {
		w, h := p.Bounds().Dx(), p.Bounds().Dy()
		strip := len(b)
		for y := range h {
			b = append(b, p.Pix[y*p.Stride:y*p.Stride+w]...)
		}
		if len(b)%2 == 1 {
			b = append(b, 0)
		}
		ifd := len(b)
		le.PutUint32(b[prevNext:], uint32(ifd))
		b, prevNext = appendIFD(b, w, h, strip, w*h)
	}
	return b
}

// ManyPageTIFF returns a TIFF of n 1x1 gray pages that share one strip:
// 90 bytes a page.
func ManyPageTIFF(n int) []byte {
	le := binary.LittleEndian
	b := []byte("II\x2A\x00\x08\x00\x00\x00")
	b = append(b, 0x80, 0) // the strip, and a pad byte
	le.PutUint32(b[4:], uint32(len(b)))
	for i := range n {
		var next int
		b, next = appendIFD(b, 1, 1, 8, 1)
		if i < n-1 {
			le.PutUint32(b[next:], uint32(len(b)))
		}
	}
	return b
}

// appendIFD appends the IFD of an uncompressed 8-bit gray page whose strip
// of size bytes is at offset strip, and returns where its next-IFD offset
// is.
func appendIFD(b []byte, w, h, strip, size int) ([]byte, int) {
	le := binary.LittleEndian
	type entry struct {
		tag, typ uint16
		value    uint32
	}
	const short, long = 3, 4
	es := []entry{
		{256, long, uint32(w)}, {257, long, uint32(h)}, {258, short, 8},
		{262, short, 1}, // BlackIsZero
		{273, long, uint32(strip)}, {278, long, uint32(h)}, {279, long, uint32(size)},
	}
	b = le.AppendUint16(b, uint16(len(es)))
	for _, e := range es {
		b = le.AppendUint16(b, e.tag)
		b = le.AppendUint16(b, e.typ)
		b = le.AppendUint32(b, 1)
		if e.typ == short {
			b = le.AppendUint16(b, uint16(e.value))
			b = le.AppendUint16(b, 0)
		} else {
			b = le.AppendUint32(b, e.value)
		}
	}
	next := len(b)
	return le.AppendUint32(b, 0), next
}

// Gray returns a w x h gray picture of one shade.
func Gray(w, h int, shade uint8) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = shade
	}
	return g
}

// PNGHeader returns the signature and IHDR chunk of a w x h RGBA PNG and
// nothing else: the first bytes of a pixel bomb, or of a PNG of no size.
func PNGHeader(w, h uint32) []byte {
	be := binary.BigEndian
	ihdr := be.AppendUint32(be.AppendUint32([]byte("IHDR"), w), h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8 bits, RGBA, deflate, no filter, no interlace
	b := be.AppendUint32([]byte("\x89PNG\r\n\x1a\n"), 13)
	b = append(b, ihdr...)
	return be.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

// EXIF returns an EXIF block (a big-endian TIFF structure) whose IFD0
// holds only an Orientation tag.
func EXIF(orientation int) []byte {
	be := binary.BigEndian
	t := []byte("MM\x00\x2A\x00\x00\x00\x08")
	t = be.AppendUint16(t, 1) // one entry: Orientation, SHORT, count 1
	for _, v := range []uint16{0x0112, 3, 0, 1, uint16(orientation), 0} {
		t = be.AppendUint16(t, v)
	}
	return be.AppendUint32(t, 0) // no next IFD
}

// PNGOriented returns PNG(w, h) with an eXIf chunk, after IHDR, whose
// Orientation tag is orientation.
func PNGOriented(w, h, orientation int) []byte {
	p := PNG(w, h)
	exif := EXIF(orientation)
	be := binary.BigEndian
	chunk := be.AppendUint32(nil, uint32(len(exif)))
	chunk = append(chunk, "eXIf"...)
	chunk = append(chunk, exif...)
	chunk = be.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	const afterIHDR = 8 + 8 + 13 + 4
	return append(append(append([]byte{}, p[:afterIHDR]...), chunk...), p[afterIHDR:]...)
}

// WebPOriented returns webp with an EXIF chunk appended whose Orientation
// tag is orientation, and the RIFF size fixed.
func WebPOriented(webp []byte, orientation int) []byte {
	exif := EXIF(orientation)
	le := binary.LittleEndian
	out := append([]byte{}, webp...)
	if len(out)%2 == 1 {
		out = append(out, 0)
	}
	out = append(out, "EXIF"...)
	out = le.AppendUint32(out, uint32(len(exif)))
	out = append(out, exif...)
	if len(out)%2 == 1 {
		out = append(out, 0)
	}
	le.PutUint32(out[4:], uint32(len(out)-8))
	return out
}
