package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mmq/mmq/internal/command"
	"github.com/mmq/mmq/tasks"
)

// frameRequest is one ffmpeg run's share of a job's frames.
type frameRequest struct {
	args []string
	// seek is where ffmpeg starts reading, in seconds from the start of the
	// video; showinfo's pts_time counts from there.
	seek float64
	// offset is the index of the first frame ffmpeg outputs.
	offset int
	// frames is how many frames ffmpeg outputs at most.
	frames int
}

// request builds the ffmpeg command for the frames of the plan that are not
// done. With fps sampling, the leading done frames are skipped by seeking:
// frame k of fps:n is at start + k/n.
func (v *Video) request(done []int) frameRequest {
	opts := v.plan.Options
	r := frameRequest{seek: opts.Start, frames: opts.MaxFrames}
	if v.sample.Mode == tasks.SampleFPS {
		if k := leadingDone(done); k > 0 {
			r.offset = k
			r.seek = opts.Start + float64(k)/v.sample.FPS
			r.frames -= k
		}
	}
	var filter string
	args := []string{"-nostdin", "-hide_banner", "-nostats", "-loglevel", "level+info", "-protocol_whitelist", "file"}
	switch v.sample.Mode {
	case tasks.SampleFPS:
		filter = "fps=" + strconv.FormatFloat(v.sample.FPS, 'f', -1, 64) + ":eof_action=pass"
	case tasks.SampleScene:
		// The first frame, then every frame whose scene score is above
		// the threshold.
		filter = `select='eq(n\,0)+gt(scene\,` + strconv.FormatFloat(v.sample.Threshold, 'f', -1, 64) + `)'`
	case tasks.SampleKeyframes:
		// The decoder skips the other frames; select drops any it decodes
		// anyway (decoders may ignore -skip_frame).
		args = append(args, "-skip_frame", "nokey")
		filter = "select=key"
	}
	if r.seek > 0 {
		args = append(args, "-ss", seconds(r.seek))
	}
	if opts.End > 0 {
		d := opts.End - r.seek
		if d <= 0 {
			r.frames = 0
		}
		args = append(args, "-t", seconds(d))
	}
	args = append(args,
		"-i", "file:"+v.path,
		// The first video stream that is not a cover picture, as probed.
		"-map", "0:V:0", "-an", "-sn", "-dn",
		// showinfo logs each frame's timestamp and size on stderr, in the
		// order the frames reach the encoder.
		"-vf", filter+",showinfo",
		"-fps_mode", "passthrough",
		"-frames:v", strconv.Itoa(max(r.frames, 0)),
		"-f", "image2pipe", "-c:v", "mjpeg", "-q:v", strconv.Itoa(v.vs.cfg.JPEGQuality),
		"pipe:1",
	)
	r.args = args
	return r
}

// leadingDone returns k such that 0..k-1 are all in done.
func leadingDone(done []int) int {
	s := slices.Clone(done)
	slices.Sort(s)
	k := 0
	for _, i := range slices.Compact(s) {
		if i != k {
			break
		}
		k++
	}
	return k
}

func seconds(s float64) string { return strconv.FormatFloat(s, 'f', 6, 64) }

// ffmpegFrames streams the frames of one ffmpeg run; see Video.Frames.
func (v *Video) ffmpegFrames(ctx context.Context, done []int) iter.Seq2[tasks.Unit, error] {
	return func(yield func(tasks.Unit, error) bool) {
		req := v.request(done)
		if req.frames <= 0 {
			return
		}
		isDone := doneSet(done)
		log := newShowinfoLog()
		run, err := startFFmpeg(ctx, v.vs.ffmpeg, req.args, v.vs.cfg.Timeout, v.path, log.add)
		if err != nil {
			yield(tasks.Unit{}, err)
			return
		}
		// Whatever ends the iteration, ffmpeg does not outlive it.
		defer run.stop()

		sp := newJPEGSplitter(run.stdout)
		n, pastEnd := 0, false
		for ; ; n++ {
			img, err := sp.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				yield(tasks.Unit{}, v.failure(run, err))
				return
			}
			if count, msg := run.errors(); count > 0 {
				run.stop()
				yield(tasks.Unit{}, damaged(msg))
				return
			}
			idx := req.offset + n
			meta, ok, err := log.take(ctx, n, run.stderrDone)
			if err != nil {
				yield(tasks.Unit{}, err)
				return
			}
			if !ok {
				if v.sample.Mode != tasks.SampleFPS {
					yield(tasks.Unit{}, fmt.Errorf("media: ffmpeg logged no timestamp for frame %d", idx))
					return
				}
				meta.pts = float64(n) / v.sample.FPS
			}
			ts := math.Round((req.seek+meta.pts)*1e6) / 1e6
			if end := v.plan.Options.End; end > 0 && ts >= end {
				// -t reads up to end inclusive; the range excludes it.
				pastEnd = true
				break
			}
			if isDone[idx] {
				continue
			}
			u := tasks.Unit{
				Kind:      tasks.KindVideo,
				Index:     idx,
				Data:      img,
				MIME:      "image/jpeg",
				Timestamp: ts,
				Width:     meta.w,
				Height:    meta.h,
			}
			if !yield(u, nil) {
				return
			}
		}
		if pastEnd {
			// ffmpeg may still be writing the frame at the end: kill it;
			// everything asked for is read.
			run.stop()
			if err := ctx.Err(); err != nil {
				yield(tasks.Unit{}, err)
				return
			}
		} else if err := run.wait(); err != nil {
			yield(tasks.Unit{}, v.failure(run, err))
			return
		}
		if count, msg := run.errors(); count > 0 {
			yield(tasks.Unit{}, damaged(msg))
			return
		}
		if n == 0 && req.offset == 0 && len(done) == 0 {
			yield(tasks.Unit{}, tasks.Errorf(tasks.CodeInvalidVideo, "no frame of the video could be decoded in the range asked for"))
		}
	}
}

