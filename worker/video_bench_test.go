package worker_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/mmq/mmq/analyzer"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

// benchVideo writes the benchmark's input into dir: 60 s of 640x360 test
// pattern at 30 fps, H.264, the video of BASELINES.md; with loops > 1, that
// minute repeated loops times (stream copy, no re-encoding).
func benchVideo(b *testing.B, dir string, loops int) string {
	b.Helper()
	minute := filepath.Join(dir, "60s.mp4")
	if _, err := os.Stat(minute); err != nil {
		genVideoTo(b, minute, "-f", "lavfi", "-i", "testsrc=s=640x360:r=30:d=60",
			"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p")
	}
	if loops <= 1 {
		return minute
	}
	out := filepath.Join(dir, fmt.Sprintf("%ds.mp4", 60*loops))
	if _, err := os.Stat(out); err != nil {
		genVideoTo(b, out, "-stream_loop", strconv.Itoa(loops-1), "-i", minute, "-c", "copy")
	}
	return out
}

func genVideoTo(b *testing.B, out string, args ...string) {
	b.Helper()
	full := append([]string{"-nostdin", "-v", "error", "-y"}, args...)
	if msg, err := exec.Command("ffmpeg", append(full, out)...).CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, msg)
	}
}

// bareFFmpeg runs the command of BASELINES.md: 1 frame a second as MJPEG
// into a pipe that is discarded. It returns the wall time, ffmpeg's peak
// RSS and how many bytes of frames it wrote.
func bareFFmpeg(b *testing.B, in string) (time.Duration, int64, int64) {
	b.Helper()
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", in, "-vf", "fps=1", "-f", "image2pipe", "-c:v", "mjpeg", "-q:v", "3", "-")
	var out countingWriter
	cmd.Stdout = &out
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, stderr.String())
	}
	wall := time.Since(start)
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss << 10 // KiB on Linux
	}
	return wall, rss, int64(out)
}

// countingWriter counts the bytes written to it.
type countingWriter int64

func (w *countingWriter) Write(p []byte) (int, error) {
	*w += countingWriter(len(p))
	return len(p), nil
}

