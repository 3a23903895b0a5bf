package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os/exec"
	"strconv"
	"time"

	"golang.org/x/image/draw"

	"github.com/mmq/mmq/internal/command"
	"github.com/mmq/mmq/tasks"
)

// Downscale returns a PNG or JPEG image whose long side is at most px
// pixels, with its media type and size. An image already small enough is
// returned as it is; a larger one is resampled (Catmull-Rom) and
// re-encoded in its own format, JPEG at quality 85. px <= 0 means no limit.
func Downscale(data []byte, px int) (out []byte, outMIME string, w, h int, err error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, "", 0, 0, tasks.WrapError(tasks.CodeInvalidRequest, err, "the image could not be decoded")
	}
	if px <= 0 || max(cfg.Width, cfg.Height) <= px {
		return data, "image/" + format, cfg.Width, cfg.Height, nil
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", 0, 0, tasks.WrapError(tasks.CodeInvalidRequest, err, "the image could not be decoded")
	}
	w, h = scaleTo(cfg.Width, cfg.Height, px)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	var buf bytes.Buffer
	if format == "png" {
		err = png.Encode(&buf, dst)
	} else {
		format = "jpeg"
		err = jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 85})
	}
	if err != nil {
		return nil, "", 0, 0, fmt.Errorf("provider: encode downscaled image: %w", err)
	}
	return buf.Bytes(), "image/" + format, w, h, nil
}

// scaleTo returns w×h scaled so that the long side is px, keeping the
// aspect ratio; no side goes below 1.
func scaleTo(w, h, px int) (int, int) {
	if w >= h {
		return px, max(1, (h*px+w/2)/w)
	}
	return max(1, (w*px+h/2)/h), px
}

// Rasterizer renders a PDF page to PNG with poppler's pdftoppm, through
// stdin and stdout.
type Rasterizer struct {
	// Path is the pdftoppm binary. Defaults to "pdftoppm" on PATH.
	Path string
	// Timeout bounds one rendering. Defaults to 60 s.
	Timeout time.Duration
}

// ErrNoRasterizer is returned by Check when pdftoppm cannot be found.
var ErrNoRasterizer = errors.New("provider: pdftoppm not found (install poppler-utils)")

// Check reports whether the rasterizer's binary can be found.
func (r Rasterizer) Check() error {
	if _, err := exec.LookPath(r.path()); err != nil {
		return fmt.Errorf("%w: %v", ErrNoRasterizer, err)
	}
	return nil
}

func (r Rasterizer) path() string {
	if r.Path == "" {
		return "pdftoppm"
	}
	return r.Path
}

// maxRasterBytes caps pdftoppm's PNG: a page at the largest resolution a
// model takes is a few megabytes; past the cap the run is killed.
const maxRasterBytes = 64 << 20

// Rasterize renders page 1 of pdf as a PNG whose long side is px pixels,
// through internal/command (deadline, memory limit, capped output). A page
// pdftoppm cannot render, or not within those bounds, is a permanent
// CodeInvalidPDF error; one that takes longer than Timeout is CodeTimeout.
func (r Rasterizer) Rasterize(ctx context.Context, pdf []byte, px int) ([]byte, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	res, err := command.Run(ctx, command.Spec{
		Path:      r.path(),
		Args:      []string{"-png", "-singlefile", "-f", "1", "-l", "1", "-scale-to", strconv.Itoa(px), "-"},
		Stdin:     bytes.NewReader(pdf),
		Timeout:   timeout,
		WaitDelay: time.Second,
		MaxStdout: maxRasterBytes,
		MaxStderr: 1 << 10,
	})
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, command.ErrTimeout):
		return nil, tasks.WrapError(tasks.CodeTimeout, err, "rendering the page took too long")
	case errors.Is(err, command.ErrNotFound):
		return nil, fmt.Errorf("%w: %v", ErrNoRasterizer, err)
	case errors.Is(err, command.ErrMemoryLimit), errors.Is(err, command.ErrOutputLimit):
		return nil, tasks.WrapError(tasks.CodeInvalidPDF, err, "the page is too large to render to an image")
	case err != nil || len(res.Stdout) == 0:
		if err == nil {
			err = errors.New("pdftoppm wrote nothing")
		}
		return nil, tasks.WrapError(tasks.CodeInvalidPDF, err, "the page could not be rendered to an image")
	}
	return res.Stdout, nil
}
