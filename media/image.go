package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"github.com/mmq/mmq/tasks"
)

// DefaultMaxImagePixels is ImageOptions.MaxPixels's default: 50 megapixels,
// a 600 dpi scan of an A3 sheet or the largest phone photos. An image is
// held decoded (4 bytes a pixel) while its page is built.
const DefaultMaxImagePixels = 50_000_000

// Image formats, as ImageFormat tells them from the magic bytes.
const (
	FormatPNG  = "png"
	FormatJPEG = "jpeg"
	FormatWebP = "webp"
	FormatTIFF = "tiff"
)

// ImageOptions are the options of OpenImage. The zero value applies the
// defaults.
type ImageOptions struct {
	// MaxPixels refuses an image, or a TIFF page, whose declared width
	// times height is larger, with tasks.CodeImageTooLarge, before it is
	// decoded. Defaults to DefaultMaxImagePixels.
	MaxPixels int64
	// MaxPages is the most pages a TIFF may have; a longer one is a
	// tasks.CodeTooManyPages error. Defaults to 0: no limit.
	MaxPages int
}

func (o *ImageOptions) setDefaults() {
	if o.MaxPixels == 0 {
		o.MaxPixels = DefaultMaxImagePixels
	}
}

// Validate reports options that make no sense.
func (o ImageOptions) Validate() error {
	switch {
	case o.MaxPixels < 0:
		return fmt.Errorf("media: ImageOptions.MaxPixels is %d, want >= 0", o.MaxPixels)
	case o.MaxPages < 0:
		return fmt.Errorf("media: ImageOptions.MaxPages is %d, want >= 0", o.MaxPages)
	}
	return nil
}

// Image is a picture (PNG, JPEG, WebP) or a TIFF of one or more pages,
// whose pages come out as one-page PDFs like those of a [PDF]: see
// [Image.Page]. Its methods are safe for concurrent use.
type Image struct {
	format string
	data   []byte
	opts   ImageOptions
	// pages are the TIFF's IFD offsets, one per page; nil for the others.
	pages []uint32
	order binary.ByteOrder
	// first is the page of a single-image file, built when it is opened so
	// that a corrupt file is refused at once.
	first []byte
}

// ImageFormat tells an image format from the magic bytes, "" for none of
// PNG, JPEG, WebP and TIFF.
func ImageFormat(data []byte) string {
	has := func(off int, magic string) bool {
		return len(data) >= off+len(magic) && string(data[off:off+len(magic)]) == magic
	}
	switch {
	case has(0, "\x89PNG\r\n\x1a\n"):
		return FormatPNG
	case has(0, "\xFF\xD8\xFF"):
		return FormatJPEG
	case has(0, "RIFF") && has(8, "WEBP"):
		return FormatWebP
	case has(0, "II*\x00"), has(0, "MM\x00*"),
		has(0, "II+\x00"), has(0, "MM\x00+"): // BigTIFF, refused as invalid_image by OpenImage
		return FormatTIFF
	}
	return ""
}

// OpenImage reads an image's header (every page's, for a TIFF) and checks
// it against the limits; a single image is also decoded and its page built,
// a TIFF's pages are decoded when asked for. Its errors are *tasks.Error
// values with the codes CodeEmptyFile, CodeUnsupportedType (not an image
// format it reads), CodeInvalidImage, CodeImageTooLarge and
// CodeTooManyPages, or the error of ctx. The Image keeps a reference to
// data, which must not be modified while it is in use.
func OpenImage(ctx context.Context, data []byte, opts ImageOptions) (*Image, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, tasks.Errorf(tasks.CodeEmptyFile, msgEmpty)
	}
	im := &Image{format: ImageFormat(data), data: data, opts: opts}
	if im.format == "" {
		return nil, tasks.Errorf(tasks.CodeUnsupportedType, "the file is not a PNG, JPEG, WebP or TIFF image")
	}
	if im.format == FormatTIFF {
		return im, im.indexTIFF()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	page, err := im.build(ctx, 1)
	if err != nil {
		return nil, err
	}
	im.first = page
	return im, nil
}

