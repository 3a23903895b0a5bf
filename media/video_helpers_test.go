package media_test

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
)

// needFFmpeg skips the test when ffmpeg or ffprobe is missing, and fails it
// in CI, where they are required.
func needFFmpeg(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if !hasTool(tool) {
			needInCI(t, tool)
			t.Skipf("%s is not installed", tool)
		}
	}
}

// needInCI fails the test when CI is set: .ci/run installs every external
// program the tests use, so a missing one there is a broken setup, not a
// reason to skip.
func needInCI(t testing.TB, tool string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required in CI", tool)
	}
}

// newVideos returns Videos with cfg on top of the defaults.
func newVideos(t testing.TB, cfg media.VideoConfig) *media.Videos {
	t.Helper()
	v, err := media.NewVideos(cfg)
	if err != nil {
		t.Fatalf("NewVideos: %v", err)
	}
	return v
}

// genVideo has ffmpeg write a video from lavfi sources into the test's
// temp dir and returns its path. args go between the global options and the
// output file.
func genVideo(t testing.TB, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	full := append([]string{"-nostdin", "-v", "error", "-y"}, args...)
	if b, err := exec.Command("ffmpeg", append(full, out)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

// cutsVideo is 6 s of 320x240 at 25 fps with hard cuts at 2 s and 4 s: a
// test pattern, color bars, then plain red.
func cutsVideo(t testing.TB) string {
	return genVideo(t, "cuts.mp4",
		"-f", "lavfi", "-i", "testsrc=s=320x240:d=2:r=25",
		"-f", "lavfi", "-i", "smptebars=s=320x240:d=2:r=25",
		"-f", "lavfi", "-i", "color=c=red:s=320x240:d=2:r=25",
		"-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1[v]", "-map", "[v]",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25", "-sc_threshold", "0")
}

// testsrcVideo is seconds of 320x240 test pattern at 25 fps.
func testsrcVideo(t testing.TB, seconds int) string {
	return genVideo(t, "testsrc-"+strconv.Itoa(seconds)+"s.mp4",
		"-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d="+strconv.Itoa(seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
}

// collect runs Frames to its end and returns the frames and the error that
// ended it.
func collect(t testing.TB, v *media.Video, done []int) ([]tasks.Unit, error) {
	t.Helper()
	var us []tasks.Unit
	for u, err := range v.Frames(context.Background(), done) {
		if err != nil {
			return us, err
		}
		us = append(us, u)
	}
	return us, nil
}

// openVideo opens the file at path and fails the test on error.
func openVideo(t testing.TB, vs *media.Videos, path string, opts tasks.Options) *media.Video {
	t.Helper()
	v, err := vs.Open(context.Background(), media.VideoInput{Path: path}, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// timestamps returns the frames' timestamps.
func timestamps(us []tasks.Unit) []float64 {
	ts := make([]float64, len(us))
	for i, u := range us {
		ts[i] = u.Timestamp
	}
	return ts
}

// decodeUnit decodes a frame's image and checks it against the unit's
// fields.
func decodeUnit(t testing.TB, u tasks.Unit) image.Image {
	t.Helper()
	var (
		m   image.Image
		err error
	)
	switch u.MIME {
	case "image/jpeg":
		m, err = jpeg.Decode(bytes.NewReader(u.Data))
	case "image/png":
		m, err = png.Decode(bytes.NewReader(u.Data))
	default:
		t.Fatalf("frame %d has MIME %q", u.Index, u.MIME)
	}
	if err != nil {
		t.Fatalf("frame %d does not decode: %v", u.Index, err)
	}
	if b := m.Bounds(); b.Dx() != u.Width || b.Dy() != u.Height {
		t.Errorf("frame %d is %dx%d, unit says %dx%d", u.Index, b.Dx(), b.Dy(), u.Width, u.Height)
	}
	return m
}

// near reports whether a and b differ by at most tol.
func near(a, b, tol float64) bool { return a-b <= tol && b-a <= tol }

// genVideoTo has ffmpeg write out from args.
func genVideoTo(t testing.TB, out string, args ...string) {
	t.Helper()
	full := append([]string{"-nostdin", "-v", "error", "-y"}, args...)
	if b, err := exec.Command("ffmpeg", append(full, out)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, b)
	}
}

// mustOpen opens in and fails the test on error.
func mustOpen(t testing.TB, vs *media.Videos, in media.VideoInput, opts tasks.Options) *media.Video {
	t.Helper()
	v, err := vs.Open(context.Background(), in, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// readFile returns the content of path.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// meanAbsDiff is the mean absolute difference of two same-sized images'
// RGB values, from 0 to 255.
func meanAbsDiff(a, b image.Image) float64 {
	r := a.Bounds().Intersect(b.Bounds())
	var sum, n float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ar, ag, ab, _ := a.At(x, y).RGBA()
			br, bg, bb, _ := b.At(x, y).RGBA()
			for _, d := range [][2]uint32{{ar, br}, {ag, bg}, {ab, bb}} {
				sum += math.Abs(float64(d[0]>>8) - float64(d[1]>>8))
			}
			n += 3
		}
	}
	return sum / n
}
