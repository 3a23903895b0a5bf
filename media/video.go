package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"os/exec"
	"time"

	"github.com/mmq/mmq/tasks"
)

// VideoConfig configures Videos. The zero value looks ffmpeg and ffprobe up
// on PATH and applies the defaults below.
type VideoConfig struct {
	// FFmpegPath is the ffmpeg program, a path or a name looked up on PATH.
	// Defaults to "ffmpeg".
	FFmpegPath string
	// FFprobePath is the ffprobe program. Defaults to "ffprobe".
	FFprobePath string
	// Timeout bounds one ffmpeg run that extracts the frames of a video.
	// Defaults to 30 minutes.
	Timeout time.Duration
	// ProbeTimeout bounds one ffprobe run. Defaults to 30 seconds.
	ProbeTimeout time.Duration
	// MaxDuration refuses longer videos with tasks.CodeVideoTooLong.
	// Defaults to 1 hour.
	MaxDuration time.Duration
	// MaxFrames is a job's max_frames when it sets none, and the most it may
	// set. Defaults to 300.
	MaxFrames int
	// MaxDimension refuses videos wider or taller, in pixels, with
	// tasks.CodeInvalidVideo. Defaults to 8192 (8K UHD is 7680 wide).
	MaxDimension int
	// MaxPixels refuses videos whose frames have more pixels, with
	// tasks.CodeInvalidVideo: a frame is held decoded while it is encoded
	// and analyzed. Defaults to 33177600, 8K UHD (7680x4320).
	MaxPixels int
	// MaxDecodePixels is the decode budget of one job, in pixels times
	// frames, checked before anything is decoded: a job whose frames would
	// cost more is refused with tasks.CodeDecodeTooLarge. An animated GIF
	// costs its canvas times the pictures of it encoded, plus the pixels of
	// the frames composited to reach them; another video costs its width
	// times its height times the frames ffmpeg extracts (those fps sampling
	// selects, else the job's max_frames). Defaults to 2500000000, 300
	// frames of 3840x2160: about 20 seconds of work (see
	// DefaultMaxDecodePixels).
	MaxDecodePixels int64
	// DefaultSample is the sampling of a job that names none. When it is
	// fps:<n> and the video is long enough that n frames a second would
	// exceed the job's max_frames, the rate is lowered to fit. Defaults to
	// "fps:1".
	DefaultSample string
	// JPEGQuality is ffmpeg's -q:v for the frames, from 2 (best) to 31.
	// Defaults to 3.
	JPEGQuality int
	// TempDir receives a copy of an input given as bytes, for ffmpeg to
	// read (one file per open video, removed by Close; frames never touch
	// the disk). Defaults to os.TempDir().
	TempDir string
}

// Defaults of VideoConfig.
const (
	DefaultVideoTimeout      = 30 * time.Minute
	DefaultProbeTimeout      = 30 * time.Second
	DefaultMaxVideoDuration  = time.Hour
	DefaultMaxFrames         = tasks.DefaultMaxFrames
	DefaultMaxVideoDimension = 8192
	DefaultMaxVideoPixels    = 7680 * 4320
	// DefaultMaxDecodePixels lets a job take DefaultMaxFrames frames of
	// 3840x2160 (2.49 billion pixels): a 4K video sampled at the default
	// rate and frame cap is an ordinary job, while the review's 6.9 KB GIF
	// (a 7680x4320 canvas drawn 300 times, 10 billion) is refused. On two
	// cores, GIF frames of a plain 7680x4320 canvas come out as PNGs at
	// about 110 million pixels a second (the encoder alone: 150 million),
	// and ffmpeg decodes and encodes a 7680x4320 H.264 video's frames at
	// about 110 million: the budget is about 20 seconds of that work.
	// Noise-like pictures encode to PNG up to 25 times slower.
	DefaultMaxDecodePixels = 2_500_000_000
	DefaultSample          = "fps:1"
	DefaultJPEGQuality     = 3
)

