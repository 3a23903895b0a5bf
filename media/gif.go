package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/png"
	"iter"
	"math"

	"github.com/mmq/mmq/tasks"
)

// maxGIFFrames bounds the frames of a GIF the scanner indexes.
const maxGIFFrames = 100_000

// gifMinDelay is the delay, in hundredths of a second, below which
// browsers show a GIF frame for gifDefaultDelay instead: GIFs that say 0
// or 1 are played at 10 frames a second, and so are they here.
const (
	gifMinDelay     = 2
	gifDefaultDelay = 10
)

// gifFile is an animated GIF whose block structure was scanned once. Its
// frames are decoded one at a time by image/gif, from a single-frame GIF
// built of the shared header and the frame's own blocks, and composited on
// a canvas, so that memory holds one canvas, and for "restore to previous"
// frames a copy of the part of it they cover, however many frames the file
// has and whatever the sampling.
type gifFile struct {
	// head is the header, the logical screen descriptor (its size widened
	// to hold every frame) and the global color table.
	head          []byte
	width, height int
	frames        []gifFrame
	// duration is in hundredths of a second, the unit of GIF delays.
	duration int
}

// gifFrame locates one frame's blocks in the file.
type gifFrame struct {
	// gce is the graphic control extension before the image, or nil.
	gce []byte
	// img runs from the image descriptor to the end of its data.
	img  []byte
	rect image.Rectangle
	// start and delay are in hundredths of a second.
	start, delay int
	disposal     byte
}

// errGIF is the cause of every GIF the scanner refuses.
var errGIF = errors.New("media: malformed GIF")

// scanGIF indexes the frames of data, which starts with a GIF header.
func scanGIF(data []byte) (*gifFile, error) {
	g, err := parseGIF(data)
	if err != nil {
		return nil, tasks.WrapError(tasks.CodeInvalidVideo, err, "the GIF could not be read; it is truncated or damaged")
	}
	return g, nil
}

func parseGIF(data []byte) (*gifFile, error) {
	if len(data) < 13 {
		return nil, fmt.Errorf("%w: shorter than its header", errGIF)
	}
	g := &gifFile{width: int(le16(data[6:])), height: int(le16(data[8:]))}
	p := 13
	if flags := data[10]; flags&0x80 != 0 {
		p += 3 << (flags&7 + 1)
	}
	if p > len(data) {
		return nil, fmt.Errorf("%w: global color table cut short", errGIF)
	}
	g.head = bytes.Clone(data[:p])
	bounds := image.Rect(0, 0, g.width, g.height)
	var gce []byte
	for p < len(data) {
		switch data[p] {
		case 0x3B: // trailer
			p = len(data)
		case 0x21: // extension
			if p+2 > len(data) {
				return nil, fmt.Errorf("%w: extension cut short", errGIF)
			}
			end, err := skipSubBlocks(data, p+2)
			if err != nil {
				return nil, err
			}
			if data[p+1] == 0xF9 {
				gce = data[p:end]
			}
			p = end
		case 0x2C: // image descriptor
			if p+10 > len(data) {
				return nil, fmt.Errorf("%w: image descriptor cut short", errGIF)
			}
			d := data[p:]
			// Not image.Rect, which would sort the corners (x, y) and (0, 0).
			var r image.Rectangle
			r.Min = image.Pt(int(le16(d[1:])), int(le16(d[3:])))
			r.Max = r.Min.Add(image.Pt(int(le16(d[5:])), int(le16(d[7:]))))
			q := p + 10
			if d[9]&0x80 != 0 {
				q += 3 << (d[9]&7 + 1)
			}
			q++ // LZW minimum code size
			if q > len(data) {
				return nil, fmt.Errorf("%w: image cut short", errGIF)
			}
			end, err := skipSubBlocks(data, q)
			if err != nil {
				return nil, err
			}
			if len(g.frames) == maxGIFFrames {
				return nil, fmt.Errorf("%w: more than %d frames", errGIF, maxGIFFrames)
			}
			f := gifFrame{gce: gce, img: data[p:end], rect: r, start: g.duration, delay: gifDefaultDelay}
			if len(gce) >= 8 && gce[2] >= 4 {
				f.disposal = (gce[3] >> 2) & 7
				if cs := int(le16(gce[4:])); cs >= gifMinDelay {
					f.delay = cs
				}
			}
			g.frames = append(g.frames, f)
			g.duration += f.delay
			bounds = bounds.Union(r)
			gce = nil
			p = end
		default:
			return nil, fmt.Errorf("%w: unknown block 0x%02X", errGIF, data[p])
		}
	}
	if len(g.frames) == 0 {
		return nil, fmt.Errorf("%w: no image", errGIF)
	}
	// Frames outside the logical screen (or a 0x0 screen, which some
	// encoders write) widen the canvas instead of failing the decoder.
	if bounds.Dx() > 0xFFFF || bounds.Dy() > 0xFFFF {
		return nil, fmt.Errorf("%w: frames exceed 65535 pixels", errGIF)
	}
	g.width, g.height = bounds.Max.X, bounds.Max.Y
	g.head[6], g.head[7] = byte(g.width), byte(g.width>>8)
	g.head[8], g.head[9] = byte(g.height), byte(g.height>>8)
	return g, nil
}

