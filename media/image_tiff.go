package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
)

// TIFF structure, read by hand only as far as x/image/tiff does not go: it
// decodes the first image of a file, and mmq wants every page of a fax and
// the orientation tag, which JPEG's EXIF block stores as a TIFF too.

const (
	tiffTagOrientation = 0x0112
	tiffTypeShort      = 3
	// maxTIFFPages bounds the walk of a TIFF's IFD chain whatever the
	// limits: a chain of 10,000 pages is refused once it passes the job's
	// page limit, and a loop once an offset comes back.
	maxTIFFPages = 1 << 16
)

var errBadTIFF = errors.New("media: malformed TIFF structure")

// tiffHeader reads a TIFF header: its byte order and first IFD offset.
func tiffHeader(b []byte) (binary.ByteOrder, uint32, error) {
	if len(b) < 8 {
		return nil, 0, errBadTIFF
	}
	var order binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return nil, 0, errBadTIFF
	}
	if order.Uint16(b[2:4]) != 42 {
		// 43 is BigTIFF, which x/image/tiff does not read.
		return nil, 0, errBadTIFF
	}
	return order, order.Uint32(b[4:8]), nil
}

// tiffIFDs returns the offsets of the IFDs of a TIFF, one per page, at
// most limit+1 of them (so that a caller sees a file over its limit
// without walking a chain of millions). A loop or an offset outside the
// file is errBadTIFF.
func tiffIFDs(b []byte, order binary.ByteOrder, first uint32, limit int) ([]uint32, error) {
	var ifds []uint32
	seen := map[uint32]bool{}
	for off := first; off != 0; {
		if seen[off] || uint64(off)+2 > uint64(len(b)) {
			return nil, errBadTIFF
		}
		seen[off] = true
		ifds = append(ifds, off)
		if len(ifds) > limit {
			return ifds, nil
		}
		n := uint64(order.Uint16(b[off:]))
		next := uint64(off) + 2 + 12*n
		if next+4 > uint64(len(b)) {
			return nil, errBadTIFF
		}
		off = order.Uint32(b[next:])
	}
	if len(ifds) == 0 {
		return nil, errBadTIFF
	}
	return ifds, nil
}

// tiffOrientation returns the Orientation tag (1 to 8) of the IFD at off,
// 1 when it is absent or out of range.
func tiffOrientation(b []byte, order binary.ByteOrder, off uint32) int {
	if uint64(off)+2 > uint64(len(b)) {
		return 1
	}
	n := int(order.Uint16(b[off:]))
	for i := range n {
		e := uint64(off) + 2 + 12*uint64(i)
		if e+12 > uint64(len(b)) {
			return 1
		}
		if order.Uint16(b[e:]) == tiffTagOrientation && order.Uint16(b[e+2:]) == tiffTypeShort {
			if v := int(order.Uint16(b[e+8:])); v >= 1 && v <= 8 {
				return v
			}
		}
	}
	return 1
}

// tiffPage reads a TIFF as if the IFD at ifd were its first, which is the
// image x/image/tiff decodes: the header's offset is patched on the fly,
// without copying the file.
type tiffPage struct {
	data  []byte
	order binary.ByteOrder
	ifd   uint32
}

func (p tiffPage) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("media: negative offset")
	}
	if off >= int64(len(p.data)) {
		return 0, io.EOF
	}
	n := copy(b, p.data[off:])
	var hdr [4]byte
	p.order.PutUint32(hdr[:], p.ifd)
	for i := range hdr {
		if j := 4 + int64(i) - off; j >= 0 && j < int64(n) {
			b[j] = hdr[i]
		}
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// reader returns the page as an io.Reader that is also an io.ReaderAt,
// which x/image/tiff then reads in place.
func (p tiffPage) reader() *io.SectionReader {
	return io.NewSectionReader(p, 0, int64(len(p.data)))
}

// jpegOrientation returns the EXIF orientation of a JPEG (1 to 8), 1 when
// it has none. It walks the marker segments before the image data.
func jpegOrientation(b []byte) int {
	const exifHeader = "Exif\x00\x00"
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			return 1
		}
		marker := b[i+1]
		if marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 || marker == 0xFF {
			i++
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan, end of image
			return 1
		}
		size := int(binary.BigEndian.Uint16(b[i+2:]))
		if size < 2 || i+2+size > len(b) {
			return 1
		}
		seg := b[i+4 : i+2+size]
		if marker == 0xE1 && bytes.HasPrefix(seg, []byte(exifHeader)) {
			return exifOrientation(seg)
		}
		i += 2 + size
	}
	return 1
}

// exifOrientation returns the orientation of an EXIF block (a TIFF
// structure, after the "Exif\0\0" header when it has one), 1 without one.
func exifOrientation(b []byte) int {
	b = bytes.TrimPrefix(b, []byte("Exif\x00\x00"))
	order, ifd0, err := tiffHeader(b)
	if err != nil {
		return 1
	}
	return tiffOrientation(b, order, ifd0)
}

// pngOrientation returns the orientation of a PNG's eXIf chunk, 1 without
// one. The chunk comes before the image data (PNG 1.5 extensions, eXIf).
func pngOrientation(b []byte) int {
	for i := 8; i+12 <= len(b); {
		size := int(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		if size < 0 || size > len(b)-i-12 || typ == "IDAT" {
			return 1
		}
		if typ == "eXIf" {
			return exifOrientation(b[i+8 : i+8+size])
		}
		i += 12 + size
	}
	return 1
}

// webpOrientation returns the orientation of a WebP's EXIF chunk, 1
// without one.
func webpOrientation(b []byte) int {
	for i := 12; i+8 <= len(b); {
		size := int(binary.LittleEndian.Uint32(b[i+4:]))
		if size < 0 || size > len(b)-i-8 {
			return 1
		}
		if string(b[i:i+4]) == "EXIF" {
			return exifOrientation(b[i+8 : i+8+size])
		}
		i += 8 + size + size%2 // chunks are padded to even sizes
	}
	return 1
}