func (c *VideoConfig) setDefaults() {
	if c.FFmpegPath == "" {
		c.FFmpegPath = "ffmpeg"
	}
	if c.FFprobePath == "" {
		c.FFprobePath = "ffprobe"
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultVideoTimeout
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = DefaultProbeTimeout
	}
	if c.MaxDuration == 0 {
		c.MaxDuration = DefaultMaxVideoDuration
	}
	if c.MaxFrames == 0 {
		c.MaxFrames = DefaultMaxFrames
	}
	if c.MaxDimension == 0 {
		c.MaxDimension = DefaultMaxVideoDimension
	}
	if c.MaxPixels == 0 {
		c.MaxPixels = DefaultMaxVideoPixels
	}
	if c.MaxDecodePixels == 0 {
		c.MaxDecodePixels = DefaultMaxDecodePixels
	}
	if c.DefaultSample == "" {
		c.DefaultSample = DefaultSample
	}
	if c.JPEGQuality == 0 {
		c.JPEGQuality = DefaultJPEGQuality
	}
	if c.TempDir == "" {
		c.TempDir = os.TempDir()
	}
}

// Validate reports a configuration that cannot work.
func (c VideoConfig) Validate() error {
	var errs []error
	if c.Timeout < 0 || c.ProbeTimeout < 0 || c.MaxDuration < 0 {
		errs = append(errs, errors.New("media: VideoConfig timeouts and MaxDuration must not be negative"))
	}
	if c.MaxFrames < 0 || c.MaxDimension < 0 || c.MaxPixels < 0 || c.MaxDecodePixels < 0 {
		errs = append(errs, errors.New("media: VideoConfig.MaxFrames, MaxDimension, MaxPixels and MaxDecodePixels must not be negative"))
	}
	if c.JPEGQuality < 0 || c.JPEGQuality > 31 || c.JPEGQuality == 1 {
		errs = append(errs, fmt.Errorf("media: VideoConfig.JPEGQuality %d: want 2 to 31", c.JPEGQuality))
	}
	if c.DefaultSample != "" {
		if _, err := tasks.ParseSample(c.DefaultSample); err != nil {
			errs = append(errs, fmt.Errorf("media: VideoConfig.DefaultSample: %s", tasks.ErrorMessage(err)))
		}
	}
	return errors.Join(errs...)
}

// Videos probes videos and streams their frames: with ffprobe and one
// ffmpeg process per video, or, for an animated GIF, in Go alone. It is
// safe for concurrent use.
type Videos struct {
	cfg VideoConfig
	// ffmpeg and ffprobe are the resolved programs; missing says which
	// could not be found.
	ffmpeg, ffprobe string
	missing         error
}

// NewVideos returns Videos configured by cfg. It looks ffmpeg and ffprobe
// up once, here: without them it still works, but every video other than a
// GIF fails with tasks.CodeFFmpegUnavailable (see Available).
func NewVideos(cfg VideoConfig) (*Videos, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Videos{cfg: cfg}
	var errs []error
	if p, err := exec.LookPath(cfg.FFmpegPath); err == nil {
		v.ffmpeg = p
	} else {
		errs = append(errs, fmt.Errorf("ffmpeg (%s) not found", cfg.FFmpegPath))
	}
	if p, err := exec.LookPath(cfg.FFprobePath); err == nil {
		v.ffprobe = p
	} else {
		errs = append(errs, fmt.Errorf("ffprobe (%s) not found", cfg.FFprobePath))
	}
	v.missing = errors.Join(errs...)
	return v, nil
}

// Available returns nil when ffmpeg and ffprobe were found, else a
// *tasks.Error with CodeFFmpegUnavailable that says which is missing.
func (v *Videos) Available() error {
	if v.missing == nil {
		return nil
	}
	return tasks.WrapError(tasks.CodeFFmpegUnavailable, v.missing, "video analysis needs ffmpeg and ffprobe, and this server lacks them")
}

// VideoInput is a video to read. ffmpeg reads Path in place when it is set;
// otherwise Data is written to a temporary file first.
type VideoInput struct {
	Path string
	Data []byte
	// Info, when set, holds the facts an earlier probe of the same input
	// found (the API's, recorded on the job): Open checks them against the
	// limits again but does not run ffprobe, which costs 50 to 100 ms.
	Info *tasks.VideoInfo
}

