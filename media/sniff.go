package media

import (
	"bytes"

	"github.com/mmq/mmq/tasks"
)

// sniffLen is how far into a file SniffKind looks for the PDF header:
// Acrobat accepts the header anywhere in the first 1024 bytes (PDF Reference
// 1.7, implementation note 13), and files with junk before it exist.
const sniffLen = 1024

// SniffKind tells a document from a video by the file's magic bytes: a
// PDF and an image (PNG, JPEG, WebP, TIFF: see ImageFormat) are documents,
// whose pages OpenDocument opens. Empty data is a CodeEmptyFile error and
// anything it does not recognize a CodeUnsupportedType error; the
// extension and the declared content type are deliberately not trusted.
func SniffKind(data []byte) (tasks.Kind, error) {
	switch {
	case len(data) == 0:
		return "", tasks.Errorf(tasks.CodeEmptyFile, msgEmpty)
	case ImageFormat(data) != "", hasPDFHeader(data):
		return tasks.KindDocument, nil
	case isVideo(data):
		return tasks.KindVideo, nil
	}
	return "", tasks.Errorf(tasks.CodeUnsupportedType, "unsupported file type: expected a PDF, an image (PNG, JPEG, WebP, TIFF) or a video")
}

// hasPDFHeader reports whether "%PDF-" starts within the first sniffLen bytes.
func hasPDFHeader(data []byte) bool {
	return bytes.Contains(data[:min(len(data), sniffLen)], []byte("%PDF-"))
}

// isVideo recognizes the containers ffmpeg reads that clients upload:
// ISO BMFF (MP4, MOV, 3GP, M4V), Matroska/WebM, FLV, AVI, Ogg, MPEG-PS/TS,
// ASF (WMV) and animated GIF, which is analyzed frame by frame.
func isVideo(data []byte) bool {
	has := func(off int, magic string) bool {
		return len(data) >= off+len(magic) && string(data[off:off+len(magic)]) == magic
	}
	switch {
	case has(4, "ftyp"), // ISO BMFF: size, then "ftyp".
		has(4, "moov"), has(4, "mdat"), has(4, "wide"), has(4, "free"), has(4, "skip"), // QuickTime without ftyp.
		has(0, "\x1A\x45\xDF\xA3"),         // EBML: Matroska, WebM.
		has(0, "FLV\x01"),                  // Flash video.
		has(0, "RIFF") && has(8, "AVI "),   // AVI.
		has(0, "OggS"),                     // Ogg (Theora).
		has(0, "GIF87a"), has(0, "GIF89a"), // GIF.
		has(0, "\x00\x00\x01\xBA"),                 // MPEG program stream.
		has(0, "\x30\x26\xB2\x75\x8E\x66\xCF\x11"): // ASF: WMV.
		return true
	case len(data) >= 189 && data[0] == 0x47 && data[188] == 0x47: // MPEG transport stream: sync byte every 188 bytes.
		return true
	}
	return false
}
