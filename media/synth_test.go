package media_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"strings"
	"sync"
)

// synthPDF describes a generated PDF: every page has one text content
// stream and one small JPEG image XObject of its own, like the files the
// splitting figures in BASELINES.md were measured on.
type synthPDF struct {
	Pages int
	// Nested puts pages under intermediate /Pages nodes of up to 10 kids
	// that carry the inheritable attributes (/Resources, /Rotate, /CropBox;
	// /MediaBox on the root), so that no page dict has them itself.
	// Otherwise all pages hang off the root as one flat /Kids array, which
	// is what simple generators write and the worst case for page lookups.
	Nested bool
}

// pageText is the line of text drawn on page n; tests compare it with what
// pdftotext extracts.
func pageText(n int) string {
	return fmt.Sprintf("Synthetic page %d says hello", n)
}

var (
	synthJPEGOnce sync.Once
	synthJPEG     []byte
)

// noiseJPEG returns a 176x132 JPEG of seeded noise, about 9 KB: noise does
// not compress, so the file grows with the page count as real scans do.
func noiseJPEG() []byte {
	synthJPEGOnce.Do(func() {
		img := image.NewRGBA(image.Rect(0, 0, 176, 132))
		r := rand.New(rand.NewPCG(1, 2))
		for y := range 132 {
			for x := range 176 {
				img.Set(x, y, color.RGBA{uint8(r.IntN(256)), uint8(x * 2), uint8(y * 2), 255})
			}
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 70}); err != nil {
			panic(err)
		}
		synthJPEG = b.Bytes()
	})
	return synthJPEG
}

// Bytes writes the PDF by hand, with a classic xref table.
func (s synthPDF) Bytes() []byte {
	jpg := noiseJPEG()
	var b bytes.Buffer
	b.Grow(s.Pages * (len(jpg) + 600))
	var offsets []int // offsets[i] is where object i+1 starts
	obj := func(body string) int {
		offsets = append(offsets, b.Len())
		n := len(offsets)
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, body)
		return n
	}
	// Objects 1..3 are fixed; object numbers of the rest are computed, so
	// they are reserved here and written in order.
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	const catalog, root, font = 1, 2, 3
	firstPage := 4 // page i (0-based) uses objects firstPage+3i .. +2
	pageObj := func(i int) int { return firstPage + 3*i }
	nodes := (s.Pages + 9) / 10
	firstNode := firstPage + 3*s.Pages // intermediate /Pages nodes when Nested

	obj("<< /Type /Catalog /Pages 2 0 R >>")
	var kids strings.Builder
	if s.Nested {
		for j := range nodes {
			fmt.Fprintf(&kids, "%d 0 R ", firstNode+j)
		}
		obj(fmt.Sprintf("<< /Type /Pages /Count %d /MediaBox [0 0 612 792] /Kids [%s] >>", s.Pages, kids.String()))
	} else {
		for i := range s.Pages {
			fmt.Fprintf(&kids, "%d 0 R ", pageObj(i))
		}
		obj(fmt.Sprintf("<< /Type /Pages /Count %d /Kids [%s] >>", s.Pages, kids.String()))
	}
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")

	for i := range s.Pages {
		n := i + 1
		parent := root
		if s.Nested {
			parent = firstNode + i/10
		}
		content := fmt.Sprintf("q 256 0 0 192 72 400 cm /Im%d Do Q\nBT /F1 18 Tf 72 700 Td (%s) Tj ET\n", n, pageText(n))
		if s.Nested {
			obj(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /Contents %d 0 R >>", parent, pageObj(i)+1))
		} else {
			obj(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "+
				"/Resources << /Font << /F1 %d 0 R >> /XObject << /Im%d %d 0 R >> >> >>",
				parent, pageObj(i)+1, font, n, pageObj(i)+2))
		}
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", len(content), content))
		obj(fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width 176 /Height 132 /ColorSpace /DeviceRGB "+
			"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n%s\nendstream", len(jpg), jpg))
	}
	if s.Nested {
		for j := range nodes {
			var k strings.Builder
			count := 0
			for i := j * 10; i < min(s.Pages, j*10+10); i++ {
				fmt.Fprintf(&k, "%d 0 R ", pageObj(i))
				count++
			}
			// Every other node rotates its pages, so Rotate inheritance shows.
			rotate := ""
			if j%2 == 1 {
				rotate = "/Rotate 90 "
			}
			var xo strings.Builder
			for i := j * 10; i < min(s.Pages, j*10+10); i++ {
				fmt.Fprintf(&xo, "/Im%d %d 0 R ", i+1, pageObj(i)+2)
			}
			obj(fmt.Sprintf("<< /Type /Pages /Parent %d 0 R /Count %d /Kids [%s] %s/CropBox [10 10 602 782] "+
				"/Resources << /Font << /F1 %d 0 R >> /XObject << %s>> >> >>",
				root, count, k.String(), rotate, font, xo.String()))
		}
	}

	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, catalog, xref)
	return b.Bytes()
}
