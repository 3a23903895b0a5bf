package media_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/internal/proctest"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
)

func TestVideoInspect(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	vs := newVideos(t, media.VideoConfig{})
	tests := []struct {
		file   string
		want   tasks.VideoInfo
		frames int
	}{
		{"moviepy-chaplin.mp4", tasks.VideoInfo{DurationSec: 9.64, FPS: 25, Codec: "h264", Width: 640, Height: 360, HasAudio: true, Format: "mov,mp4,m4a,3gp,3g2,mj2"}, 10},
		{"moviepy-test_video-1x1.mp4", tasks.VideoInfo{DurationSec: 5, FPS: 1, Codec: "h264", Width: 1, Height: 1, Format: "mov,mp4,m4a,3gp,3g2,mj2"}, 5},
		{"moviepy-pigs_in_a_polka.gif", tasks.VideoInfo{DurationSec: 3, FPS: 10, Codec: "gif", Width: 314, Height: 273, Format: "gif"}, 3},
		// No duration in the header: measured from the packets.
		{"moviepy-no_duration.webm", tasks.VideoInfo{DurationSec: 4.938, FPS: 14.985, Codec: "vp9", Width: 1280, Height: 720, HasAudio: true, Format: "matroska,webm"}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			for _, in := range []media.VideoInput{{Path: filepath.Join("testdata", tt.file)}, {Data: testdata(t, tt.file)}} {
				plan, err := vs.Inspect(context.Background(), in, tasks.Options{})
				if err != nil {
					t.Fatalf("Inspect: %v", err)
				}
				if !near(plan.Info.DurationSec, tt.want.DurationSec, 0.01) {
					t.Errorf("duration %v, want %v", plan.Info.DurationSec, tt.want.DurationSec)
				}
				got := plan.Info
				got.DurationSec = tt.want.DurationSec
				if got != tt.want {
					t.Errorf("info %+v\n want %+v", plan.Info, tt.want)
				}
				if plan.Options.Sample != "fps:1" || plan.Options.MaxFrames != media.DefaultMaxFrames || plan.Frames != tt.frames {
					t.Errorf("plan %+v; want the default sampling fps:1, %d frames at most, %d frames", plan, media.DefaultMaxFrames, tt.frames)
				}
			}
		})
	}
}

