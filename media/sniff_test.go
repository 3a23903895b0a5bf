package media_test

import (
	"bytes"
	"testing"

	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
)

func TestSniffKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data []byte
		kind tasks.Kind
		code tasks.Code
	}{
		{"PDF", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), tasks.KindDocument, ""},
		{"PDF after junk", append(bytes.Repeat([]byte("junk "), 200), "%PDF-1.4\n"...), tasks.KindDocument, ""},
		{"PDF header past 1024 bytes", append(bytes.Repeat([]byte(" "), 1024), "%PDF-1.4\n"...), "", tasks.CodeUnsupportedType},
		{"MP4", []byte("\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"), tasks.KindVideo, ""},
		{"MOV", []byte("\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  "), tasks.KindVideo, ""},
		{"QuickTime without ftyp", []byte("\x00\x00\x00\x08wide\x00\x01\x00\x00mdat"), tasks.KindVideo, ""},
		{"WebM", []byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm"), tasks.KindVideo, ""},
		{"FLV", []byte("FLV\x01\x05\x00\x00\x00\x09"), tasks.KindVideo, ""},
		{"AVI", []byte("RIFF\x24\x00\x00\x00AVI LIST"), tasks.KindVideo, ""},
		{"WAV is no video", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), "", tasks.CodeUnsupportedType},
		{"Ogg", []byte("OggS\x00\x02\x00\x00\x00\x00"), tasks.KindVideo, ""},
		{"GIF87a", []byte("GIF87a\x01\x00\x01\x00"), tasks.KindVideo, ""},
		{"GIF89a", []byte("GIF89a\x01\x00\x01\x00"), tasks.KindVideo, ""},
		{"MPEG-PS", []byte("\x00\x00\x01\xba\x44\x00\x04\x00"), tasks.KindVideo, ""},
		{"ASF", []byte("\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9"), tasks.KindVideo, ""},
		{"MPEG-TS", append(append([]byte{0x47}, make([]byte, 187)...), 0x47, 0x00), tasks.KindVideo, ""},
		{"empty", nil, "", tasks.CodeEmptyFile},
		{"text", []byte("oops\n"), "", tasks.CodeUnsupportedType},
		{"PNG", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), tasks.KindDocument, ""},
		{"JPEG", []byte("\xff\xd8\xff\xe0\x00\x10JFIF"), tasks.KindDocument, ""},
		{"WebP", []byte("RIFF\x00\x00\x00\x00WEBPVP8L"), tasks.KindDocument, ""},
		{"TIFF little-endian", []byte("II*\x00\x08\x00\x00\x00"), tasks.KindDocument, ""},
		{"TIFF big-endian", []byte("MM\x00*\x00\x00\x00\x08"), tasks.KindDocument, ""},
		{"BMP", []byte("BM\x00\x00\x00\x00\x00\x00\x00\x00"), "", tasks.CodeUnsupportedType},
		{"ZIP", []byte("PK\x03\x04\x14\x00"), "", tasks.CodeUnsupportedType},
		{"one byte", []byte{0x47}, "", tasks.CodeUnsupportedType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kind, err := media.SniffKind(tt.data)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil || kind != tt.kind {
				t.Fatalf("SniffKind = %q, %v; want %q", kind, err, tt.kind)
			}
		})
	}
}
