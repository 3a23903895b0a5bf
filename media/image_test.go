package media_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/tiff"
	xwebp "golang.org/x/image/webp"

	"github.com/mmq/mmq/internal/imagetest"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
)

// Every image kind opens as a document of one page (a TIFF of one per
// page), each a PDF that pdfcpu reads back as one page of the picture's
// size, upright.
func TestOpenDocumentImages(t *testing.T) {
	t.Parallel()
	webp, err := os.ReadFile(filepath.Join("testdata", "ximage-gopher-doc.8bpp.lossless.webp"))
	if err != nil {
		t.Fatal(err)
	}
	var tif1 bytes.Buffer
	if err := tiff.Encode(&tif1, imagetest.Picture(30, 20), &tiff.Options{Compression: tiff.Deflate}); err != nil {
		t.Fatal(err)
	}
	jpeg := imagetest.JPEG(64, 32, 0)
	tests := []struct {
		name   string
		data   []byte
		format string
		sizes  []string // MediaBox of each page
		filter string
	}{
		{"png", imagetest.PNG(40, 30), media.FormatPNG, []string{"0 0 40 30"}, "/FlateDecode"},
		{"jpeg", jpeg, media.FormatJPEG, []string{"0 0 64 32"}, "/DCTDecode"},
		{"jpeg exif 1", imagetest.JPEG(64, 32, 1), media.FormatJPEG, []string{"0 0 64 32"}, "/DCTDecode"},
		{"jpeg exif 6", imagetest.JPEG(64, 32, 6), media.FormatJPEG, []string{"0 0 32 64"}, "/FlateDecode"},
		{"jpeg exif 3", imagetest.JPEG(64, 32, 3), media.FormatJPEG, []string{"0 0 64 32"}, "/FlateDecode"},
		{"webp", webp, media.FormatWebP, nil, "/FlateDecode"},
		{"png eXIf 8", imagetest.PNGOriented(40, 30, 8), media.FormatPNG, []string{"0 0 30 40"}, "/FlateDecode"},
		{"webp EXIF 6", imagetest.WebPOriented(webp, 6), media.FormatWebP, []string{webpTurned(t, webp)}, "/FlateDecode"},
		{"tiff, x/image encoder", tif1.Bytes(), media.FormatTIFF, []string{"0 0 30 20"}, "/FlateDecode"},
		{"tiff, 3 pages", imagetest.TIFF(imagetest.Gray(10, 20, 0), imagetest.Gray(30, 5, 128), imagetest.Gray(7, 7, 255)),
			media.FormatTIFF, []string{"0 0 10 20", "0 0 30 5", "0 0 7 7"}, "/FlateDecode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if k, err := media.SniffKind(tt.data); err != nil || k != tasks.KindDocument {
				t.Fatalf("SniffKind: %q, %v", k, err)
			}
			doc, err := media.OpenDocument(ctx, tt.data, media.DocumentOptions{})
			if err != nil {
				t.Fatal(err)
			}
			im, ok := doc.(*media.Image)
			if !ok || im.Format() != tt.format {
				t.Fatalf("OpenDocument gave %T, want an image of format %s", doc, tt.format)
			}
			want := max(len(tt.sizes), 1)
			if doc.PageCount() != want {
				t.Fatalf("%d pages, want %d", doc.PageCount(), want)
			}
			for n := 1; n <= want; n++ {
				page, err := doc.Page(ctx, n)
				if err != nil {
					t.Fatalf("page %d: %v", n, err)
				}
				p, err := media.OpenPDF(ctx, page, media.PDFOptions{})
				if err != nil || p.PageCount() != 1 {
					t.Fatalf("page %d does not read back as a 1-page PDF: %v", n, err)
				}
				if tt.sizes != nil && !bytes.Contains(page, []byte("/MediaBox["+tt.sizes[n-1]+"]")) {
					t.Errorf("page %d: no /MediaBox[%s] in\n%.300s", n, tt.sizes[n-1], page)
				}
				if !bytes.Contains(page, []byte(tt.filter)) {
					t.Errorf("page %d: not %s", n, tt.filter)
				}
			}
			if tt.filter == "/DCTDecode" {
				page, _ := doc.Page(ctx, 1)
				if !bytes.Contains(page, tt.data) {
					t.Error("an upright JPEG is not embedded as it is")
				}
			}
			if _, err := doc.Page(ctx, want+1); err == nil {
				t.Errorf("page %d of %d: no error", want+1, want)
			}
		})
	}
}