// failure classifies the end of a run that did not end cleanly; cause is
// what the reader met (a broken JPEG stream, or the process's exit error).
func (v *Video) failure(run *ffmpegRun, cause error) error {
	werr := run.wait()
	var te *tasks.Error
	switch {
	case werr != nil && (errors.As(werr, &te) || errors.Is(werr, context.Canceled) || errors.Is(werr, context.DeadlineExceeded)):
		return werr
	case werr == nil:
		werr = cause
	}
	count, msg := run.errors()
	if errors.Is(werr, command.ErrMemoryLimit) {
		return tasks.WrapError(tasks.CodeInvalidVideo, werr, "the video needs more memory to decode than a worker allows")
	}
	var exit *exec.ExitError
	if errors.As(werr, &exit) && !exit.Exited() {
		// Killed by a signal we did not send (the OOM killer, say): the
		// next attempt may succeed.
		return fmt.Errorf("media: ffmpeg died: %w (%s)", werr, msg)
	}
	if count > 0 || errors.Is(cause, errNotJPEG) || errors.As(werr, &exit) {
		return tasks.WrapError(tasks.CodeInvalidVideo, werr, damagedMessage(msg))
	}
	return fmt.Errorf("media: ffmpeg: %w", werr)
}

// damaged is the error of a video ffmpeg reported errors for while
// decoding: truncated or corrupt data.
func damaged(msg string) error {
	return tasks.WrapError(tasks.CodeInvalidVideo, errors.New("ffmpeg: "+msg), damagedMessage(msg))
}

func damagedMessage(msg string) string {
	if msg == "" {
		return "the video could not be decoded; it is truncated or damaged"
	}
	return "the video could not be decoded; it is truncated or damaged (ffmpeg: " + msg + ")"
}

// doneSet returns done as a set.
func doneSet(done []int) map[int]bool {
	m := make(map[int]bool, len(done))
	for _, i := range done {
		m[i] = true
	}
	return m
}

// frameMeta is what showinfo logs of one frame: its timestamp in seconds
// from where ffmpeg started reading, and its size.
type frameMeta struct {
	pts  float64
	w, h int
}

// showinfoLog collects the frames showinfo logs on ffmpeg's stderr, keyed
// by showinfo's frame number, which counts the frames that reach the
// encoder. The stderr goroutine adds; the frame reader takes. Entries live
// from the moment showinfo logs a frame until the reader takes it, which
// ffmpeg's blocking stdout keeps to a handful.
type showinfoLog struct {
	mu     sync.Mutex
	frames map[int]frameMeta
	// notify is closed and replaced whenever a frame is added.
	notify chan struct{}
}

func newShowinfoLog() *showinfoLog {
	return &showinfoLog{frames: map[int]frameMeta{}, notify: make(chan struct{})}
}

// showinfoLine matches showinfo's line of one frame in ffmpeg 5.1 and later:
// "[Parsed_showinfo_1 @ 0x...] [info] n:   3 pts:  76800 pts_time:3 ... s:640x360 ...".
var showinfoLine = regexp.MustCompile(`\[Parsed_showinfo_\d+ @ [^\]]*\] \[info\] n:\s*(\d+)\s+pts:\s*-?\d+\s+pts_time:(\S+)\s.*?\bs:(\d+)x(\d+)\b`)

// add parses one stderr line; it never blocks.
func (l *showinfoLog) add(line string) {
	if !strings.Contains(line, "Parsed_showinfo_") {
		return
	}
	m := showinfoLine.FindStringSubmatch(line)
	if m == nil {
		return
	}
	n, err1 := strconv.Atoi(m[1])
	pts, err2 := strconv.ParseFloat(m[2], 64)
	w, _ := strconv.Atoi(m[3])
	h, _ := strconv.Atoi(m[4])
	if err1 != nil || err2 != nil || math.IsNaN(pts) || math.IsInf(pts, 0) {
		return
	}
	l.mu.Lock()
	l.frames[n] = frameMeta{pts: pts, w: w, h: h}
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
}

// take returns and forgets frame n, waiting for showinfo to log it. ok is
// false when stderr ended without it.
func (l *showinfoLog) take(ctx context.Context, n int, stderrDone <-chan struct{}) (frameMeta, bool, error) {
	for {
		l.mu.Lock()
		meta, ok := l.frames[n]
		if ok {
			delete(l.frames, n)
		}
		notify := l.notify
		l.mu.Unlock()
		if ok {
			return meta, true, nil
		}
		select {
		case <-notify:
		case <-stderrDone:
			// The goroutine may have added it just before ending.
			l.mu.Lock()
			meta, ok = l.frames[n]
			delete(l.frames, n)
			l.mu.Unlock()
			return meta, ok, nil
		case <-ctx.Done():
			return frameMeta{}, false, ctx.Err()
		}
	}
}
