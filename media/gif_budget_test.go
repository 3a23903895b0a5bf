package media_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/gif"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
)

// hostileGIF is the GIF of a security review: a 7680x4320 logical screen
// and 300 frames of 1x1, a second each, in about 7 KB. Composited and
// encoded frame by frame it took 118 s and 1.2 GB.
func hostileGIF(t testing.TB) []byte {
	t.Helper()
	pal := color.Palette{color.Black, color.White}
	anim := &gif.GIF{Config: image.Config{Width: 7680, Height: 4320, ColorModel: pal}}
	for i := range 300 {
		m := image.NewPaletted(image.Rect(i, i, i+1, i+1), pal)
		anim.Image = append(anim.Image, m)
		anim.Delay = append(anim.Delay, 100)
		anim.Disposal = append(anim.Disposal, gif.DisposalNone)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, anim); err != nil {
		t.Fatal(err)
	}
	if b.Len() > 16<<10 {
		t.Fatalf("the hostile GIF is %d bytes, want a few KB", b.Len())
	}
	return b.Bytes()
}

// TestOpenHostileGIFRefused opens the hostile GIF with every sampling: each
// is refused with CodeDecodeTooLarge, a permanent error whose message gives
// the canvas, the frames and the budget, quickly and without allocating a
// canvas.
func TestOpenHostileGIFRefused(t *testing.T) {
	data := hostileGIF(t)
	vs := newVideos(t, media.VideoConfig{})
	for _, sample := range []string{"", "fps:1", "fps:0.5", "keyframes", "scene:0.3"} {
		t.Run(sample, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			v, err := vs.Open(context.Background(), media.VideoInput{Data: data}, tasks.Options{Sample: sample})
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if err == nil {
				v.Close()
				t.Fatal("Open accepted the hostile GIF")
			}
			t.Logf("refused in %v: %v", elapsed, err)
			if code := tasks.ErrorCode(err); code != tasks.CodeDecodeTooLarge {
				t.Fatalf("code %q, want %q (%v)", code, tasks.CodeDecodeTooLarge, err)
			}
			if !tasks.IsPermanent(err) {
				t.Error("the error is not permanent: retries would be burned on it")
			}
			msg := tasks.ErrorMessage(err)
			for _, want := range []string{"7680x4320", strconv.Itoa(media.DefaultMaxDecodePixels)} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not say %s", msg, want)
				}
			}
			if elapsed > 10*time.Second {
				t.Errorf("refusal took %v", elapsed)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Errorf("refusing allocated %d MiB; a canvas is 126 MiB", alloc>>20)
			}
		})
	}
	// Inspect, as the API calls it, refuses it the same way.
	if _, err := vs.Inspect(context.Background(), media.VideoInput{Data: data}, tasks.Options{}); tasks.ErrorCode(err) != tasks.CodeDecodeTooLarge {
		t.Errorf("Inspect: %v, want %s", err, tasks.CodeDecodeTooLarge)
	}
}

// TestHostileGIFWithinBudget takes as few frames of the hostile GIF as the
// refusal's message suggests: they fit the budget and are decoded.
func TestHostileGIFWithinBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes 7680x4320 PNGs")
	}
	vs := newVideos(t, media.VideoConfig{})
	v := mustOpen(t, vs, media.VideoInput{Data: hostileGIF(t)}, tasks.Options{MaxFrames: 2})
	start := time.Now()
	us, err := collect(t, v, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("2 frames of 7680x4320 in %v", time.Since(start))
	if len(us) != 2 || us[0].Width != 7680 || us[0].Height != 4320 {
		t.Fatalf("got %d frames, first %dx%d", len(us), us[0].Width, us[0].Height)
	}
}

