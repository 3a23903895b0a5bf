package media

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"math"
	"strconv"
)

// maxPageSide is the largest page side PDF readers take, in points (PDF
// 1.7, annex C: 14,400 units); a larger picture is drawn on a page scaled
// down to it.
const maxPageSide = 14400

// pdfImage is the picture of one page: either a JPEG's bytes (dct), or
// pixels, 8 bits a channel, gray or RGB, row by row.
type pdfImage struct {
	w, h   int
	gray   bool
	dct    []byte
	pixels []byte
}

// imagePDF writes a one-page PDF whose page shows im, one pixel to a point
// (scaled down to fit maxPageSide): a catalog, a page tree, the page, the
// image XObject and the content stream that draws it, with a classic xref
// table.
func imagePDF(im pdfImage) []byte {
	scale := min(1, float64(maxPageSide)/float64(max(im.w, im.h)))
	pw, ph := float64(im.w)*scale, float64(im.h)*scale
	space := "/DeviceRGB"
	if im.gray {
		space = "/DeviceGray"
	}
	stream, filter := im.dct, "/DCTDecode"
	if stream == nil {
		var z bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
		_, _ = zw.Write(im.pixels) // a bytes.Buffer does not fail
		_ = zw.Close()
		stream, filter = z.Bytes(), "/FlateDecode"
	}
	content := fmt.Sprintf("q %s 0 0 %s 0 0 cm /Im0 Do Q", num(pw), num(ph))

	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n")
	var offsets []int
	obj := func(body string, data []byte) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s", len(offsets), body)
		if data != nil {
			b.WriteString("\nstream\n")
			b.Write(data)
			b.WriteString("\nendstream")
		}
		b.WriteString("\nendobj\n")
	}
	obj("<</Type/Catalog/Pages 2 0 R>>", nil)
	obj("<</Type/Pages/Kids[3 0 R]/Count 1>>", nil)
	obj(fmt.Sprintf("<</Type/Page/Parent 2 0 R/MediaBox[0 0 %s %s]/Resources<</XObject<</Im0 4 0 R>>>>/Contents 5 0 R>>",
		num(pw), num(ph)), nil)
	obj(fmt.Sprintf("<</Type/XObject/Subtype/Image/Width %d/Height %d/ColorSpace%s/BitsPerComponent 8/Filter%s/Length %d>>",
		im.w, im.h, space, filter, len(stream)), stream)
	obj(fmt.Sprintf("<</Length %d>>", len(content)), []byte(content))

	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

// num writes a PDF number: an integer when it is one, else with up to
// three decimals.
func num(f float64) string {
	return strconv.FormatFloat(math.Round(f*1000)/1000, 'f', -1, 64)
}
