package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/mmq/mmq/analyzer"
	"github.com/mmq/mmq/internal/proctest"
	"github.com/mmq/mmq/internal/testwait"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

var (
	_ worker.VideoStore      = (*store.Redis)(nil)
	_ worker.FrameSummarizer = (*analyzer.Local)(nil)
)

// needFFmpeg skips the test without ffmpeg and ffprobe, and fails it in CI.
func needFFmpeg(t testing.TB) {
	t.Helper()
	proctest.Need(t, "ffmpeg", "ffprobe")
}

// genVideo has ffmpeg write a video from args into a temp file.
func genVideo(t testing.TB, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	full := append([]string{"-nostdin", "-v", "error", "-y"}, args...)
	if b, err := exec.Command("ffmpeg", append(full, out)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

// clip is seconds of 320x240 test pattern at 25 fps, with a tone.
func clip(t testing.TB, seconds int) string {
	d := fmt.Sprint(seconds)
	return genVideo(t, "clip-"+d+"s.mp4",
		"-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d="+d, "-f", "lavfi", "-i", "sine=d="+d,
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest")
}

// videoOpener is the OpenVideo cmd/mmq wires, with cfg.
func videoOpener(t testing.TB, cfg media.VideoConfig) worker.OpenVideo {
	t.Helper()
	vs, err := media.NewVideos(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, in worker.VideoInput, opts tasks.Options) (worker.Video, error) {
		v, err := vs.Open(ctx, media.VideoInput{Path: in.Path, Data: in.Data, Info: in.Info}, opts)
		if err != nil {
			return nil, err
		}
		return v, nil
	}
}

// frameFake is an analyzer of frames that counts calls per frame.
type frameFake struct {
	mu    sync.Mutex
	calls map[string]int // "job/index"
	order []int
	fn    func(ctx context.Context, u tasks.Unit) error
}

func newFrameFake(fn func(ctx context.Context, u tasks.Unit) error) *frameFake {
	return &frameFake{calls: map[string]int{}, fn: fn}
}

func (f *frameFake) Analyze(ctx context.Context, u tasks.Unit) (tasks.Analysis, error) {
	f.mu.Lock()
	f.calls[fmt.Sprintf("%s/%d", u.JobID, u.Index)]++
	f.order = append(f.order, u.Index)
	f.mu.Unlock()
	if u.Kind != tasks.KindVideo || !strings.HasPrefix(u.MIME, "image/") || len(u.Data) == 0 || u.Width == 0 {
		return tasks.Analysis{}, tasks.Errorf(tasks.CodeInvalidRequest, "unit %d is no frame: %s %q %d bytes", u.Index, u.Kind, u.MIME, len(u.Data))
	}
	if f.fn != nil {
		if err := f.fn(ctx, u); err != nil {
			return tasks.Analysis{}, err
		}
	}
	return tasks.Analysis{Output: json.RawMessage(fmt.Sprintf(`{"frame":%d}`, u.Index))}, nil
}

func (f *frameFake) snapshot() (map[string]int, []int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls := make(map[string]int, len(f.calls))
	for k, v := range f.calls {
		calls[k] = v
	}
	return calls, append([]int(nil), f.order...)
}

// videoHandler returns a handler that processes videos with opener.
func (b *testBundle) videoHandler(t testing.TB, a worker.Analyzer, opener worker.OpenVideo) *worker.Handler {
	t.Helper()
	cfg := b.config()
	cfg.Fetch.Client = http.DefaultClient // the test server is on loopback
	h, err := worker.NewHandler(cfg, worker.Deps{Store: b.store, Blobs: b.blobs, Analyzer: a, OpenPDF: openPDF,
		OpenVideo: opener, Sniff: media.SniffKind, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// newVideoJob stores file as a queued video job's input and returns its task.
func (b *testBundle) newVideoJob(t testing.TB, file string, opts tasks.Options) (*tasks.Job, *asynq.Task) {
	t.Helper()
	j := &tasks.Job{ID: fmt.Sprintf("video-%d", jobSeq.Add(1)), Kind: tasks.KindVideo, Options: opts}
	return b.storeJob(t, file, j, "")
}

func (b *testBundle) results(t testing.TB, id string) []tasks.PageResult {
	t.Helper()
	rs, _, err := b.store.Results(context.Background(), id, -1, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// A video job through the local analyzer: frames in time order with their
// timestamps and sizes, the video's facts on the job, and its summary.
func TestVideoJobSucceeds(t *testing.T) {
	needFFmpeg(t)
	b := setup(t)
	local, err := analyzer.NewLocal(analyzer.LocalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	h := b.videoHandler(t, local, videoOpener(t, media.VideoConfig{}))
	j, task := b.newVideoJob(t, clip(t, 10), tasks.Options{Sample: "fps:1"})
	if err := h.ProcessTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	got := b.job(t, j.ID)
	if got.Status != tasks.StatusSucceeded || got.PagesTotal != 10 || got.PagesDone != 10 {
		t.Fatalf("job = %+v, want succeeded with 10 frames", got)
	}
	if v := got.Video; v == nil || v.Codec != "h264" || v.Width != 320 || v.Height != 240 || v.FPS != 25 || !v.HasAudio || v.DurationSec < 9.9 {
		t.Errorf("video facts %+v", got.Video)
	}
	if got.Options.Sample != "fps:1" || got.Options.MaxFrames != media.DefaultMaxFrames {
		t.Errorf("options %+v, want the plan's", got.Options)
	}
	rs := b.results(t, j.ID)
	if len(rs) != 10 {
		t.Fatalf("%d results", len(rs))
	}
	for i, r := range rs {
		var f analyzer.FrameFacts
		if err := json.Unmarshal(r.Output, &f); err != nil {
			t.Fatal(err)
		}
		if r.Index != i || r.Timestamp != float64(i) || r.Width != 320 || r.Height != 240 || r.Status != tasks.PageDone ||
			f.Frame != i || f.Timestamp != float64(i) || len(f.DHash) != 16 {
			t.Errorf("result %d: %+v, facts %+v", i, r, f)
		}
	}
	var s analyzer.VideoSummary
	if err := json.Unmarshal(got.Summary, &s); err != nil {
		t.Fatalf("summary %s: %v", got.Summary, err)
	}
	// testsrc is one scene: the same pattern with a moving counter.
	if s.Frames != 10 || len(s.Scenes) == 0 || s.Scenes[0].Start != 0 || s.Scenes[len(s.Scenes)-1].End < 9.9 {
		t.Errorf("summary %s", got.Summary)
	}
}

// The checkpoint: frames finished before a kill are not analyzed again,
// and ffmpeg seeks past the leading ones.
func TestVideoCheckpointAfterKilledHandler(t *testing.T) {
	needFFmpeg(t)
	b := setup(t)
	opener := videoOpener(t, media.VideoConfig{})
	ctx, kill := context.WithCancel(context.Background())
	first := newFrameFake(func(ctx context.Context, u tasks.Unit) error {
		if u.Index < 4 {
			return nil
		}
		<-ctx.Done() // later frames hang until the kill
		return ctx.Err()
	})
	j, task := b.newVideoJob(t, clip(t, 10), tasks.Options{Sample: "fps:1"})
	errc := make(chan error, 1)
	go func() { errc <- b.videoHandler(t, first, opener).ProcessTask(ctx, task) }()
	testwait.For(t, 20*time.Second, "4 frames stored", func() bool { return b.job(t, j.ID).PagesDone == 4 })
	kill()
	if err := <-errc; err == nil {
		t.Fatal("killed handler returned nil")
	}
	if got := b.job(t, j.ID); got.Status.Final() || got.PagesDone != 4 {
		t.Fatalf("after kill: %+v; want not final with 4 frames done", got)
	}

	second := newFrameFake(nil)
	if err := b.videoHandler(t, second, opener).ProcessTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	calls, order := second.snapshot()
	for i := range 4 {
		if n := calls[fmt.Sprintf("%s/%d", j.ID, i)]; n != 0 {
			t.Errorf("frame %d was done before the kill and analyzed again %d times", i, n)
		}
	}
	if len(calls) != 6 || len(order) == 0 || order[0] != 4 {
		t.Errorf("second run analyzed frames %v, want 4..9", order)
	}
	got := b.job(t, j.ID)
	if got.Status != tasks.StatusSucceeded || got.PagesDone != 10 || got.PagesTotal != 10 || got.Attempts != 2 {
		t.Fatalf("job = %+v, want succeeded, 10 of 10 frames, 2 attempts", got)
	}
	for i, r := range b.results(t, j.ID) {
		if r.Index != i || r.Timestamp < float64(i)-0.05 || r.Timestamp > float64(i)+0.05 {
			t.Errorf("result %d: frame %d at %v s", i, r.Index, r.Timestamp)
		}
	}
}

// Bad videos fail the job at once with their code, burning no retry, and
// leave the worker fine for the next job.
func TestSlowVideoBadInputFailsWithoutRetry(t *testing.T) {
	needFFmpeg(t)
	good := clip(t, 3)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Cut where the frames are: the header (moov first with faststart)
	// still promises all of them.
	faststart := genVideo(t, "faststart.mp4", "-i", good, "-c", "copy", "-movflags", "+faststart")
	fs, _ := os.ReadFile(faststart)
	tests := []struct {
		name string
		file string
		opts tasks.Options
		cfg  media.VideoConfig
		code tasks.Code
	}{
		{"empty", write("empty.mp4", nil), tasks.Options{}, media.VideoConfig{}, tasks.CodeEmptyFile},
		{"truncated header", write("cut.mp4", data[:len(data)/2]), tasks.Options{}, media.VideoConfig{}, tasks.CodeInvalidVideo},
		{"truncated frames", write("cut-frames.mp4", fs[:len(fs)*2/3]), tasks.Options{}, media.VideoConfig{}, tasks.CodeInvalidVideo},
		{"audio only", genVideo(t, "a.m4a", "-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac"), tasks.Options{}, media.VideoConfig{}, tasks.CodeNoVideoStream},
		{"too long", good, tasks.Options{}, media.VideoConfig{MaxDuration: 2 * time.Second}, tasks.CodeVideoTooLong},
		{"too many frames", good, tasks.Options{Sample: "fps:30", MaxFrames: 10}, media.VideoConfig{}, tasks.CodeTooManyFrames},
		{"ffmpeg missing", good, tasks.Options{}, media.VideoConfig{FFmpegPath: "/nonexistent/ffmpeg"}, tasks.CodeFFmpegUnavailable},
	}
	b := setup(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := b.videoHandler(t, newFrameFake(nil), videoOpener(t, tt.cfg))
			j, task := b.newVideoJob(t, tt.file, tt.opts)
			err := h.ProcessTask(context.Background(), task)
			if !errors.Is(err, asynq.SkipRetry) {
				t.Errorf("handler returned %v; want it to wrap asynq.SkipRetry", err)
			}
			got := b.job(t, j.ID)
			if got.Status != tasks.StatusFailed || got.ErrorCode != tt.code || got.ErrorMessage == "" {
				t.Errorf("job = %s %s %q; want failed %s with a message", got.Status, got.ErrorCode, got.ErrorMessage, tt.code)
			}
			if strings.Contains(got.ErrorMessage, dir) || strings.Contains(got.ErrorMessage, os.TempDir()) {
				t.Errorf("message shows a server path: %q", got.ErrorMessage)
			}
			// The same handler goes on with a good video.
			j2, task2 := b.newVideoJob(t, good, tasks.Options{Sample: "fps:1"})
			if tt.code == tasks.CodeFFmpegUnavailable || tt.code == tasks.CodeVideoTooLong {
				return
			}
			if err := h.ProcessTask(context.Background(), task2); err != nil || b.job(t, j2.ID).Status != tasks.StatusSucceeded {
				t.Errorf("next job: %v, %+v", err, b.job(t, j2.ID))
			}
		})
	}
}

// Without ffmpeg, video jobs fail with ffmpeg_unavailable and documents
// keep working; animated GIFs need no ffmpeg at all.
func TestVideoWithoutFFmpegDocumentsWork(t *testing.T) {
	b := setup(t)
	h := b.videoHandler(t, newFake(nil), videoOpener(t, media.VideoConfig{FFmpegPath: "/nonexistent/ffmpeg", FFprobePath: "/nonexistent/ffprobe"}))
	doc, task := b.newJob(t, booklet, "")
	if err := h.ProcessTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	if got := b.job(t, doc.ID); got.Status != tasks.StatusSucceeded {
		t.Errorf("document job without ffmpeg: %+v", got)
	}
	gif := b.videoHandler(t, newFrameFake(nil), videoOpener(t, media.VideoConfig{FFmpegPath: "/nonexistent/ffmpeg", FFprobePath: "/nonexistent/ffprobe"}))
	j, task := b.newVideoJob(t, "../media/testdata/moviepy-pigs_in_a_polka.gif", tasks.Options{Sample: "keyframes"})
	if err := gif.ProcessTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	if got := b.job(t, j.ID); got.Status != tasks.StatusSucceeded || got.PagesDone != 30 || got.PagesTotal != 30 || got.Video.Codec != "gif" {
		t.Errorf("GIF job without ffmpeg: %+v", got)
	}
}

// A job submitted by URL is a document job until its input turns out to be
// a video: then it is analyzed, and recorded, as one.
func TestVideoByURL(t *testing.T) {
	needFFmpeg(t)
	b := setup(t)
	data, err := os.ReadFile(clip(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(data) }))
	defer srv.Close()
	ctx := context.Background()
	j := &tasks.Job{ID: fmt.Sprintf("url-%d", jobSeq.Add(1)), Kind: tasks.KindDocument, Status: tasks.StatusQueued,
		SourceURL: srv.URL + "/clip", Options: tasks.Options{Sample: "fps:2"}, CreatedAt: time.Now().UTC()}
	if err := b.store.CreateJob(ctx, j, ""); err != nil {
		t.Fatal(err)
	}
	task, err := tasks.NewAnalyzeTask(tasks.KindDocument, tasks.AnalyzePayload{JobID: j.ID, SourceURL: j.SourceURL, Options: j.Options}, tasks.EnqueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	fake := newFrameFake(nil)
	if err := b.videoHandler(t, fake, videoOpener(t, media.VideoConfig{})).ProcessTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	got := b.job(t, j.ID)
	if got.Kind != tasks.KindVideo || got.Status != tasks.StatusSucceeded || got.PagesDone != 6 || got.Video == nil || got.BlobKey == "" {
		t.Errorf("job = %+v, want a succeeded video job of 6 frames", got)
	}
}

// Canceling a video job's task stops its ffmpeg: the process is gone when
// the handler returns.
func TestVideoJobInterruptedKillsFFmpeg(t *testing.T) {
	needFFmpeg(t)
	b := setup(t)
	file := clip(t, 20)
	var started atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	fake := newFrameFake(func(ctx context.Context, u tasks.Unit) error {
		started.Store(true)
		<-ctx.Done()
		return ctx.Err()
	})
	j, task := b.newVideoJob(t, file, tasks.Options{Sample: "fps:10"})
	blob, err := b.blobs.Path(j.BlobKey)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- b.videoHandler(t, fake, videoOpener(t, media.VideoConfig{})).ProcessTask(ctx, task) }()
	testwait.For(t, 20*time.Second, "the first frame", started.Load)
	pids := proctest.FFmpegReading(t, blob)
	if len(pids) != 1 {
		t.Fatalf("%d ffmpeg processes, want 1", len(pids))
	}
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("canceled handler returned nil")
	}
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("ffmpeg %d still exists after the handler returned", pid)
		}
	}
}