// Inspect probes a video and plans a job's frames: it returns the video's
// facts and opts with the defaults applied, or a *tasks.Error with
// CodeEmptyFile, CodeInvalidVideo (truncated, corrupt, absurd dimensions),
// CodeNoVideoStream, CodeUnsupportedCodec, CodeVideoTooLong,
// CodeTooManyFrames, CodeDecodeTooLarge (the frames would cost more than
// MaxDecodePixels), CodeInvalidRequest (bad options) or
// CodeFFmpegUnavailable. It runs ffprobe once (twice for a file that does
// not state its duration), or nothing at all for a GIF.
func (v *Videos) Inspect(ctx context.Context, in VideoInput, opts tasks.Options) (*tasks.VideoPlan, error) {
	video, err := v.Open(ctx, in, opts)
	if err != nil {
		return nil, err
	}
	defer video.Close()
	plan := video.Plan()
	return &plan, nil
}

// Open probes a video and plans a job's frames like Inspect, and keeps the
// video open for Frames. Close it when done.
func (v *Videos) Open(ctx context.Context, in VideoInput, opts tasks.Options) (_ *Video, err error) {
	video := &Video{vs: v}
	defer func() {
		if err != nil {
			video.Close()
		}
	}()
	isGIF, err := in.isGIF()
	if err != nil {
		return nil, err
	}
	var info tasks.VideoInfo
	if isGIF {
		data := in.Data
		if data == nil {
			if data, err = os.ReadFile(in.Path); err != nil {
				return nil, fmt.Errorf("media: read video: %w", err)
			}
		}
		if video.gif, err = scanGIF(data); err != nil {
			return nil, err
		}
		info = video.gif.info()
	} else {
		if err := v.Available(); err != nil {
			return nil, err
		}
		if video.path, video.temp, err = v.inputFile(in); err != nil {
			return nil, err
		}
		if in.Info != nil {
			info = *in.Info
		} else if info, err = v.probe(ctx, video.path); err != nil {
			return nil, err
		}
	}
	if err := v.checkInfo(info); err != nil {
		return nil, err
	}
	if video.plan, video.sample, err = v.plan(info, opts); err != nil {
		return nil, err
	}
	if err := v.checkDecode(video); err != nil {
		return nil, err
	}
	return video, nil
}

// checkDecode refuses, with CodeDecodeTooLarge, a job whose frames would
// cost more than MaxDecodePixels to decode, before any is decoded.
func (v *Videos) checkDecode(video *Video) error {
	budget := v.cfg.MaxDecodePixels
	info, opts := video.plan.Info, video.plan.Options
	picture := int64(info.Width) * int64(info.Height)
	if video.gif != nil {
		pictures, drawn := video.gif.work(opts, video.sample)
		cost := picture*int64(pictures) + drawn
		if cost <= budget {
			return nil
		}
		return tasks.Errorf(tasks.CodeDecodeTooLarge,
			"the GIF's canvas is %dx%d and this job draws %d frames of it (%s), %d pixels to decode and encode in all; "+
				"a job may decode at most %d: %s",
			info.Width, info.Height, pictures, video.plan.Options.Sample, cost, budget, fewerFrames(budget-drawn, picture, pictures, "GIF"))
	}
	frames := video.plan.Frames
	if frames == 0 {
		frames = opts.MaxFrames // scene and keyframes: at most max_frames
	}
	cost := picture * int64(frames)
	if cost <= budget {
		return nil
	}
	what := "extracts up to"
	if video.plan.Frames > 0 {
		what = "extracts"
	}
	return tasks.Errorf(tasks.CodeDecodeTooLarge,
		"the video is %dx%d and this job %s %d frames of it (%s), %d pixels to decode; a job may decode at most %d: %s",
		info.Width, info.Height, what, frames, video.plan.Options.Sample, cost, budget, fewerFrames(budget, picture, frames, "video"))
}

// fewerFrames says how to bring a job of frames pictures of picture pixels
// within budget.
func fewerFrames(budget, picture int64, frames int, kind string) string {
	fit := int64(0)
	if picture > 0 && budget > 0 {
		fit = min(budget/picture, int64(frames-1))
	}
	if fit < 1 {
		return "send a smaller " + kind
	}
	return fmt.Sprintf("ask for at most %d frames (max_frames, a lower rate, or start and end), or send a smaller %s", fit, kind)
}

