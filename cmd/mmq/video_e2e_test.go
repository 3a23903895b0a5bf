package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/analyzer"
	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/internal/proctest"
	"github.com/mmq/mmq/internal/testwait"
	"github.com/mmq/mmq/tasks"
)

// genVideo has ffmpeg write a video from args into the test's temp dir.
func genVideo(t *testing.T, name string, args ...string) string {
	t.Helper()
	proctest.Need(t, "ffmpeg", "ffprobe")
	out := filepath.Join(t.TempDir(), name)
	full := append([]string{"-nostdin", "-v", "error", "-y"}, args...)
	if b, err := exec.Command("ffmpeg", append(full, out)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	return out
}

// A video through the whole program: upload, probe, frames streamed by
// ffmpeg into the fan-out, local frame analysis, results in time order,
// the summary's scenes, and the CLI's frame table.
func TestVideoEndToEnd(t *testing.T) {
	// Cuts at 2 s and 4 s: a test pattern, color bars, plain red.
	cuts := genVideo(t, "cuts.mp4",
		"-f", "lavfi", "-i", "testsrc=s=320x240:d=2:r=25",
		"-f", "lavfi", "-i", "smptebars=s=320x240:d=2:r=25",
		"-f", "lavfi", "-i", "color=c=red:s=320x240:d=2:r=25",
		"-f", "lavfi", "-i", "sine=d=6",
		"-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1[v]", "-map", "[v]", "-map", "3:a",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac")
	_, url := startApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := client.New(url, nil)

	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"ffmpeg":"ok"`) {
		t.Errorf("/readyz: %d %s", resp.StatusCode, body)
	}

	job, err := c.SubmitFile(ctx, cuts, client.SubmitOptions{Sample: "scene:0.3"})
	if err != nil {
		t.Fatal(err)
	}
	if job.Kind != tasks.KindVideo || job.Video == nil || !job.Video.HasAudio || job.Video.Width != 320 {
		t.Fatalf("submitted job = %+v, want a probed video job", job)
	}
	job, err = c.Wait(ctx, job.ID, 50*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != tasks.StatusSucceeded || job.PagesTotal != 3 || job.PagesDone != 3 {
		t.Fatalf("job = %+v, want 3 frames done", job)
	}
	rs, err := c.AllResults(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0, 2, 4}
	if len(rs) != len(want) {
		t.Fatalf("%d results, want %d", len(rs), len(want))
	}
	for i, r := range rs {
		var f analyzer.FrameFacts
		if err := json.Unmarshal(r.Output, &f); err != nil {
			t.Fatal(err)
		}
		if r.Index != i || r.Timestamp < want[i]-0.05 || r.Timestamp > want[i]+0.05 || r.Width != 320 || r.Height != 240 || len(f.DHash) != 16 {
			t.Errorf("result %d: index %d at %v s, %dx%d, facts %+v", i, r.Index, r.Timestamp, r.Width, r.Height, f)
		}
	}
	// The last frame is plain red.
	var red analyzer.FrameFacts
	_ = json.Unmarshal(rs[2].Output, &red)
	if len(red.DominantColors) == 0 || !strings.HasPrefix(red.DominantColors[0].Hex, "#f") || red.DominantColors[0].Share < 0.9 {
		t.Errorf("red frame's colors: %+v", red.DominantColors)
	}
	var s analyzer.VideoSummary
	if err := json.Unmarshal(job.Summary, &s); err != nil || len(s.Scenes) != 3 || s.Scenes[2].End < 5.9 {
		t.Errorf("summary %s (%v), want 3 scenes to the end of the video", job.Summary, err)
	}

	// The CLI: video flags, the frame table with timestamps.
	out, code := runCLI(t, "submit", cuts, "--sample", "fps:2", "--start", "1", "--end", "3", "--wait", "--server", url)
	if code != 0 || !strings.Contains(out, "FRAME") || !strings.Contains(out, "0:01.500") || !strings.Contains(out, "4 total, 4 done") ||
		!strings.Contains(out, "h264 320x240") {
		t.Errorf("mmq submit --wait of a video: exit %d, output:\n%s", code, out)
	}
	audio := genVideo(t, "audio.m4a", "-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac")
	if _, code := runCLI(t, "submit", audio, "--server", url); code != exitRejected {
		t.Errorf("submit of an audio file: exit %d, want %d", code, exitRejected)
	}
	if _, code := runCLI(t, "submit", cuts, "--sample", "fps:30", "--max-frames", "10", "--server", url); code != exitRejected {
		t.Errorf("submit selecting too many frames: exit %d, want %d", code, exitRejected)
	}
}

// Canceling a running video job through the API stops its ffmpeg: no
// process is left reading the video once the job is canceled.
func TestVideoCancelEndToEnd(t *testing.T) {
	long := genVideo(t, "long.mp4", "-f", "lavfi", "-i", "testsrc=s=640x360:r=25:d=60",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
	t.Setenv("MMQ_WORKER_PAGE_CONCURRENCY", "1") // slow it down: one frame at a time
	app, url := startApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := client.New(url, nil)
	job, err := c.SubmitFile(ctx, long, client.SubmitOptions{Sample: "fps:2"})
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for len(pids) == 0 {
		if ctx.Err() != nil {
			t.Fatal("no ffmpeg process ever read the video")
		}
		pids = proctest.FFmpegReading(t, absDir(t, app.Config.Blobs.Dir))
	}
	resp, err := http.Post(url+"/v1/jobs/"+job.ID+"/cancel", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: HTTP %d", resp.StatusCode)
	}
	testwait.For(t, 10*time.Second, fmt.Sprintf("ffmpeg %v to stop after the cancel", pids), func() bool {
		return len(proctest.FFmpegReading(t, absDir(t, app.Config.Blobs.Dir))) == 0
	})
	if j, err := c.Job(ctx, job.ID); err != nil || j.Status != tasks.StatusCanceled || j.PagesDone >= 120 {
		t.Errorf("job after cancel: %+v, %v; want canceled before its end", j, err)
	}
}

// absDir returns dir as an absolute path, as ffmpeg's command line names it.
func absDir(t *testing.T, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