// TestGIFDecodeBudget checks an ordinary GIF against budgets around its
// cost: 4 pictures of its 314x273 canvas (fps:2 over 2 s) and the pixels of
// the frames composited to reach them.
func TestGIFDecodeBudget(t *testing.T) {
	data := testdata(t, "moviepy-pigs_in_a_polka.gif")
	opts := tasks.Options{Sample: "fps:2", End: 2}
	const canvas = 314 * 273
	// With the default budget, it opens and yields its frames.
	v := mustOpen(t, newVideos(t, media.VideoConfig{}), media.VideoInput{Data: data}, opts)
	if us, err := collect(t, v, nil); err != nil || len(us) != 4 {
		t.Fatalf("got %d frames, %v; want 4", len(us), err)
	}
	// Less than the 4 pictures is refused.
	_, err := newVideos(t, media.VideoConfig{MaxDecodePixels: 4*canvas - 1}).Open(context.Background(), media.VideoInput{Data: data}, opts)
	if tasks.ErrorCode(err) != tasks.CodeDecodeTooLarge {
		t.Fatalf("budget below 4 canvases: %v, want %s", err, tasks.CodeDecodeTooLarge)
	}
	if msg := tasks.ErrorMessage(err); !strings.Contains(msg, "314x273") || !strings.Contains(msg, "4 frames") {
		t.Errorf("message %q does not give the canvas and the frames", msg)
	}
	// The 4 pictures and the frames composited (at most 16 full frames at
	// 10 fps up to 1.5 s) fit.
	mustOpen(t, newVideos(t, media.VideoConfig{MaxDecodePixels: 20 * canvas}), media.VideoInput{Data: data}, opts)
}

// TestVideoDecodeBudget refuses a video whose probe says the job's frames
// exceed the budget: 2 s of 320x240 at fps:1 is 2 frames, scene sampling
// up to max_frames.
func TestVideoDecodeBudget(t *testing.T) {
	needFFmpeg(t)
	path := testsrcVideo(t, 2)
	const picture = 320 * 240
	for _, c := range []struct {
		name   string
		budget int64
		opts   tasks.Options
		ok     bool
	}{
		{"fps within", 2 * picture, tasks.Options{Sample: "fps:1"}, true},
		{"fps over", 2*picture - 1, tasks.Options{Sample: "fps:1"}, false},
		{"scene within", 3 * picture, tasks.Options{Sample: "scene:0.3", MaxFrames: 3}, true},
		{"scene over", 3 * picture, tasks.Options{Sample: "scene:0.3", MaxFrames: 4}, false},
		{"keyframes over", 3 * picture, tasks.Options{Sample: "keyframes"}, false},
		{"default budget", 0, tasks.Options{Sample: "fps:25"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			vs := newVideos(t, media.VideoConfig{MaxDecodePixels: c.budget})
			v, err := vs.Open(context.Background(), media.VideoInput{Path: path}, c.opts)
			if c.ok {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				v.Close()
				return
			}
			if err == nil {
				v.Close()
				t.Fatal("Open accepted a job over the budget")
			}
			if tasks.ErrorCode(err) != tasks.CodeDecodeTooLarge || !tasks.IsPermanent(err) {
				t.Fatalf("%v: want a permanent %s", err, tasks.CodeDecodeTooLarge)
			}
			msg := tasks.ErrorMessage(err)
			if !strings.Contains(msg, "320x240") || !strings.Contains(msg, strconv.FormatInt(c.budget, 10)) {
				t.Errorf("message %q does not give the size and the budget", msg)
			}
			t.Log(msg)
		})
	}
	// A probe recorded by the API is checked again.
	info := tasks.VideoInfo{DurationSec: 2, FPS: 25, Codec: "h264", Format: "mov,mp4,m4a,3gp,3g2,mj2", Width: 7680, Height: 4320}
	_, err := newVideos(t, media.VideoConfig{MaxDecodePixels: 1_000_000_000}).Open(context.Background(), media.VideoInput{Path: path, Info: &info}, tasks.Options{Sample: "fps:25"})
	if tasks.ErrorCode(err) != tasks.CodeDecodeTooLarge {
		t.Errorf("50 frames of a recorded 7680x4320 probe: %v, want %s", err, tasks.CodeDecodeTooLarge)
	}
}
