package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/internal/proctest"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
)

var _ api.InspectVideoFunc = inspectVideo(nil)

// inspectVideo is the InspectVideo cmd/mmq wires.
func inspectVideo(vs *media.Videos) api.InspectVideoFunc {
	return func(ctx context.Context, data []byte, opts tasks.Options) (*tasks.VideoPlan, error) {
		return vs.Inspect(ctx, media.VideoInput{Data: data}, opts)
	}
}

// withVideos wires InspectVideo with cfg.
func withVideos(t *testing.T, cfg media.VideoConfig) func(*api.Config, *api.Deps) {
	t.Helper()
	vs, err := media.NewVideos(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return func(_ *api.Config, d *api.Deps) { d.InspectVideo = inspectVideo(vs) }
}

func needFFmpeg(t *testing.T) {
	t.Helper()
	proctest.Need(t, "ffmpeg", "ffprobe")
}

// genVideo has ffmpeg write a video from args into the test's temp dir.
func genVideo(t *testing.T, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	full := append([]string{"-nostdin", "-v", "error", "-y"}, args...)
	if b, err := exec.Command("ffmpeg", append(full, out)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	return out
}

// An uploaded video is probed before it is accepted: the job records its
// facts and the frames planned, and a video:analyze task is queued.
func TestSubmitVideo(t *testing.T) {
	needFFmpeg(t)
	b := setup(t, withVideos(t, media.VideoConfig{}))
	ctx := context.Background()
	clip := genVideo(t, "clip.mp4", "-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=6", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
	tests := []struct {
		name   string
		opts   client.SubmitOptions
		want   tasks.Options
		frames int
	}{
		{"defaults", client.SubmitOptions{}, tasks.Options{Sample: "fps:1", MaxFrames: api.DefaultMaxFrames}, 6},
		{"range", client.SubmitOptions{Sample: "fps:2", MaxFrames: 10, Start: 1, End: 3}, tasks.Options{Sample: "fps:2", MaxFrames: 10, Start: 1, End: 3}, 4},
		{"scene", client.SubmitOptions{Sample: "scene:0.4"}, tasks.Options{Sample: "scene:0.4", MaxFrames: api.DefaultMaxFrames}, 0},
		{"default rate fitted to max_frames", client.SubmitOptions{MaxFrames: 3}, tasks.Options{Sample: "fps:0.5", MaxFrames: 3}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job, err := b.client.SubmitFile(ctx, clip, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := mustJob(t, b, job.ID)
			if got.Kind != tasks.KindVideo || got.PagesTotal != tt.frames || got.Video == nil || got.Video.Codec != "h264" || got.Video.Width != 320 {
				t.Errorf("job = %+v, want a video job of %d frames with its facts", got, tt.frames)
			}
			o := got.Options
			if o.Sample != tt.want.Sample || o.MaxFrames != tt.want.MaxFrames || o.Start != tt.want.Start || o.End != tt.want.End {
				t.Errorf("options %+v, want %+v", o, tt.want)
			}
			info, err := b.insp.GetTaskInfo("default", job.ID)
			if err != nil || info.Type != tasks.TypeVideoAnalyze {
				t.Errorf("task %+v, %v; want a video:analyze task", info, err)
			}
		})
	}

	t.Run("GIF", func(t *testing.T) {
		job, err := b.client.SubmitFile(ctx, "../media/testdata/moviepy-pigs_in_a_polka.gif", client.SubmitOptions{Sample: "keyframes"})
		if err != nil {
			t.Fatal(err)
		}
		if job.Kind != tasks.KindVideo || job.Video == nil || job.Video.Codec != "gif" || job.Video.DurationSec != 3 {
			t.Errorf("GIF job = %+v", job)
		}
	})

	t.Run("by URL", func(t *testing.T) {
		// The worker fetches and probes it; the options are checked now.
		job, err := b.client.SubmitURL(ctx, "https://example.com/talk.mp4", client.SubmitOptions{Sample: "scene:0.25", MaxFrames: 40, Start: 60})
		if err != nil {
			t.Fatal(err)
		}
		if o := mustJob(t, b, job.ID).Options; o.Sample != "scene:0.25" || o.MaxFrames != 40 || o.Start != 60 {
			t.Errorf("options %+v", o)
		}
	})
}

// Bad videos and bad video options are refused with their 4xx, and leave
// neither a job nor a task behind.
func TestSubmitVideoRefused(t *testing.T) {
	needFFmpeg(t)
	b := setup(t, withVideos(t, media.VideoConfig{MaxDuration: 8 * time.Second}))
	ctx := context.Background()
	clip := genVideo(t, "clip.mp4", "-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
	long := genVideo(t, "long.mp4", "-f", "lavfi", "-i", "testsrc=s=64x48:r=5:d=10", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
	audio := genVideo(t, "audio.m4a", "-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac")
	data, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	cut := writeTemp(t, "cut.mp4", data[:len(data)/2])
	raw := func(contentType, body string) func() error {
		return func() error {
			resp, data := b.do(t, http.MethodPost, "/v1/jobs", contentType, strings.NewReader(body))
			return decodeAPIError(resp, data)
		}
	}
	file := func(path string, opts client.SubmitOptions) func() error {
		return func() error { _, err := b.client.SubmitFile(ctx, path, opts); return err }
	}
	tests := []struct {
		name   string
		submit func() error
		status int
		code   tasks.Code
	}{
		{"zero-length video", file("../media/testdata/moviepy-result-EMPTY.webm", client.SubmitOptions{}), 400, tasks.CodeEmptyFile},
		{"truncated", file(cut, client.SubmitOptions{}), 422, tasks.CodeInvalidVideo},
		{"truncated, moov lost", file("../media/testdata/DERIVED-chaplin-truncated-400000B.mp4", client.SubmitOptions{}), 422, tasks.CodeInvalidVideo},
		{"audio only", file(audio, client.SubmitOptions{}), 422, tasks.CodeNoVideoStream},
		{"too long", file(long, client.SubmitOptions{}), 422, tasks.CodeVideoTooLong},
		{"too many frames", file(clip, client.SubmitOptions{Sample: "fps:30", MaxFrames: 50}), 422, tasks.CodeTooManyFrames},
		{"start past the end", file(clip, client.SubmitOptions{Start: 5}), 400, tasks.CodeInvalidRequest},
		{"bad sample", file(clip, client.SubmitOptions{Sample: "every:2s"}), 400, tasks.CodeInvalidRequest},
		{"max_frames above limit", file(clip, client.SubmitOptions{MaxFrames: api.DefaultMaxFrames + 1}), 400, tasks.CodeInvalidRequest},
		{"end before start", file(clip, client.SubmitOptions{Start: 3, End: 2}), 400, tasks.CodeInvalidRequest},
		{"negative start", file(clip, client.SubmitOptions{Start: -1}), 400, tasks.CodeInvalidRequest},
		{"JSON bad sample", raw("application/json", `{"url":"https://example.com/a.mp4","sample":"fps:0"}`), 400, tasks.CodeInvalidRequest},
		{"JSON start not a number", raw("application/json", `{"url":"https://example.com/a.mp4","start":"1:30"}`), 400, tasks.CodeInvalidRequest},
		{"form start not a number", raw("multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"start\"\r\n\r\n1:30\r\n--XX--\r\n"), 400, tasks.CodeInvalidRequest},
		{"form max_frames not a number", raw("multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"max_frames\"\r\n\r\nmany\r\n--XX--\r\n"), 400, tasks.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantAPIError(t, tt.submit(), tt.status, tt.code)
		})
	}
	jobs, _, err := b.client.Jobs(ctx, "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 0 || b.queuedTasks(t) != 0 {
		t.Errorf("refused submissions left %d jobs and %d tasks", len(jobs), b.queuedTasks(t))
	}
}

// Where the API has no ffmpeg, videos are accepted unprobed (the worker
// probes them) and /readyz reports the missing tool without failing.
func TestSubmitVideoWithoutFFmpeg(t *testing.T) {
	missing := media.VideoConfig{FFmpegPath: "/nonexistent/ffmpeg", FFprobePath: "/nonexistent/ffprobe"}
	vs, err := media.NewVideos(missing)
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, func(_ *api.Config, d *api.Deps) {
		d.InspectVideo = inspectVideo(vs)
		d.Checks = map[string]func(context.Context) error{"ffmpeg": func(context.Context) error {
			if err := vs.Available(); err != nil {
				return fmt.Errorf("%w: %s", api.ErrDegraded, tasks.ErrorMessage(err))
			}
			return nil
		}}
	})
	job, err := b.client.SubmitFile(context.Background(), testdata("video-1x1.mp4"), client.SubmitOptions{Sample: "fps:1"})
	if err != nil {
		t.Fatal(err)
	}
	if job.Kind != tasks.KindVideo || job.Video != nil || job.Options.Sample != "fps:1" {
		t.Errorf("job = %+v, want an unprobed video job", job)
	}
	resp, body := b.do(t, http.MethodGet, "/readyz", "", nil)
	var h struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || h.Status != "degraded" || !strings.Contains(h.Checks["ffmpeg"], "ffmpeg") || h.Checks["redis"] != "ok" {
		t.Errorf("/readyz: %d %s", resp.StatusCode, body)
	}
}