// skipSubBlocks returns the offset after the data sub-blocks at p.
func skipSubBlocks(data []byte, p int) (int, error) {
	for {
		if p >= len(data) {
			return 0, fmt.Errorf("%w: data blocks cut short", errGIF)
		}
		n := int(data[p])
		p += 1 + n
		if n == 0 {
			return p, nil
		}
	}
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

// info returns what the GIF's blocks say.
func (g *gifFile) info() tasks.VideoInfo {
	fps := 0.0
	if g.duration > 0 {
		fps = math.Round(float64(len(g.frames))/g.seconds()*1000) / 1000
	}
	return tasks.VideoInfo{
		DurationSec: g.seconds(),
		FPS:         fps,
		Codec:       "gif",
		Format:      "gif",
		Width:       g.width,
		Height:      g.height,
	}
}

// seconds returns the GIF's duration in seconds.
func (g *gifFile) seconds() float64 { return float64(g.duration) / 100 }

// decodeFrame decodes frame i alone.
func (g *gifFile) decodeFrame(i int) (*image.Paletted, error) {
	f := g.frames[i]
	mini := make([]byte, 0, len(g.head)+len(f.gce)+len(f.img)+1)
	mini = append(append(append(append(mini, g.head...), f.gce...), f.img...), 0x3B)
	m, err := gif.Decode(bytes.NewReader(mini))
	if err != nil {
		return nil, tasks.WrapError(tasks.CodeInvalidVideo, fmt.Errorf("frame %d: %w", i, err), "the GIF could not be decoded; it is damaged")
	}
	p, ok := m.(*image.Paletted)
	if !ok {
		return nil, fmt.Errorf("media: GIF frame %d decoded as %T", i, m)
	}
	return p, nil
}

// gifPlayer composites a GIF's frames in order, as a browser shows them
// on a white page: transparent pixels are white, as in ffmpeg's decoder,
// so that frames are opaque pictures like those of other videos.
type gifPlayer struct {
	g      *gifFile
	canvas *image.RGBA
	// next is the frame to draw next; the canvas shows frame next-1.
	next int
	// restore is the part of the canvas frame next-1 covers as it was
	// before that frame was drawn, when the frame is disposed of by
	// restoring the previous picture; restoreBuf is its reused storage,
	// at most one canvas.
	restore    *image.RGBA
	restoreBuf []byte
}

func newGIFPlayer(g *gifFile) *gifPlayer {
	pl := &gifPlayer{g: g, canvas: image.NewRGBA(image.Rect(0, 0, g.width, g.height))}
	draw.Draw(pl.canvas, pl.canvas.Rect, image.White, image.Point{}, draw.Src)
	return pl
}

// advance disposes of the frame shown and draws the next one.
func (pl *gifPlayer) advance() error {
	if pl.next > 0 {
		prev := pl.g.frames[pl.next-1]
		switch prev.disposal {
		case 2: // restore to background: browsers clear to transparent
			draw.Draw(pl.canvas, prev.rect, image.White, image.Point{}, draw.Src)
		case 3: // restore to previous
			if pl.restore != nil {
				draw.Draw(pl.canvas, pl.restore.Rect, pl.restore, pl.restore.Rect.Min, draw.Src)
			}
		}
	}
	pl.restore = nil
	f := pl.g.frames[pl.next]
	m, err := pl.g.decodeFrame(pl.next)
	if err != nil {
		return err
	}
	if f.disposal == 3 {
		pl.save(m.Bounds())
	}
	draw.Draw(pl.canvas, m.Bounds(), m, m.Bounds().Min, draw.Over)
	pl.next++
	return nil
}

// save copies the part r of the canvas to pl.restore.
func (pl *gifPlayer) save(r image.Rectangle) {
	r = r.Intersect(pl.canvas.Rect)
	if r.Empty() {
		return
	}
	n := 4 * r.Dx() * r.Dy()
	if cap(pl.restoreBuf) < n {
		pl.restoreBuf = make([]byte, n)
	}
	pl.restore = &image.RGBA{Pix: pl.restoreBuf[:n], Stride: 4 * r.Dx(), Rect: r}
	draw.Draw(pl.restore, r, pl.canvas, r.Min, draw.Src)
}

// showing returns the index of the frame shown at t seconds.
func (g *gifFile) showing(t float64) int {
	cs := t * 100
	for i, f := range g.frames {
		if cs < float64(f.start+f.delay)-1e-9 {
			return i
		}
	}
	return len(g.frames) - 1
}

// units yields the GIF's frames the plan selects; see Video.Frames.
// fps:<n> takes the picture shown at start, start + 1/n...; keyframes
// takes every frame of the range, each being a whole picture; scene takes
// the first frame of the range and every frame whose difference from the
// one before exceeds the threshold.
func (g *gifFile) units(ctx context.Context, plan tasks.VideoPlan, sample tasks.Sample, done []int) iter.Seq2[tasks.Unit, error] {
	return func(yield func(tasks.Unit, error) bool) {
		opts := plan.Options
		end := g.seconds()
		if opts.End > 0 && opts.End < end {
			end = opts.End
		}
		isDone := doneSet(done)
		pl := newGIFPlayer(g)
		show := func(i int) error { // composite up to frame i
			for pl.next <= i {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := pl.advance(); err != nil {
					return err
				}
			}
			return nil
		}
		emit := func(idx int, t float64) bool {
			if isDone[idx] {
				return true
			}
			u, err := pngUnit(pl.canvas, idx, t)
			if err != nil {
				yield(tasks.Unit{}, err)
				return false
			}
			return yield(u, nil)
		}

		idx := 0
		switch sample.Mode {
		case tasks.SampleFPS:
			for k := 0; k < opts.MaxFrames; k++ {
				t := opts.Start + float64(k)/sample.FPS
				if t >= end {
					break
				}
				if err := show(g.showing(t)); err != nil {
					yield(tasks.Unit{}, err)
					return
				}
				if !emit(k, t) {
					return
				}
			}
		default:
			var prev, cur []byte // scene grids
			for i := g.showing(opts.Start); i < len(g.frames) && float64(g.frames[i].start)/100 < end && idx < opts.MaxFrames; i++ {
				if err := show(i); err != nil {
					yield(tasks.Unit{}, err)
					return
				}
				take := true
				if sample.Mode == tasks.SampleScene {
					cur = sceneGrid(pl.canvas, cur[:0])
					take = prev == nil || sceneScore(prev, cur) > sample.Threshold
					prev, cur = cur, prev
				}
				if !take {
					continue
				}
				if !emit(idx, max(float64(g.frames[i].start)/100, opts.Start)) {
					return
				}
				idx++
			}
		}
	}
}

// sceneGrid appends to dst the colors of m on a grid of at most 64x64
// points (a few more when a side is not a multiple of 64), what sceneScore
// compares: scene sampling keeps the grid of the frame before, not a copy
// of the canvas.
func sceneGrid(m *image.RGBA, dst []byte) []byte {
	r := m.Rect
	stepX, stepY := max(1, r.Dx()/64), max(1, r.Dy()/64)
	for y := r.Min.Y; y < r.Max.Y; y += stepY {
		for x := r.Min.X; x < r.Max.X; x += stepX {
			i := m.PixOffset(x, y)
			dst = append(dst, m.Pix[i:i+3]...)
		}
	}
	return dst
}

// sceneScore is the mean absolute difference of two pictures' grids of
// colors (see sceneGrid), from 0 (same) to 1, the scale of ffmpeg's scene
// score.
func sceneScore(a, b []byte) float64 {
	var sum float64
	for i := range a {
		sum += math.Abs(float64(a[i]) - float64(b[i]))
	}
	if len(a) == 0 {
		return 0
	}
	return sum / float64(len(a)) / 255
}

// work returns, without decoding anything, what producing the frames the
// plan selects costs: pictures is how many pictures of the canvas are
// encoded (an upper bound for scene sampling, which may take fewer), drawn
// the pixels of the frames decoded and composited to reach them.
func (g *gifFile) work(opts tasks.Options, sample tasks.Sample) (pictures int, drawn int64) {
	end := g.seconds()
	if opts.End > 0 && opts.End < end {
		end = opts.End
	}
	last := -1 // the last frame composited
	switch sample.Mode {
	case tasks.SampleFPS:
		for k := 0; k < opts.MaxFrames; k++ {
			t := opts.Start + float64(k)/sample.FPS
			if t >= end {
				break
			}
			last = g.showing(t)
			pictures++
		}
	default:
		// Scene sampling composites every frame of the range until it has
		// taken MaxFrames, keyframes sampling takes every one.
		for i := g.showing(opts.Start); i < len(g.frames) && float64(g.frames[i].start)/100 < end; i++ {
			if sample.Mode != tasks.SampleScene && pictures == opts.MaxFrames {
				break
			}
			last = i
			pictures = min(pictures+1, opts.MaxFrames)
		}
	}
	canvas := image.Rect(0, 0, g.width, g.height)
	for _, f := range g.frames[:last+1] {
		r := f.rect.Intersect(canvas)
		drawn += int64(r.Dx()) * int64(r.Dy())
	}
	return pictures, drawn
}

// pngEncoder favors speed: frames are analyzed, not archived.
var pngEncoder = png.Encoder{CompressionLevel: png.BestSpeed}

// pngUnit encodes the canvas as the unit of frame idx at t seconds.
func pngUnit(m *image.RGBA, idx int, t float64) (tasks.Unit, error) {
	var buf bytes.Buffer
	if err := pngEncoder.Encode(&buf, m); err != nil {
		return tasks.Unit{}, fmt.Errorf("media: encode GIF frame %d: %w", idx, err)
	}
	return tasks.Unit{
		Kind:      tasks.KindVideo,
		Index:     idx,
		Data:      buf.Bytes(),
		MIME:      "image/png",
		Timestamp: math.Round(t*1e6) / 1e6,
		Width:     m.Rect.Dx(),
		Height:    m.Rect.Dy(),
	}, nil
}