// probedJob makes a video job of in as the API makes it: probed at submit,
// so that the worker does not probe again.
func (b *testBundle) probedJob(tb *testing.B, vs *media.Videos, in string, opts tasks.Options) (*tasks.Job, *asynq.Task) {
	tb.Helper()
	plan, err := vs.Inspect(context.Background(), media.VideoInput{Path: in}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	j, task := b.newVideoJob(tb, in, plan.Options)
	if err := b.store.SetVideoPlan(context.Background(), j.ID, *plan); err != nil {
		tb.Fatal(err)
	}
	return j, task
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkVideoFrames: a 60 s 640x360 video at fps:1 through the whole
// worker (ffmpeg → JPEG splitter → fan-out → no-op analyzer → a result per
// frame in Redis), against the bare ffmpeg command alone, in the same run,
// alternating, median of 3 each. Goal: ratio ≤ 1.2. The job is probed
// before, as the API does at submit. extract-ratio is the frames read from
// media.Video alone (its ffprobe run included), without fan-out or store.
func BenchmarkVideoFrames(b *testing.B) {
	needFFmpeg(b)
	bd := setup(b)
	in := benchVideo(b, b.TempDir(), 1)
	vs, err := media.NewVideos(media.VideoConfig{})
	if err != nil {
		b.Fatal(err)
	}
	h, err := worker.NewHandler(bd.config(), worker.Deps{Store: bd.store, Blobs: bd.blobs, Analyzer: analyzer.Noop{},
		OpenPDF: openPDF, OpenVideo: videoOpener(b, media.VideoConfig{}), Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	opts := tasks.Options{Sample: "fps:1"}
	var bare, pipeline, extract []time.Duration
	frames := 0
	for b.Loop() {
		for range 3 {
			d, _, _ := bareFFmpeg(b, in)
			bare = append(bare, d)

			j, task := bd.probedJob(b, vs, in, opts)
			start := time.Now()
			if err := h.ProcessTask(ctx, task); err != nil {
				b.Fatal(err)
			}
			pipeline = append(pipeline, time.Since(start))
			if got := bd.job(b, j.ID); got.Status != tasks.StatusSucceeded || got.PagesDone != 60 {
				b.Fatalf("job = %+v, want 60 frames done", got)
			}

			start = time.Now()
			v, err := vs.Open(ctx, media.VideoInput{Path: in}, opts)
			if err != nil {
				b.Fatal(err)
			}
			frames = 0
			for _, err := range v.Frames(ctx, nil) {
				if err != nil {
					b.Fatal(err)
				}
				frames++
			}
			v.Close()
			extract = append(extract, time.Since(start))
		}
	}
	mb, mp, me := median(bare), median(pipeline), median(extract)
	b.ReportMetric(float64(frames), "frames")
	b.ReportMetric(mb.Seconds()*1000, "bare-ms")
	b.ReportMetric(me.Seconds()*1000, "extract-ms")
	b.ReportMetric(mp.Seconds()*1000, "pipeline-ms")
	b.ReportMetric(float64(me)/float64(mb), "extract-ratio")
	b.ReportMetric(float64(mp)/float64(mb), "ratio")
}

// BenchmarkVideoMemory: peak memory while the whole worker analyzes a
// 10-minute video at fps:1 (600 frames) with the no-op analyzer, beside
// the 1-minute one: the Go heap's peaks (in use, and live after a GC,
// sampled every 5 ms) and the peak RSS of this process, which must not
// grow with the video's length, the peak RSS of the bare ffmpeg command on
// the same file, and the bytes of frames that went through.
func BenchmarkVideoMemory(b *testing.B) {
	needFFmpeg(b)
	bd := setup(b)
	dir := b.TempDir()
	ctx := context.Background()
	cfg := media.VideoConfig{MaxFrames: 600}
	vs, err := media.NewVideos(cfg)
	if err != nil {
		b.Fatal(err)
	}
	h, err := worker.NewHandler(bd.config(), worker.Deps{Store: bd.store, Blobs: bd.blobs, Analyzer: analyzer.Noop{},
		OpenPDF: openPDF, OpenVideo: videoOpener(b, cfg), Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for _, minutes := range []int{1, 10} {
			in := benchVideo(b, dir, minutes)
			_, ffRSS, frameBytes := bareFFmpeg(b, in)
			j, task := bd.probedJob(b, vs, in, tasks.Options{Sample: "fps:1", MaxFrames: 60 * minutes})
			runtime.GC()
			resetPeakRSS()
			stop := sampleHeap()
			start := time.Now()
			if err := h.ProcessTask(ctx, task); err != nil {
				b.Fatal(err)
			}
			wall := time.Since(start)
			heap, live := stop()
			if got := bd.job(b, j.ID); got.PagesDone != 60*minutes {
				b.Fatalf("job = %+v, want %d frames done", got, 60*minutes)
			}
			suffix := fmt.Sprintf("-%dmin", minutes)
			b.ReportMetric(float64(heap)/(1<<20), "heap-peak-MB"+suffix)
			b.ReportMetric(float64(live)/(1<<20), "live-peak-MB"+suffix)
			b.ReportMetric(float64(frameBytes)/(1<<20), "frames-MB"+suffix)
			b.ReportMetric(float64(peakRSS())/(1<<20), "rss-peak-MB"+suffix)
			b.ReportMetric(float64(ffRSS)/(1<<20), "ffmpeg-rss-MB"+suffix)
			b.ReportMetric(wall.Seconds(), "wall-s"+suffix)
		}
	}
}

// sampleHeap samples the heap until the returned function is called,
// which returns the peaks of the heap in use and of the live heap as of
// the last GC.
func sampleHeap() func() (inuse, live uint64) {
	var (
		mu         sync.Mutex
		peak, lpk  uint64
		liveSample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			metrics.Read(liveSample)
			mu.Lock()
			peak = max(peak, ms.HeapInuse)
			lpk = max(lpk, liveSample[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return peak, lpk
	}
}

// resetPeakRSS resets this process's VmHWM (Linux); peakRSS reads it.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