// Every kind of bad input ends in its own code, at Open or, for damage
// ffmpeg only meets while decoding, from Frames.
func TestVideoBadInput(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	audioOnly := genVideo(t, "audio.m4a", "-f", "lavfi", "-i", "sine=d=2", "-c:a", "aac")
	coverOnly := genVideo(t, "cover.mp4", "-f", "lavfi", "-i", "sine=d=2", "-f", "lavfi", "-i", "color=c=blue:s=64x64:d=1",
		"-map", "0:a", "-map", "1:v", "-frames:v", "1", "-c:a", "aac", "-c:v", "mjpeg", "-disposition:v", "attached_pic")
	huge := genVideo(t, "huge.mkv", "-f", "lavfi", "-i", "color=c=gray:s=8200x16:d=0.2:r=5", "-c:v", "rawvideo", "-pix_fmt", "gray")
	raw := genVideo(t, "raw.mkv", "-f", "lavfi", "-i", "testsrc=s=64x48:d=1:r=5", "-c:v", "rawvideo", "-pix_fmt", "yuv420p")
	// Rename the codec id to one no ffmpeg knows.
	unknown := writeTemp(t, "unknown.mkv", bytes.Replace(readFile(t, raw), []byte("V_UNCOMPRESSED"), []byte("V_MMQUNKNOWN01"), 1))
	gifData := testdata(t, "moviepy-pigs_in_a_polka.gif")
	ftypJunk := append([]byte("\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"), bytes.Repeat([]byte("junk"), 5000)...)

	tests := []struct {
		name string
		in   media.VideoInput
		cfg  media.VideoConfig
		// frames is set when Open succeeds and Frames fails.
		frames bool
		code   tasks.Code
	}{
		{"zero-length", media.VideoInput{Path: "testdata/moviepy-result-EMPTY.webm"}, media.VideoConfig{}, false, tasks.CodeEmptyFile},
		{"zero-length bytes", media.VideoInput{Data: []byte{}}, media.VideoConfig{}, false, tasks.CodeEmptyFile},
		{"truncated, moov lost", media.VideoInput{Path: "testdata/DERIVED-chaplin-truncated-400000B.mp4"}, media.VideoConfig{}, false, tasks.CodeInvalidVideo},
		{"truncated, data cut", media.VideoInput{Path: "testdata/DERIVED-smpte-2997-truncated-half.mp4"}, media.VideoConfig{}, true, tasks.CodeInvalidVideo},
		{"MP4 header then junk", media.VideoInput{Data: ftypJunk}, media.VideoConfig{}, false, tasks.CodeInvalidVideo},
		{"audio only", media.VideoInput{Path: audioOnly}, media.VideoConfig{}, false, tasks.CodeNoVideoStream},
		{"audio with a cover picture", media.VideoInput{Path: coverOnly}, media.VideoConfig{}, false, tasks.CodeNoVideoStream},
		{"unknown codec", media.VideoInput{Path: unknown}, media.VideoConfig{}, false, tasks.CodeUnsupportedCodec},
		{"absurd dimensions", media.VideoInput{Path: huge}, media.VideoConfig{}, false, tasks.CodeInvalidVideo},
		{"longer than the limit", media.VideoInput{Path: "testdata/moviepy-chaplin.mp4"}, media.VideoConfig{MaxDuration: 5 * time.Second}, false, tasks.CodeVideoTooLong},
		{"GIF longer than the limit", media.VideoInput{Data: gifData}, media.VideoConfig{MaxDuration: time.Second}, false, tasks.CodeVideoTooLong},
		{"truncated GIF", media.VideoInput{Data: gifData[:5000]}, media.VideoConfig{}, false, tasks.CodeInvalidVideo},
		{"GIF header only", media.VideoInput{Data: []byte("GIF89a")}, media.VideoConfig{}, false, tasks.CodeInvalidVideo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vs := newVideos(t, tt.cfg)
			v, err := vs.Open(context.Background(), tt.in, tasks.Options{Sample: "fps:2"})
			if !tt.frames {
				wantCode(t, err, tt.code)
				if msg := tasks.ErrorMessage(err); msg == "" || strings.Contains(msg, os.TempDir()) || strings.Contains(msg, "testdata") {
					t.Errorf("message %q is empty or shows a server path", msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer v.Close()
			us, err := collect(t, v, nil)
			wantCode(t, err, tt.code)
			t.Logf("%d frames before: %v", len(us), err)
		})
	}
}

func TestVideoOptions(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	vs := newVideos(t, media.VideoConfig{MaxFrames: 20})
	chaplin := media.VideoInput{Path: "testdata/moviepy-chaplin.mp4"} // 9.64 s
	tests := []struct {
		name   string
		opts   tasks.Options
		sample string
		frames int
		code   tasks.Code
	}{
		{"default", tasks.Options{}, "fps:1", 10, ""},
		{"default rate lowered to fit max_frames", tasks.Options{MaxFrames: 4}, "fps:0.414", 4, ""},
		{"explicit rate over max_frames", tasks.Options{Sample: "fps:3"}, "", 0, tasks.CodeTooManyFrames},
		{"range", tasks.Options{Sample: "fps:2", Start: 2, End: 5}, "fps:2", 6, ""},
		{"end past the video", tasks.Options{Sample: "fps:1", Start: 5, End: 99}, "fps:1", 5, ""},
		{"scene", tasks.Options{Sample: "scene:0.3"}, "scene:0.3", 0, ""},
		{"keyframes", tasks.Options{Sample: "keyframes"}, "keyframes", 0, ""},
		{"bad sample", tasks.Options{Sample: "every:2"}, "", 0, tasks.CodeInvalidRequest},
		{"fps zero", tasks.Options{Sample: "fps:0"}, "", 0, tasks.CodeInvalidRequest},
		{"scene 1", tasks.Options{Sample: "scene:1"}, "", 0, tasks.CodeInvalidRequest},
		{"max_frames above limit", tasks.Options{MaxFrames: 21}, "", 0, tasks.CodeInvalidRequest},
		{"start past the end", tasks.Options{Start: 10}, "", 0, tasks.CodeInvalidRequest},
		{"end before start", tasks.Options{Start: 3, End: 2}, "", 0, tasks.CodeInvalidRequest},
		{"negative start", tasks.Options{Start: -1}, "", 0, tasks.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			plan, err := vs.Inspect(context.Background(), chaplin, tt.opts)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if plan.Options.Sample != tt.sample || plan.Frames != tt.frames {
				t.Errorf("plan %+v; want sample %s, %d frames", plan, tt.sample, tt.frames)
			}
		})
	}
}

// The frames of fps:<n> come at start, start + 1/n..., as many as the plan
// says, decodable, with their size.
func TestFramesFPS(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	vs := newVideos(t, media.VideoConfig{})
	tests := []struct {
		file string
		opts tasks.Options
		want []float64
	}{
		{"moviepy-chaplin.mp4", tasks.Options{Sample: "fps:1"}, []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"moviepy-chaplin.mp4", tasks.Options{Sample: "fps:2", Start: 2, End: 5}, []float64{2, 2.5, 3, 3.5, 4, 4.5}},
		{"moviepy-chaplin.mp4", tasks.Options{Sample: "fps:0.25"}, []float64{0, 4, 8}},
		{"moviepy-chaplin.mp4", tasks.Options{Sample: "fps:1", End: 3}, []float64{0, 1, 2}},
		{"moviepy-test_video-1x1.mp4", tasks.Options{Sample: "fps:1"}, []float64{0, 1, 2, 3, 4}},
		{"moviepy-no_duration.webm", tasks.Options{Sample: "fps:1"}, []float64{0, 1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%v-%v", tt.file, tt.opts.Sample, tt.opts.Start, tt.opts.End), func(t *testing.T) {
			t.Parallel()
			v := openVideo(t, vs, filepath.Join("testdata", tt.file), tt.opts)
			us, err := collect(t, v, nil)
			if err != nil {
				t.Fatal(err)
			}
			if plan := v.Plan(); plan.Frames != len(us) {
				t.Errorf("plan says %d frames, ffmpeg made %d", plan.Frames, len(us))
			}
			checkFrames(t, us, tt.want, 0.001)
			info := v.Plan().Info
			for _, u := range us {
				if u.Width != info.Width || u.Height != info.Height || u.Kind != tasks.KindVideo {
					t.Errorf("frame %d: %dx%d kind %q, want %dx%d video", u.Index, u.Width, u.Height, u.Kind, info.Width, info.Height)
				}
				decodeUnit(t, u)
			}
		})
	}
}

// checkFrames checks indexes 0, 1... and timestamps within tol of want.
func checkFrames(t testing.TB, us []tasks.Unit, want []float64, tol float64) {
	t.Helper()
	got := timestamps(us)
	if len(got) != len(want) {
		t.Fatalf("%d frames at %v, want %d at %v", len(got), got, len(want), want)
	}
	for i, u := range us {
		if u.Index != i || !near(u.Timestamp, want[i], tol) {
			t.Errorf("frame %d: index %d at %v s, want %v s", i, u.Index, u.Timestamp, want[i])
		}
		if i > 0 && u.Timestamp <= us[i-1].Timestamp {
			t.Errorf("timestamps do not increase: %v", got)
		}
	}
}

// Scene detection finds the cuts of a video made with cuts at 2 s and 4 s;
// keyframes finds the encoder's one-second GOPs.
func TestFramesSceneAndKeyframes(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	vs := newVideos(t, media.VideoConfig{})
	cuts := cutsVideo(t)
	tests := []struct {
		opts tasks.Options
		want []float64
	}{
		{tasks.Options{Sample: "scene:0.3"}, []float64{0, 2, 4}},
		{tasks.Options{Sample: "scene:0.3", Start: 1}, []float64{1, 2, 4}},
		{tasks.Options{Sample: "scene:0.3", MaxFrames: 2}, []float64{0, 2}},
		{tasks.Options{Sample: "keyframes"}, []float64{0, 1, 2, 3, 4, 5}},
		{tasks.Options{Sample: "keyframes", Start: 2.5, End: 5}, []float64{3, 4}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v-%v/%d", tt.opts.Sample, tt.opts.Start, tt.opts.End, tt.opts.MaxFrames), func(t *testing.T) {
			t.Parallel()
			v := openVideo(t, vs, cuts, tt.opts)
			us, err := collect(t, v, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkFrames(t, us, tt.want, 0.05)
			for _, u := range us {
				decodeUnit(t, u)
			}
		})
	}
}

// An animated GIF is decoded in Go, without ffmpeg.
func TestFramesGIF(t *testing.T) {
	t.Parallel()
	vs := newVideos(t, media.VideoConfig{FFmpegPath: "/nonexistent/ffmpeg", FFprobePath: "/nonexistent/ffprobe"})
	data := testdata(t, "moviepy-pigs_in_a_polka.gif")
	every := make([]float64, 30)
	for i := range every {
		every[i] = float64(i) / 10
	}
	tests := []struct {
		opts tasks.Options
		want []float64
	}{
		{tasks.Options{Sample: "keyframes"}, every},
		{tasks.Options{Sample: "fps:2"}, []float64{0, 0.5, 1, 1.5, 2, 2.5}},
		{tasks.Options{Sample: "fps:1", Start: 0.5, End: 2.6}, []float64{0.5, 1.5, 2.5}},
		{tasks.Options{Sample: "keyframes", MaxFrames: 4, Start: 1.05}, []float64{1.05, 1.1, 1.2, 1.3}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v-%v/%d", tt.opts.Sample, tt.opts.Start, tt.opts.End, tt.opts.MaxFrames), func(t *testing.T) {
			t.Parallel()
			v, err := vs.Open(context.Background(), media.VideoInput{Data: data}, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			us, err := collect(t, v, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkFrames(t, us, tt.want, 1e-6)
			for _, u := range us {
				if u.MIME != "image/png" || u.Width != 314 || u.Height != 273 {
					t.Errorf("frame %d: %s %dx%d", u.Index, u.MIME, u.Width, u.Height)
				}
				decodeUnit(t, u)
			}
		})
	}

	t.Run("scene", func(t *testing.T) {
		t.Parallel()
		v, err := vs.Open(context.Background(), media.VideoInput{Data: data}, tasks.Options{Sample: "scene:0.05"})
		if err != nil {
			t.Fatal(err)
		}
		us, err := collect(t, v, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The cartoon moves a little each frame: a low threshold keeps
		// some frames, never all, and always the first.
		if len(us) == 0 || len(us) >= 30 || us[0].Timestamp != 0 {
			t.Errorf("scene:0.05 kept %d of 30 frames, at %v", len(us), timestamps(us))
		}
	})

	t.Run("matches ffmpeg", func(t *testing.T) {
		needFFmpeg(t)
		t.Parallel()
		// ffmpeg composites the GIF the same way: the pictures agree.
		withFF := newVideos(t, media.VideoConfig{})
		path := writeTemp(t, "pigs.mkv", nil)
		genVideoTo(t, path, "-i", "testdata/moviepy-pigs_in_a_polka.gif", "-c:v", "ffv1", "-pix_fmt", "bgra")
		ours, err := collect(t, mustOpen(t, vs, media.VideoInput{Data: data}, tasks.Options{Sample: "keyframes"}), nil)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := collect(t, mustOpen(t, withFF, media.VideoInput{Path: path}, tasks.Options{Sample: "fps:10"}), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(theirs) != len(ours) {
			t.Fatalf("ffmpeg made %d frames, we made %d", len(theirs), len(ours))
		}
		for _, i := range []int{0, 10, 29} {
			if d := meanAbsDiff(decodeUnit(t, ours[i]), decodeUnit(t, theirs[i])); d > 6 {
				t.Errorf("frame %d differs from ffmpeg's by %.1f per channel on average", i, d)
			}
		}
	})
}

// A retried job resumes: with fps sampling ffmpeg seeks past the leading
// done frames; other frames in done are decoded but not yielded.
func TestFramesResume(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	vs := newVideos(t, media.VideoConfig{})
	full := func(t *testing.T, path string, opts tasks.Options) []tasks.Unit {
		us, err := collect(t, openVideo(t, vs, path, opts), nil)
		if err != nil {
			t.Fatal(err)
		}
		return us
	}
	cuts := cutsVideo(t)
	tests := []struct {
		name string
		path string
		opts tasks.Options
		done []int
	}{
		{"fps, leading frames done", "testdata/moviepy-chaplin.mp4", tasks.Options{Sample: "fps:1"}, []int{0, 1, 2, 3}},
		{"fps, scattered frames done", "testdata/moviepy-chaplin.mp4", tasks.Options{Sample: "fps:1"}, []int{0, 1, 5, 9}},
		{"fps in a range", "testdata/moviepy-chaplin.mp4", tasks.Options{Sample: "fps:2", Start: 1, End: 6}, []int{0, 1, 2}},
		{"fps, all done", "testdata/moviepy-chaplin.mp4", tasks.Options{Sample: "fps:1"}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"scene", cuts, tasks.Options{Sample: "scene:0.3"}, []int{0, 2}},
		{"GIF", "testdata/moviepy-pigs_in_a_polka.gif", tasks.Options{Sample: "fps:4"}, []int{0, 1, 2, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			all := full(t, tt.path, tt.opts)
			var want []tasks.Unit
			for _, u := range all {
				if !slices.Contains(tt.done, u.Index) {
					want = append(want, u)
				}
			}
			got, err := collect(t, openVideo(t, vs, tt.path, tt.opts), tt.done)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("resumed run made frames %v, want %v", indexes(got), indexes(want))
			}
			for i := range got {
				if got[i].Index != want[i].Index || !near(got[i].Timestamp, want[i].Timestamp, 0.05) {
					t.Errorf("frame %d at %v s, want frame %d at %v s", got[i].Index, got[i].Timestamp, want[i].Index, want[i].Timestamp)
				}
			}
		})
	}
}

func indexes(us []tasks.Unit) []int {
	s := make([]int, len(us))
	for i, u := range us {
		s[i] = u.Index
	}
	return s
}

// Canceling the context, stopping the iteration or running out of time
// kills ffmpeg: no process is left behind.
func TestFramesStopKillsFFmpeg(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	long := testsrcVideo(t, 30)
	tests := []struct {
		name string
		cfg  media.VideoConfig
		// stop ends the iteration after the first frame; it returns the
		// error Frames must end with, nil when the loop breaks itself.
		stop func(cancel context.CancelFunc) (brk bool)
		code tasks.Code
		want error
	}{
		{"cancel", media.VideoConfig{}, func(cancel context.CancelFunc) bool { cancel(); return false }, "", context.Canceled},
		{"break", media.VideoConfig{}, func(context.CancelFunc) bool { return true }, "", nil},
		{"timeout", media.VideoConfig{Timeout: 300 * time.Millisecond}, func(context.CancelFunc) bool { return false }, tasks.CodeTimeout, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.MaxFrames = 1000
			vs := newVideos(t, tt.cfg)
			v := openVideo(t, vs, long, tasks.Options{Sample: "fps:25"})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var (
				pids   []int
				endErr error
				n      int
			)
			for _, err := range v.Frames(ctx, nil) {
				if err != nil {
					endErr = err
					break
				}
				n++
				if n == 1 {
					pids = proctest.FFmpegReading(t, long)
					if len(pids) != 1 {
						t.Fatalf("%d ffmpeg processes read %s, want 1", len(pids), long)
					}
					if tt.stop(cancel) {
						break
					}
					if tt.name == "timeout" {
						// A slow consumer: ffmpeg waits on the pipe until the
						// timeout kills it.
						waitGone(t, pids[0], 10*time.Second)
					}
				}
			}
			switch {
			case tt.code != "":
				wantCode(t, endErr, tt.code)
			case !errors.Is(endErr, tt.want) && endErr != tt.want:
				t.Errorf("Frames ended with %v, want %v", endErr, tt.want)
			}
			if n > 100 {
				t.Errorf("%d frames read after the stop", n)
			}
			// Killed and reaped: not even a zombie is left.
			for _, pid := range pids {
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
					t.Errorf("ffmpeg (pid %d) still exists after the iteration ended", pid)
				}
			}
		})
	}
}

// waitGone waits until pid is no longer a running process.
func waitGone(t testing.TB, pid int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs after %v", pid, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesized command name.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// Without ffmpeg, videos fail with a clear code; GIFs still work.
func TestVideoWithoutFFmpeg(t *testing.T) {
	t.Parallel()
	vs := newVideos(t, media.VideoConfig{FFmpegPath: "/nonexistent/ffmpeg"})
	wantCode(t, vs.Available(), tasks.CodeFFmpegUnavailable)
	_, err := vs.Inspect(context.Background(), media.VideoInput{Path: "testdata/moviepy-chaplin.mp4"}, tasks.Options{})
	wantCode(t, err, tasks.CodeFFmpegUnavailable)
	if _, err := vs.Inspect(context.Background(), media.VideoInput{Path: "testdata/moviepy-pigs_in_a_polka.gif"}, tasks.Options{}); err != nil {
		t.Errorf("GIF without ffmpeg: %v", err)
	}
}

func TestVideoConfigValidate(t *testing.T) {
	t.Parallel()
	for _, cfg := range []media.VideoConfig{
		{DefaultSample: "fps:nope"},
		{JPEGQuality: 40},
		{MaxFrames: -1},
		{Timeout: -time.Second},
	} {
		if _, err := media.NewVideos(cfg); err == nil {
			t.Errorf("NewVideos(%+v) accepted a bad config", cfg)
		}
	}
}

// The copy of an input given as bytes is removed by Close.
func TestVideoCloseRemovesCopy(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	dir := t.TempDir()
	vs := newVideos(t, media.VideoConfig{TempDir: dir})
	v, err := vs.Open(context.Background(), media.VideoInput{Data: testdata(t, "moviepy-test_video-1x1.mp4")}, tasks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the temp dir while open, want the one copy", len(entries))
	}
	if _, err := collect(t, v, nil); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%d files left in the temp dir after Close", len(entries))
	}
	if _, err := vs.Inspect(context.Background(), media.VideoInput{Data: testdata(t, "moviepy-test_video-1x1.mp4")}, tasks.Options{}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Inspect left %d files in the temp dir", len(entries))
	}
}

// A video a player shows turned a quarter has its facts and frames turned.
func TestVideoRotated(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	plain := genVideo(t, "plain.mp4", "-f", "lavfi", "-i", "testsrc=s=320x240:d=2:r=5", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
	rotated := genVideo(t, "rotated.mp4", "-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=90")
	vs := newVideos(t, media.VideoConfig{})
	v := openVideo(t, vs, rotated, tasks.Options{Sample: "fps:1"})
	if info := v.Plan().Info; info.Width != 240 || info.Height != 320 {
		t.Errorf("facts say %dx%d, want 240x320", info.Width, info.Height)
	}
	us, err := collect(t, v, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		if u.Width != 240 || u.Height != 320 {
			t.Errorf("frame %d is %dx%d, want 240x320", u.Index, u.Width, u.Height)
		}
		decodeUnit(t, u)
	}
}
