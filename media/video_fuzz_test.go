package media_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
)

// videoInputCodes are the codes Inspect may give a client's video.
var videoInputCodes = map[tasks.Code]bool{
	tasks.CodeEmptyFile: true, tasks.CodeInvalidVideo: true, tasks.CodeNoVideoStream: true,
	tasks.CodeUnsupportedCodec: true, tasks.CodeVideoTooLong: true, tasks.CodeTooManyFrames: true,
	tasks.CodeInvalidRequest: true,
}

// FuzzVideoInspect probes fuzzed video files with fuzzed sampling options:
// a GIF through media's own parser, anything else through ffprobe and the
// handling of what it reports. Every error must be a permanent *tasks.Error
// with a video input code, and a plan must keep within the limits: sane
// facts, a frame count within max_frames, a time range within the video.
// Without ffmpeg only GIFs are probed.
func FuzzVideoInspect(f *testing.F) {
	for _, name := range []string{"moviepy-test_video-1x1.mp4", "video-zero-duration.mp4", "video-audio-only.m4a", "video-truncated.mp4"} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "bad", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "", 0, 0.0, 0.0)
	}
	f.Add(tinyGIF(f), "", 0, 0.0, 0.0)
	f.Add(tinyGIF(f), "fps:30", 2, 0.01, 0.05)
	f.Add(tinyGIF(f), "scene:0.3", 0, 0.0, 0.0)
	f.Add(tinyGIF(f), "keyframes", 1000, -1.0, 1e300)
	f.Add([]byte("GIF89a"), "fps:1", 0, 0.0, 0.0)
	_, ffErr := exec.LookPath("ffprobe")
	vs, err := media.NewVideos(media.VideoConfig{ProbeTimeout: 10 * time.Second, TempDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte, sample string, maxFrames int, start, end float64) {
		isGIF := bytes.HasPrefix(data, []byte("GIF87a")) || bytes.HasPrefix(data, []byte("GIF89a"))
		if ffErr != nil && !isGIF && len(data) > 0 {
			t.Skip("ffprobe not installed")
		}
		opts := tasks.Options{Sample: sample, MaxFrames: maxFrames, Start: start, End: end}
		plan, err := vs.Inspect(ctx, media.VideoInput{Data: data}, opts)
		if err != nil {
			var te *tasks.Error
			if !errors.As(err, &te) || !videoInputCodes[te.Code] || !tasks.IsPermanent(err) || te.Message == "" {
				t.Fatalf("Inspect: %v (%T) is no video input error", err, err)
			}
			return
		}
		in, o := plan.Info, plan.Options
		for _, v := range []float64{in.DurationSec, in.FPS, o.Start, o.End} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Fatalf("plan %+v holds %v", plan, v)
			}
		}
		if in.Width <= 0 || in.Height <= 0 || in.Width > media.DefaultMaxVideoDimension || in.Height > media.DefaultMaxVideoDimension {
			t.Fatalf("plan of a %dx%d video", in.Width, in.Height)
		}
		if o.Sample == "" || o.MaxFrames <= 0 || o.MaxFrames > media.DefaultMaxFrames || plan.Frames > o.MaxFrames {
			t.Fatalf("plan %+v: %d frames, max_frames %d", plan, plan.Frames, o.MaxFrames)
		}
		if o.End != 0 && (o.End < o.Start || o.End > in.DurationSec+1e-9) {
			t.Fatalf("plan range [%v, %v] of a %v s video", o.Start, o.End, in.DurationSec)
		}
	})
}

// tinyGIF is a 2-frame 4x4 animated GIF.
func tinyGIF(f *testing.F) []byte {
	f.Helper()
	pal := color.Palette{color.Black, color.White}
	anim := &gif.GIF{}
	for i := range 2 {
		img := image.NewPaletted(image.Rect(0, 0, 4, 4), pal)
		img.SetColorIndex(i, i, 1)
		anim.Image = append(anim.Image, img)
		anim.Delay = append(anim.Delay, 10)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, anim); err != nil {
		f.Fatal(err)
	}
	return b.Bytes()
}