// isGIF reports whether the input starts like a GIF. Empty input is a
// CodeEmptyFile error.
func (in VideoInput) isGIF() (bool, error) {
	head := in.Data
	if in.Path != "" && in.Data == nil {
		f, err := os.Open(in.Path)
		if err != nil {
			return false, fmt.Errorf("media: open video: %w", err)
		}
		defer f.Close()
		buf := make([]byte, 6)
		n, err := io.ReadFull(f, buf)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return false, fmt.Errorf("media: read video: %w", err)
		}
		head = buf[:n]
	}
	if len(head) == 0 {
		return false, tasks.Errorf(tasks.CodeEmptyFile, "the file is empty")
	}
	return bytes.HasPrefix(head, []byte("GIF87a")) || bytes.HasPrefix(head, []byte("GIF89a")), nil
}

// inputFile returns the file ffmpeg reads: in.Path, or a temporary copy of
// in.Data that the caller removes.
func (v *Videos) inputFile(in VideoInput) (path, temp string, err error) {
	if in.Path != "" {
		return in.Path, "", nil
	}
	f, err := os.CreateTemp(v.cfg.TempDir, "mmq-video-*")
	if err != nil {
		return "", "", fmt.Errorf("media: spool video: %w", err)
	}
	_, err = f.Write(in.Data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", "", fmt.Errorf("media: spool video: %w", err)
	}
	return f.Name(), f.Name(), nil
}

// checkInfo refuses videos the limits exclude.
func (v *Videos) checkInfo(info tasks.VideoInfo) error {
	switch {
	case info.Width <= 0 || info.Height <= 0:
		return tasks.Errorf(tasks.CodeInvalidVideo, "the video stream has no picture size")
	case info.Width > v.cfg.MaxDimension || info.Height > v.cfg.MaxDimension:
		return tasks.Errorf(tasks.CodeInvalidVideo, "the video is %dx%d pixels; at most %d are allowed on each side",
			info.Width, info.Height, v.cfg.MaxDimension)
	case info.Width*info.Height > v.cfg.MaxPixels:
		return tasks.Errorf(tasks.CodeInvalidVideo, "the video is %dx%d pixels; frames of at most %d pixels are allowed (8K UHD is 7680x4320)",
			info.Width, info.Height, v.cfg.MaxPixels)
	case v.cfg.MaxDuration > 0 && info.DurationSec > v.cfg.MaxDuration.Seconds():
		return tasks.Errorf(tasks.CodeVideoTooLong, "the video lasts %s; at most %s is allowed",
			formatSeconds(info.DurationSec), formatSeconds(v.cfg.MaxDuration.Seconds()))
	}
	return nil
}

// plan applies the defaults and limits to a job's video options.
func (v *Videos) plan(info tasks.VideoInfo, opts tasks.Options) (tasks.VideoPlan, tasks.Sample, error) {
	defaulted := opts.Sample == ""
	if defaulted {
		opts.Sample = v.cfg.DefaultSample
	}
	sample, err := tasks.ParseSample(opts.Sample)
	if err != nil {
		return tasks.VideoPlan{}, sample, err
	}
	switch {
	case opts.MaxFrames < 0:
		return tasks.VideoPlan{}, sample, tasks.Errorf(tasks.CodeInvalidRequest, "max_frames must not be negative")
	case opts.MaxFrames > v.cfg.MaxFrames:
		return tasks.VideoPlan{}, sample, tasks.Errorf(tasks.CodeInvalidRequest, "max_frames must not exceed this server's limit of %d", v.cfg.MaxFrames)
	case opts.MaxFrames == 0:
		opts.MaxFrames = v.cfg.MaxFrames
	}
	if err := checkRange(opts.Start, opts.End); err != nil {
		return tasks.VideoPlan{}, sample, err
	}
	dur := info.DurationSec
	if dur > 0 {
		if opts.Start >= dur {
			return tasks.VideoPlan{}, sample, tasks.Errorf(tasks.CodeInvalidRequest,
				"start %s is not before the end of the video (%s)", formatSeconds(opts.Start), formatSeconds(dur))
		}
		if opts.End >= dur {
			opts.End = 0 // to the end
		}
	}
	plan := tasks.VideoPlan{Info: info, Options: opts}
	if sample.Mode == tasks.SampleFPS && dur > 0 {
		span := dur - opts.Start
		if opts.End > 0 {
			span = opts.End - opts.Start
		}
		frames := fpsFrames(span, sample.FPS)
		if frames > opts.MaxFrames {
			if !defaulted {
				return tasks.VideoPlan{}, sample, tasks.Errorf(tasks.CodeTooManyFrames,
					"sample %s over %s selects %d frames; max_frames is %d: lower the rate, set start and end, or raise max_frames",
					sample, formatSeconds(span), frames, opts.MaxFrames)
			}
			sample.FPS = fittingRate(span, opts.MaxFrames)
			frames = fpsFrames(span, sample.FPS)
		}
		plan.Frames = min(frames, opts.MaxFrames)
	}
	plan.Options.Sample = sample.String()
	return plan, sample, nil
}

