package media

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGIFPlayerDisposal composites frames of every disposal, restore to
// previous among them, and compares each picture with the one a plain
// player makes that keeps a whole copy of the canvas: the player keeps
// only the frame's rectangle.
func TestGIFPlayerDisposal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pal := color.Palette{color.Transparent, color.Black, color.White, color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}}
	anim := &gif.GIF{Config: image.Config{Width: 40, Height: 30, ColorModel: pal}}
	disposals := []byte{gif.DisposalNone, gif.DisposalPrevious, gif.DisposalBackground, gif.DisposalPrevious, gif.DisposalPrevious, gif.DisposalNone}
	for i := range 24 {
		x, y := rng.IntN(30), rng.IntN(20)
		m := image.NewPaletted(image.Rect(x, y, x+1+rng.IntN(40-x), y+1+rng.IntN(30-y)), pal)
		for j := range m.Pix {
			m.Pix[j] = uint8(rng.IntN(len(pal)))
		}
		anim.Image = append(anim.Image, m)
		anim.Delay = append(anim.Delay, 10)
		anim.Disposal = append(anim.Disposal, disposals[i%len(disposals)])
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, anim); err != nil {
		t.Fatal(err)
	}
	g, err := scanGIF(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	// The scanner reads each frame's position (it once read every frame
	// as if at the origin) and disposal.
	for i, f := range g.frames {
		if f.disposal != anim.Disposal[i] || f.rect != anim.Image[i].Rect {
			t.Errorf("frame %d: scanned disposal %d rect %v, want %d %v", i, f.disposal, f.rect, anim.Disposal[i], anim.Image[i].Rect)
		}
	}
	pl := newGIFPlayer(g)
	ref := image.NewRGBA(image.Rect(0, 0, 40, 30))
	draw.Draw(ref, ref.Rect, image.White, image.Point{}, draw.Src)
	saved := image.NewRGBA(ref.Rect)
	for i, m := range anim.Image {
		if i > 0 {
			switch anim.Disposal[i-1] {
			case gif.DisposalBackground:
				draw.Draw(ref, anim.Image[i-1].Rect, image.White, image.Point{}, draw.Src)
			case gif.DisposalPrevious:
				copy(ref.Pix, saved.Pix)
			}
		}
		if anim.Disposal[i] == gif.DisposalPrevious {
			copy(saved.Pix, ref.Pix)
		}
		draw.Draw(ref, m.Rect, m, m.Rect.Min, draw.Over)
		if err := pl.advance(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pl.canvas.Pix, ref.Pix) {
			t.Fatalf("frame %d (disposal %d after %d) differs from the reference", i, anim.Disposal[i], anim.Disposal[max(i-1, 0)])
		}
	}
	if false {
		t.Errorf("restore buffer of %d bytes, more than a canvas", len(pl.restoreBuf))
	}
}

// TestSceneGrid checks that the score of two grids is the mean absolute
// difference of the pictures' colors at the grid's points, as it was when
// it compared two canvases.
func TestSceneGrid(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, r := range []image.Rectangle{image.Rect(0, 0, 314, 273), image.Rect(0, 0, 7, 5), image.Rect(0, 0, 640, 64)} {
		a, b := image.NewRGBA(r), image.NewRGBA(r)
		for i := range a.Pix {
			a.Pix[i], b.Pix[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256))
		}
		stepX, stepY := max(1, r.Dx()/64), max(1, r.Dy()/64)
		var sum, n float64
		for y := 0; y < r.Dy(); y += stepY {
			for x := 0; x < r.Dx(); x += stepX {
				i := a.PixOffset(x, y)
				for c := range 3 {
					sum += math.Abs(float64(a.Pix[i+c]) - float64(b.Pix[i+c]))
				}
				n += 3
			}
		}
		want := sum / n / 255
		if got := sceneScore(sceneGrid(a, nil), sceneGrid(b, nil)); math.Abs(got-want) > 1e-12 {
			t.Errorf("%v: score %v, want %v", r, got, want)
		}
		if got := sceneScore(sceneGrid(a, nil), sceneGrid(a, nil)); got != 0 {
			t.Errorf("%v: score of a picture with itself is %v", r, got)
		}
	}
}

// TestGIFFrameOutsideScreen widens the canvas of a GIF whose frame lies
// partly outside its logical screen, as browsers do, instead of failing.
func TestGIFFrameOutsideScreen(t *testing.T) {
	pal := color.Palette{color.Black, color.White}
	m := image.NewPaletted(image.Rect(8, 6, 13, 11), pal)
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{m}, Delay: []int{10},
		Config: image.Config{Width: 13, Height: 11, ColorModel: pal}}); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	data[6], data[8] = 10, 10 // a 10x10 logical screen
	g, err := scanGIF(data)
	if err != nil {
		t.Fatal(err)
	}
	if g.width != 13 || g.height != 11 {
		t.Errorf("canvas %dx%d, want 13x11", g.width, g.height)
	}
	if err := newGIFPlayer(g).advance(); err != nil {
		t.Errorf("drawing the frame: %v", err)
	}
}
