package media

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// maxJPEGBytes bounds one frame read from ffmpeg: an 8192x8192 frame at
// the best quality stays well below it.
const maxJPEGBytes = 256 << 20

// errNotJPEG is the cause when ffmpeg's output is not a stream of JPEGs.
var errNotJPEG = errors.New("media: ffmpeg output is not a JPEG stream")

// jpegSplitter cuts a stream of concatenated JPEG images, as ffmpeg's
// image2pipe muxer writes them, into single images. It follows the marker
// segments by their lengths and scans only the entropy-coded data after each
// start-of-scan for the next marker, so that bytes that look like an EOI
// inside a segment (an EXIF thumbnail, a comment) do not cut an image short.
type jpegSplitter struct {
	r *bufio.Reader
	// hint is the size of the previous image, to allocate the next at once.
	hint int
}

func newJPEGSplitter(r io.Reader) *jpegSplitter {
	return &jpegSplitter{r: bufio.NewReaderSize(r, 64<<10), hint: 64 << 10}
}

// next returns the next image, io.EOF at the clean end of the stream, or
// an error wrapping errNotJPEG or io.ErrUnexpectedEOF for a stream that
// breaks off or is no JPEG.
func (s *jpegSplitter) next() ([]byte, error) {
	var soi [2]byte
	if _, err := io.ReadFull(s.r, soi[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%w: %w", errNotJPEG, err)
	}
	if soi != [2]byte{0xFF, 0xD8} {
		return nil, fmt.Errorf("%w: no start-of-image marker", errNotJPEG)
	}
	img := make([]byte, 0, s.hint)
	img = append(img, 0xFF, 0xD8)
	// after is the marker that ended a scan, already read.
	var after byte
	for {
		m := after
		if m == 0 {
			var err error
			if m, err = s.marker(); err != nil {
				return nil, err
			}
		}
		after = 0
		if m == 0xD8 {
			return nil, fmt.Errorf("%w: start-of-image inside an image", errNotJPEG)
		}
		img = append(img, 0xFF, m)
		switch {
		case m == 0xD9: // EOI
			s.hint = len(img) + len(img)/8
			return img, nil
		case m >= 0xD0 && m <= 0xD7, m == 0x01: // RSTn, TEM: no length
			continue
		}
		var err error
		if img, err = s.segment(img); err != nil {
			return nil, err
		}
		if m == 0xDA { // SOS: entropy-coded data follows
			if img, after, err = s.scan(img); err != nil {
				return nil, err
			}
		}
		if len(img) > maxJPEGBytes {
			return nil, fmt.Errorf("%w: an image exceeds %d bytes", errNotJPEG, maxJPEGBytes)
		}
	}
}

// marker reads a marker: 0xFF, optional 0xFF fill bytes, then the code.
func (s *jpegSplitter) marker() (byte, error) {
	b, err := s.r.ReadByte()
	if err != nil {
		return 0, truncated(err)
	}
	if b != 0xFF {
		return 0, fmt.Errorf("%w: expected a marker, found 0x%02X", errNotJPEG, b)
	}
	for {
		if b, err = s.r.ReadByte(); err != nil {
			return 0, truncated(err)
		}
		if b != 0xFF {
			break
		}
	}
	if b == 0x00 || b == 0xD8 {
		return 0, fmt.Errorf("%w: invalid marker 0xFF%02X", errNotJPEG, b)
	}
	return b, nil
}

// segment appends a marker segment's length and payload.
func (s *jpegSplitter) segment(img []byte) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(s.r, l[:]); err != nil {
		return nil, truncated(err)
	}
	n := int(l[0])<<8 | int(l[1])
	if n < 2 {
		return nil, fmt.Errorf("%w: segment length %d", errNotJPEG, n)
	}
	img = append(img, l[0], l[1])
	start := len(img)
	img = append(img, make([]byte, n-2)...)
	if _, err := io.ReadFull(s.r, img[start:]); err != nil {
		return nil, truncated(err)
	}
	return img, nil
}

// scan appends entropy-coded data up to the next marker that is neither a
// stuffed 0xFF00 nor a restart marker, and returns that marker's code; its
// bytes are consumed but not appended.
func (s *jpegSplitter) scan(img []byte) ([]byte, byte, error) {
	for {
		chunk, err := s.r.ReadSlice(0xFF)
		if err == bufio.ErrBufferFull {
			img = append(img, chunk...)
			if len(img) > maxJPEGBytes {
				return nil, 0, fmt.Errorf("%w: an image exceeds %d bytes", errNotJPEG, maxJPEGBytes)
			}
			continue
		}
		if err != nil {
			return nil, 0, truncated(err)
		}
		img = append(img, chunk[:len(chunk)-1]...)
		c, err := s.r.ReadByte()
		for err == nil && c == 0xFF { // fill bytes before a marker
			c, err = s.r.ReadByte()
		}
		if err != nil {
			return nil, 0, truncated(err)
		}
		if c == 0x00 || (c >= 0xD0 && c <= 0xD7) {
			img = append(img, 0xFF, c)
			continue
		}
		return img, c, nil
	}
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %w", errNotJPEG, err)
}
