package tasks

import (
	"math"
	"strconv"
	"strings"
)

// Error codes of video jobs. All are permanent: the job fails without
// retries (see permanentCodes).
const (
	// CodeFFmpegUnavailable: ffmpeg or ffprobe is not installed where the
	// video was to be read. Documents are not affected.
	CodeFFmpegUnavailable Code = "ffmpeg_unavailable"
	// CodeInvalidVideo: the file is truncated, corrupt, or has dimensions
	// no analysis can use.
	CodeInvalidVideo Code = "invalid_video"
	// CodeNoVideoStream: the file holds no picture, audio only for example.
	CodeNoVideoStream Code = "no_video_stream"
	// CodeUnsupportedCodec: ffmpeg has no decoder for the video stream.
	CodeUnsupportedCodec Code = "unsupported_codec"
	// CodeVideoTooLong: the video lasts longer than the configured limit.
	CodeVideoTooLong Code = "video_too_long"
	// CodeTooManyFrames: the sampling asked for selects more frames than
	// the job's max_frames.
	CodeTooManyFrames Code = "too_many_frames"
)

// SampleMode says how the frames of a video are chosen.
type SampleMode string

// Sampling modes, the part of Options.Sample before the colon.
const (
	// SampleFPS takes frames at a fixed rate: "fps:0.5" is one frame every
	// 2 seconds.
	SampleFPS SampleMode = "fps"
	// SampleScene takes the first frame and every frame where the picture
	// changes by more than a threshold (ffmpeg's scene score, 0 to 1):
	// "scene:0.3".
	SampleScene SampleMode = "scene"
	// SampleKeyframes takes the frames the encoder stored whole (I-frames):
	// "keyframes". Cheap, since the other frames are not decoded.
	SampleKeyframes SampleMode = "keyframes"
)

// MaxSampleFPS bounds the rate of SampleFPS.
const MaxSampleFPS = 60

// Sample is a parsed Options.Sample.
type Sample struct {
	Mode SampleMode
	// FPS is the rate of SampleFPS, in (0, MaxSampleFPS].
	FPS float64
	// Threshold is the scene score of SampleScene, in (0, 1).
	Threshold float64
}

// ParseSample parses "fps:<n>", "scene:<threshold>" or "keyframes". Its
// error is a *Error with CodeInvalidRequest.
func ParseSample(s string) (Sample, error) {
	mode, arg, hasArg := strings.Cut(strings.TrimSpace(s), ":")
	num := func() (float64, bool) {
		f, err := strconv.ParseFloat(strings.TrimSpace(arg), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	switch SampleMode(mode) {
	case SampleFPS:
		f, ok := num()
		if !hasArg || !ok || f <= 0 || f > MaxSampleFPS {
			return Sample{}, Errorf(CodeInvalidRequest, "sample %q: want fps:<n> with 0 < n <= %d frames per second", s, MaxSampleFPS)
		}
		return Sample{Mode: SampleFPS, FPS: f}, nil
	case SampleScene:
		f, ok := num()
		if !hasArg || !ok || f <= 0 || f >= 1 {
			return Sample{}, Errorf(CodeInvalidRequest, "sample %q: want scene:<threshold> with 0 < threshold < 1 (0.3 is a good start)", s)
		}
		return Sample{Mode: SampleScene, Threshold: f}, nil
	case SampleKeyframes:
		if hasArg {
			return Sample{}, Errorf(CodeInvalidRequest, "sample %q: keyframes takes no argument", s)
		}
		return Sample{Mode: SampleKeyframes}, nil
	}
	return Sample{}, Errorf(CodeInvalidRequest, "sample %q: want fps:<n>, scene:<threshold> or keyframes", s)
}

// String returns s in the form ParseSample reads.
func (s Sample) String() string {
	switch s.Mode {
	case SampleFPS:
		return "fps:" + strconv.FormatFloat(s.FPS, 'f', -1, 64)
	case SampleScene:
		return "scene:" + strconv.FormatFloat(s.Threshold, 'f', -1, 64)
	}
	return string(s.Mode)
}

// VideoPlan is a probed video and what a job takes from it.
type VideoPlan struct {
	Info VideoInfo `json:"info"`
	// Options are the job's options with the video defaults applied:
	// Sample and MaxFrames are set, and End is within the video.
	Options Options `json:"options"`
	// Frames is how many frames Options select when that is known before
	// decoding (fps sampling of a video of known length), else 0.
	Frames int `json:"frames,omitempty"`
}