// indexTIFF finds the pages of a TIFF and checks each one's header.
func (im *Image) indexTIFF() error {
	order, first, err := tiffHeader(im.data)
	if err != nil {
		return invalidImage(err, "the TIFF header is damaged or not a baseline TIFF")
	}
	limit := maxTIFFPages
	if im.opts.MaxPages > 0 {
		limit = min(limit, im.opts.MaxPages)
	}
	ifds, err := tiffIFDs(im.data, order, first, limit)
	if err != nil {
		return invalidImage(err, "the TIFF's page directory is damaged")
	}
	if len(ifds) > limit {
		return tasks.Errorf(tasks.CodeTooManyPages, "the TIFF has more than %d pages", limit)
	}
	im.pages, im.order = ifds, order
	for n := range ifds {
		cfg, err := tiff.DecodeConfig(im.tiffPage(n + 1).reader())
		if err != nil {
			return invalidImage(err, fmt.Sprintf("page %d of the TIFF is damaged", n+1))
		}
		if err := im.checkSize(cfg, n+1); err != nil {
			return err
		}
	}
	return nil
}

func (im *Image) tiffPage(n int) tiffPage {
	return tiffPage{data: im.data, order: im.order, ifd: im.pages[n-1]}
}

// Format returns the image's format: FormatPNG, FormatJPEG, FormatWebP or
// FormatTIFF.
func (im *Image) Format() string { return im.format }

// PageCount returns the number of pages: 1, or a TIFF's pages.
func (im *Image) PageCount() int { return max(len(im.pages), 1) }