// Bad images fail with their codes, pixel bombs before anything is decoded.
func TestOpenImageRefuses(t *testing.T) {
	t.Parallel()
	png := imagetest.PNG(40, 30)
	jpeg := imagetest.JPEG(64, 64, 0)
	corruptJPEG := bytes.Clone(jpeg)
	for i := len(corruptJPEG) / 2; i < len(corruptJPEG)-2; i++ {
		corruptJPEG[i] = 0xFF
	}
	tests := []struct {
		name string
		data []byte
		opts media.ImageOptions
		code tasks.Code
	}{
		{"truncated png", png[:len(png)/2], media.ImageOptions{}, tasks.CodeInvalidImage},
		{"png header only", png[:8], media.ImageOptions{}, tasks.CodeInvalidImage},
		{"truncated jpeg", jpeg[:len(jpeg)/2], media.ImageOptions{}, tasks.CodeInvalidImage},
		{"corrupt jpeg", corruptJPEG, media.ImageOptions{}, tasks.CodeInvalidImage},
		{"pixel bomb png", imagetest.PNGHeader(100000, 100000), media.ImageOptions{}, tasks.CodeImageTooLarge},
		{"over a low limit", png, media.ImageOptions{MaxPixels: 40*30 - 1}, tasks.CodeImageTooLarge},
		{"zero-size png", imagetest.PNGHeader(0, 0), media.ImageOptions{}, tasks.CodeInvalidImage},
		{"bigtiff", []byte("II\x2B\x00\x08\x00\x00\x00\x00\x00\x00\x00"), media.ImageOptions{}, tasks.CodeInvalidImage},
		{"tiff, IFD past the end", []byte("II\x2A\x00\xFF\x00\x00\x00"), media.ImageOptions{}, tasks.CodeInvalidImage},
		{"tiff, 10000 pages", imagetest.ManyPageTIFF(10000), media.ImageOptions{MaxPages: 2000}, tasks.CodeTooManyPages},
		{"empty", nil, media.ImageOptions{}, tasks.CodeEmptyFile},
		{"not an image", []byte("%PDF-1.4"), media.ImageOptions{}, tasks.CodeUnsupportedType},
	}
	for _, tt := range tests {
		_, err := media.OpenImage(context.Background(), tt.data, tt.opts)
		if tasks.ErrorCode(err) != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
	// A TIFF page too large to decode is refused when the TIFF is opened.
	big := imagetest.TIFF(imagetest.Gray(2, 2, 0), imagetest.Gray(100, 100, 0))
	if _, err := media.OpenImage(context.Background(), big, media.ImageOptions{MaxPixels: 1000}); tasks.ErrorCode(err) != tasks.CodeImageTooLarge {
		t.Errorf("TIFF with a page over the limit: %v, want %s", err, tasks.CodeImageTooLarge)
	}
	// Many pages within the limits open, and each is a page.
	many, err := media.OpenImage(context.Background(), imagetest.ManyPageTIFF(300), media.ImageOptions{})
	if err != nil || many.PageCount() != 300 {
		t.Fatalf("300-page TIFF: %v", err)
	}
	if _, err := many.Page(context.Background(), 300); err != nil {
		t.Errorf("page 300: %v", err)
	}
}

// webpTurned returns the MediaBox of a WebP turned a quarter.
func webpTurned(t *testing.T, data []byte) string {
	cfg, err := xwebp.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("0 0 %d %d", cfg.Height, cfg.Width)
}

// FuzzOpenImage: no image input crashes the reader; each fails with a
// code or opens into pages that build.
func FuzzOpenImage(f *testing.F) {
	f.Add(imagetest.PNG(4, 3))
	f.Add(imagetest.JPEG(8, 8, 6))
	f.Add(imagetest.PNGOriented(3, 2, 5))
	f.Add(imagetest.TIFF(imagetest.Gray(2, 2, 9), imagetest.Gray(3, 1, 200)))
	f.Add(imagetest.ManyPageTIFF(3))
	f.Add(imagetest.PNGHeader(1<<20, 1<<20))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		im, err := media.OpenImage(ctx, data, media.ImageOptions{MaxPixels: 1 << 16, MaxPages: 20})
		if err != nil {
			if tasks.ErrorCode(err) == tasks.CodeInternal {
				t.Fatalf("OpenImage: %v", err)
			}
			return
		}
		for n := 1; n <= im.PageCount(); n++ {
			if _, err := im.Page(ctx, n); err != nil && tasks.ErrorCode(err) == tasks.CodeInternal {
				t.Fatalf("page %d: %v", n, err)
			}
		}
	})
}
