package analyzer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"testing"

	"github.com/mmq/mmq/analyzer"
	"github.com/mmq/mmq/tasks"
)

// picture returns a w x h image painted by f.
func picture(w, h int, f func(x, y int) color.RGBA) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetRGBA(x, y, f(x, y))
		}
	}
	return m
}

func solid(c color.RGBA) func(x, y int) color.RGBA { return func(int, int) color.RGBA { return c } }

func checker(size int) func(x, y int) color.RGBA {
	return func(x, y int) color.RGBA {
		if (x/size+y/size)%2 == 0 {
			return color.RGBA{255, 255, 255, 255}
		}
		return color.RGBA{0, 0, 0, 255}
	}
}

// blurred is a checkerboard seen out of focus: a smooth sine pattern.
func blurred(x, y int) color.RGBA {
	v := uint8(128 + 60*math.Sin(float64(x)/40)*math.Sin(float64(y)/40))
	return color.RGBA{v, v, v, 255}
}

// hgradient brightens from left to right, or darkens when reverse.
func hgradient(reverse bool) func(x, y int) color.RGBA {
	return func(x, y int) color.RGBA {
		v := uint8(x * 255 / 319)
		if reverse {
			v = 255 - v
		}
		return color.RGBA{v, v, v, 255}
	}
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func frameUnit(i int, ts float64, data []byte, mimeType string) tasks.Unit {
	return tasks.Unit{JobID: "j", Kind: tasks.KindVideo, Index: i, Timestamp: ts, Data: data, MIME: mimeType}
}

// analyzeFrame runs the local analyzer on a frame and decodes its facts.
func analyzeFrame(t testing.TB, l *analyzer.Local, u tasks.Unit) analyzer.FrameFacts {
	t.Helper()
	a, err := l.Analyze(context.Background(), u)
	if err != nil {
		t.Fatalf("Analyze frame %d: %v", u.Index, err)
	}
	if a.Analyzer != analyzer.LocalName {
		t.Errorf("Analyzer = %q", a.Analyzer)
	}
	var f analyzer.FrameFacts
	if err := json.Unmarshal(a.Output, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func newLocal(t testing.TB) *analyzer.Local {
	t.Helper()
	l, err := analyzer.NewLocal(analyzer.LocalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestFrameFacts(t *testing.T) {
	t.Parallel()
	l := newLocal(t)
	red := color.RGBA{255, 0, 0, 255}
	tests := []struct {
		name  string
		m     image.Image
		check func(t *testing.T, f analyzer.FrameFacts)
	}{
		{"black", picture(64, 36, solid(color.RGBA{0, 0, 0, 255})), func(t *testing.T, f analyzer.FrameFacts) {
			if f.Brightness != 0 || f.Contrast != 0 || f.Sharpness != 0 || f.MeanColor != "#000000" {
				t.Errorf("facts %+v, want all zero and #000000", f)
			}
			if len(f.DominantColors) != 1 || f.DominantColors[0] != (analyzer.DominantColor{Hex: "#000000", Share: 1}) {
				t.Errorf("dominant colors %+v", f.DominantColors)
			}
		}},
		{"white", picture(64, 36, solid(color.RGBA{255, 255, 255, 255})), func(t *testing.T, f analyzer.FrameFacts) {
			if f.Brightness != 255 || f.MeanColor != "#ffffff" {
				t.Errorf("brightness %v mean %s, want 255 #ffffff", f.Brightness, f.MeanColor)
			}
		}},
		{"red", picture(64, 36, solid(red)), func(t *testing.T, f analyzer.FrameFacts) {
			if f.MeanColor != "#ff0000" || f.DominantColors[0].Hex != "#ff0000" || math.Abs(f.Brightness-76.25) > 0.02 {
				t.Errorf("facts %+v, want red with luma 76.25", f)
			}
		}},
		{"half black, half white", picture(100, 50, func(x, _ int) color.RGBA {
			if x < 50 {
				return color.RGBA{0, 0, 0, 255}
			}
			return color.RGBA{255, 255, 255, 255}
		}), func(t *testing.T, f analyzer.FrameFacts) {
			if len(f.DominantColors) != 2 || f.DominantColors[0].Share != 0.5 || f.DominantColors[1].Share != 0.5 {
				t.Errorf("dominant colors %+v, want two halves", f.DominantColors)
			}
			if math.Abs(f.Contrast-127.5) > 0.01 {
				t.Errorf("contrast %v, want 127.5", f.Contrast)
			}
		}},
		{"1x1", picture(1, 1, solid(red)), func(t *testing.T, f analyzer.FrameFacts) {
			if f.Width != 1 || f.Height != 1 || f.Sharpness != 0 || len(f.DHash) != 16 {
				t.Errorf("facts %+v", f)
			}
		}},
		{"large", picture(1920, 1080, checker(4)), func(t *testing.T, f analyzer.FrameFacts) {
			if f.Width != 1920 || f.Height != 1080 {
				t.Errorf("size %dx%d, want the frame's own", f.Width, f.Height)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := analyzeFrame(t, l, frameUnit(3, 1.5, encodePNG(t, tt.m), "image/png"))
			if f.Frame != 3 || f.Timestamp != 1.5 || f.Width != tt.m.Bounds().Dx() {
				t.Errorf("frame %d at %v, %d wide; want frame 3 at 1.5 s", f.Frame, f.Timestamp, f.Width)
			}
			tt.check(t, f)
		})
	}
}

func TestFrameSharpness(t *testing.T) {
	t.Parallel()
	l := newLocal(t)
	sharp := analyzeFrame(t, l, frameUnit(0, 0, encodeJPEG(t, picture(640, 360, checker(8))), "image/jpeg"))
	soft := analyzeFrame(t, l, frameUnit(1, 0, encodeJPEG(t, picture(640, 360, blurred)), "image/jpeg"))
	if sharp.Sharpness < 1000 || soft.Sharpness > 100 || sharp.Sharpness < 50*soft.Sharpness {
		t.Errorf("sharpness of a checkerboard %v, of a soft pattern %v; want > 1000 and < 100", sharp.Sharpness, soft.Sharpness)
	}
}

func TestFrameDHash(t *testing.T) {
	t.Parallel()
	l := newLocal(t)
	scene := picture(320, 180, func(x, y int) color.RGBA {
		b := 128 + 100*math.Sin(float64(x)/30)*math.Cos(float64(y)/20)
		return color.RGBA{uint8(x * 200 / 319), uint8(y * 200 / 179), uint8(b), 255}
	})
	brighter := picture(320, 180, func(x, y int) color.RGBA {
		c := scene.RGBAAt(x, y)
		return color.RGBA{c.R + 10, c.G + 10, min(c.B, 245) + 10, 255}
	})
	hash := func(m image.Image, enc func(testing.TB, image.Image) []byte, mimeType string) string {
		return analyzeFrame(t, l, frameUnit(0, 0, enc(t, m), mimeType)).DHash
	}
	base := hash(scene, encodePNG, "image/png")
	tests := []struct {
		name     string
		other    string
		min, max int
	}{
		{"same picture as JPEG", hash(scene, encodeJPEG, "image/jpeg"), 0, 2},
		{"a little brighter", hash(brighter, encodePNG, "image/png"), 0, 2},
		{"another picture", hash(picture(320, 180, checker(40)), encodePNG, "image/png"), 10, 64},
	}
	for _, tt := range tests {
		if d := analyzer.HammingDistance(base, tt.other); d < tt.min || d > tt.max {
			t.Errorf("%s: %s vs %s: %d bits apart, want %d to %d", tt.name, base, tt.other, d, tt.min, tt.max)
		}
	}
	if up, down := hash(picture(320, 180, hgradient(false)), encodePNG, "image/png"), hash(picture(320, 180, hgradient(true)), encodePNG, "image/png"); up != "0000000000000000" || down != "ffffffffffffffff" {
		t.Errorf("dHash of a rising gradient %s, of a falling one %s", up, down)
	}
	if d := analyzer.HammingDistance("zz", base); d != -1 {
		t.Errorf("HammingDistance of a bad hash = %d, want -1", d)
	}
}

func TestFrameBadInput(t *testing.T) {
	t.Parallel()
	l := newLocal(t)
	good := encodePNG(t, picture(8, 8, checker(2)))
	tests := []struct {
		name string
		unit tasks.Unit
		code tasks.Code
	}{
		{"no data", frameUnit(0, 0, nil, "image/png"), tasks.CodeInvalidRequest},
		{"wrong MIME", frameUnit(0, 0, good, "application/pdf"), tasks.CodeInvalidRequest},
		{"not an image", frameUnit(0, 0, []byte("hello"), "image/jpeg"), tasks.CodeInvalidVideo},
		{"truncated", frameUnit(0, 0, good[:len(good)/2], "image/png"), tasks.CodeInvalidVideo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := l.Analyze(context.Background(), tt.unit)
			if got := tasks.ErrorCode(err); got != tt.code || !tasks.IsPermanent(err) {
				t.Errorf("error %v (%s), want permanent %s", err, got, tt.code)
			}
		})
	}
}

// The summary finds the scenes of a sequence with two cuts, and the frames
// that repeat the one before.
func TestSummarizeFrames(t *testing.T) {
	t.Parallel()
	l := newLocal(t)
	a := picture(320, 180, hgradient(false))
	b := picture(320, 180, checker(40))
	red := picture(320, 180, solid(color.RGBA{200, 0, 0, 255}))
	blue := picture(320, 180, solid(color.RGBA{0, 0, 200, 255}))
	seq := []image.Image{a, a, b, b, nil, b, red, blue}
	var rs []tasks.PageResult
	for i, m := range seq {
		r := tasks.PageResult{Index: i, Timestamp: float64(i), Status: tasks.PageDone}
		if m == nil {
			r.Status = tasks.PageFailed
		} else {
			an, err := l.Analyze(context.Background(), frameUnit(i, float64(i), encodeJPEG(t, m), "image/jpeg"))
			if err != nil {
				t.Fatal(err)
			}
			r.Output = an.Output
		}
		rs = append([]tasks.PageResult{r}, rs...) // any order
	}
	job := &tasks.Job{ID: "j", Kind: tasks.KindVideo, Options: tasks.Options{Sample: "fps:1", MaxFrames: 8},
		Video: &tasks.VideoInfo{DurationSec: 8.5}}
	out, err := l.SummarizeFrames(context.Background(), job, rs)
	if err != nil {
		t.Fatal(err)
	}
	var s analyzer.VideoSummary
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatal(err)
	}
	want := []analyzer.Scene{
		{Start: 0, End: 2, FirstFrame: 0, LastFrame: 1, Frames: 2, SharpestFrame: 0},
		{Start: 2, End: 6, FirstFrame: 2, LastFrame: 5, Frames: 3, SharpestFrame: 2},
		// Plain red and plain blue hash alike; their colors tell them apart.
		{Start: 6, End: 7, FirstFrame: 6, LastFrame: 6, Frames: 1, SharpestFrame: 6},
		{Start: 7, End: 8.5, FirstFrame: 7, LastFrame: 7, Frames: 1, SharpestFrame: 7},
	}
	if len(s.Scenes) != len(want) {
		t.Fatalf("scenes %+v\nwant %+v", s.Scenes, want)
	}
	for i := range want {
		if s.Scenes[i] != want[i] {
			t.Errorf("scene %d = %+v, want %+v", i, s.Scenes[i], want[i])
		}
	}
	if s.Frames != 7 || s.Failed != 1 || s.Truncated || !equalInts(s.NearDuplicates, []int{1, 3, 5}) {
		t.Errorf("summary %+v; want 7 frames, 1 failed, near-duplicates [1 3 5]", s)
	}

	// Scene sampling that reached max_frames may have missed the rest.
	job.Options.Sample = "scene:0.3"
	out, _ = l.SummarizeFrames(context.Background(), job, rs)
	if err := json.Unmarshal(out, &s); err != nil || !s.Truncated {
		t.Errorf("summary of scene sampling at max_frames: truncated %v, %v", s.Truncated, err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