// Page returns page n (1-based) as a one-page PDF whose page is the image,
// turned upright by its orientation tag, one pixel to a point. A JPEG that
// needs no turning is embedded as it is (DCTDecode); any other picture is
// re-encoded losslessly (FlateDecode, 8 bits a channel, transparency
// flattened onto white). An error is an ErrPageRange for n outside
// 1..PageCount, the error of ctx, or a tasks.Error with CodeInvalidImage or
// CodeImageTooLarge.
func (im *Image) Page(ctx context.Context, n int) ([]byte, error) {
	if n < 1 || n > im.PageCount() {
		return nil, fmt.Errorf("%w: %d not in 1..%d", ErrPageRange, n, im.PageCount())
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if im.first != nil {
		return im.first, nil
	}
	return im.build(ctx, n)
}

// build decodes page n and writes its PDF.
func (im *Image) build(ctx context.Context, n int) ([]byte, error) {
	dec := decoders[im.format]
	r, orient := im.source(n)
	cfg, err := dec.config(r)
	if err != nil {
		return nil, invalidImage(err, "the image's header is damaged")
	}
	if err := im.checkSize(cfg, n); err != nil {
		return nil, err
	}
	r, _ = im.source(n)
	img, err := dec.decode(r)
	if err != nil {
		return nil, invalidImage(err, imageDamaged(im, n))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if im.format == FormatJPEG && orient == 1 && (cfg.ColorModel == color.YCbCrModel || cfg.ColorModel == color.GrayModel) {
		// The JPEG decodes, so its bytes are a JPEG any PDF reader shows.
		return imagePDF(pdfImage{w: cfg.Width, h: cfg.Height, gray: cfg.ColorModel == color.GrayModel, dct: im.data}), nil
	}
	return imagePDF(orientedPixels(img, orient)), nil
}

// decoders are the readers of each format: the declared size first, then
// the picture.
var decoders = map[string]struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}{
	FormatPNG:  {png.DecodeConfig, png.Decode},
	FormatJPEG: {jpeg.DecodeConfig, jpeg.Decode},
	FormatWebP: {webp.DecodeConfig, webp.Decode},
	FormatTIFF: {tiff.DecodeConfig, tiff.Decode},
}

// source returns a reader of page n's image and its orientation.
func (im *Image) source(n int) (io.Reader, int) {
	switch im.format {
	case FormatJPEG:
		return bytes.NewReader(im.data), jpegOrientation(im.data)
	case FormatPNG:
		return bytes.NewReader(im.data), pngOrientation(im.data)
	case FormatWebP:
		return bytes.NewReader(im.data), webpOrientation(im.data)
	case FormatTIFF:
		p := im.tiffPage(n)
		return p.reader(), tiffOrientation(im.data, p.order, p.ifd)
	}
	return bytes.NewReader(im.data), 1
}

// checkSize refuses a page that declares no pixels or too many.
func (im *Image) checkSize(cfg image.Config, n int) error {
	px := int64(cfg.Width) * int64(cfg.Height)
	switch {
	case cfg.Width <= 0 || cfg.Height <= 0:
		return tasks.Errorf(tasks.CodeInvalidImage, "%s is %dx%d pixels", imagePage(im, n), cfg.Width, cfg.Height)
	case px > im.opts.MaxPixels:
		return tasks.Errorf(tasks.CodeImageTooLarge, "%s is %dx%d pixels (%d); at most %d pixels are allowed",
			imagePage(im, n), cfg.Width, cfg.Height, px, im.opts.MaxPixels)
	}
	return nil
}

func imagePage(im *Image, n int) string {
	if im.format == FormatTIFF {
		return fmt.Sprintf("page %d of the TIFF", n)
	}
	return "the image"
}

func imageDamaged(im *Image, n int) string {
	return imagePage(im, n) + " could not be decoded; it is truncated or damaged"
}

func invalidImage(cause error, msg string) error {
	return tasks.WrapError(tasks.CodeInvalidImage, cause, msg)
}

// orientedPixels returns img's pixels turned by an EXIF orientation (1 to
// 8), 8 bits a channel: gray when img is, else RGB with any transparency
// composited onto white.
func orientedPixels(img image.Image, orient int) pdfImage {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	var (
		src    []uint8
		stride int
		gray   bool
		comp   = 3
	)
	switch img.ColorModel() {
	case color.GrayModel, color.Gray16Model:
		g := image.NewGray(image.Rect(0, 0, sw, sh))
		draw.Draw(g, g.Bounds(), img, b.Min, draw.Src)
		src, stride, gray, comp = g.Pix, g.Stride, true, 1
	default:
		c := image.NewRGBA(image.Rect(0, 0, sw, sh))
		draw.Draw(c, c.Bounds(), image.White, image.Point{}, draw.Src)
		draw.Draw(c, c.Bounds(), img, b.Min, draw.Over)
		src, stride = c.Pix, c.Stride
	}
	w, h := sw, sh
	if orient >= 5 {
		w, h = sh, sw
	}
	out := make([]byte, 0, w*h*comp)
	step := 4
	if gray {
		step = 1
	}
	for y := range h {
		for x := range w {
			sx, sy := sourcePixel(orient, x, y, sw, sh)
			i := sy*stride + sx*step
			out = append(out, src[i:i+comp]...)
		}
	}
	return pdfImage{w: w, h: h, gray: gray, pixels: out}
}

// sourcePixel maps pixel (x, y) of the upright picture to the stored
// picture of sw x sh pixels, for EXIF orientation orient.
func sourcePixel(orient, x, y, sw, sh int) (int, int) {
	switch orient {
	case 2: // mirrored
		return sw - 1 - x, y
	case 3: // turned 180°
		return sw - 1 - x, sh - 1 - y
	case 4: // mirrored vertically
		return x, sh - 1 - y
	case 5: // transposed
		return y, x
	case 6: // stored turned 90° counterclockwise: turn clockwise
		return y, sh - 1 - x
	case 7: // transversed
		return sw - 1 - y, sh - 1 - x
	case 8: // stored turned 90° clockwise: turn counterclockwise
		return sw - 1 - y, x
	}
	return x, y
}