// checkRange validates a job's start and end.
func checkRange(start, end float64) error {
	switch {
	case math.IsNaN(start) || math.IsNaN(end) || math.IsInf(start, 0) || math.IsInf(end, 0):
		return tasks.Errorf(tasks.CodeInvalidRequest, "start and end must be numbers of seconds")
	case start < 0 || end < 0:
		return tasks.Errorf(tasks.CodeInvalidRequest, "start and end must not be negative")
	case end > 0 && end <= start:
		return tasks.Errorf(tasks.CodeInvalidRequest, "end must be after start")
	}
	return nil
}

// fpsFrames is how many frames ffmpeg's fps filter makes of span seconds at
// rate frames a second: one at 0, 1/rate, 2/rate... before the end.
func fpsFrames(span, rate float64) int {
	return max(1, int(math.Ceil(span*rate-1e-6)))
}

// fittingRate returns the highest rate, rounded down to three significant
// digits, at which span seconds give at most maxFrames frames.
func fittingRate(span float64, maxFrames int) float64 {
	r := float64(maxFrames) / span
	scale := math.Pow(10, 2-math.Floor(math.Log10(r)))
	r = math.Floor(r*scale) / scale
	for r > 0 && fpsFrames(span, r) > maxFrames {
		r -= 1 / scale
	}
	return r
}

// formatSeconds writes seconds the way error messages show them.
func formatSeconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(10 * time.Millisecond).String()
}

// Video is a probed video whose frames can be streamed. Frames may be
// called again (a retry); Close releases the video.
type Video struct {
	vs     *Videos
	plan   tasks.VideoPlan
	sample tasks.Sample
	// path is the file ffmpeg reads; temp is that file when it is a copy
	// to remove.
	path, temp string
	// gif is set for an animated GIF, decoded in Go.
	gif *gifFile
}

// Plan returns the video's facts and the job's options with the defaults
// applied.
func (v *Video) Plan() tasks.VideoPlan { return v.plan }

// Frames yields the frames the plan selects, in time order, as units with
// Index (0-based, in selection order), Timestamp (seconds from the start of
// the video), Width, Height, Data and MIME set. Frames whose index is in
// done are not yielded; when they lead the selection and the sampling is
// fps:<n>, they are not even decoded (ffmpeg seeks past them).
//
// The frames come from one ffmpeg process through a pipe, read only when
// the consumer asks for the next one, so that a slow consumer holds ffmpeg
// back instead of letting frames pile up. A non-nil error ends the
// sequence: the context's error, a CodeTimeout error, or a *tasks.Error
// with CodeInvalidVideo when ffmpeg meets damaged data. Stopping the
// iteration early, canceling ctx or reaching the timeout kills ffmpeg's
// process group.
func (v *Video) Frames(ctx context.Context, done []int) iter.Seq2[tasks.Unit, error] {
	if v.gif != nil {
		return v.gif.units(ctx, v.plan, v.sample, done)
	}
	return v.ffmpegFrames(ctx, done)
}

// Close removes the temporary copy of the input, if any. It is safe to
// call more than once.
func (v *Video) Close() error {
	if v.temp == "" {
		return nil
	}
	err := os.Remove(v.temp)
	v.temp = ""
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("media: remove video copy: %w", err)
	}
	return nil
}
