package media

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/mmq/mmq/tasks"
)

// probeOutput is the part of `ffprobe -of json` that probe reads.
type probeOutput struct {
	Streams []struct {
		CodecType    string `json:"codec_type"`
		CodecName    string `json:"codec_name"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		AvgFrameRate string `json:"avg_frame_rate"`
		RFrameRate   string `json:"r_frame_rate"`
		Duration     string `json:"duration"`
		Disposition  struct {
			AttachedPic int `json:"attached_pic"`
		} `json:"disposition"`
		// A display matrix (ffprobe 5 and later) or a rotate tag (older)
		// says how a player turns the picture; ffmpeg turns the frames.
		SideData []struct {
			Rotation float64 `json:"rotation"`
		} `json:"side_data_list"`
		Tags struct {
			Rotate string `json:"rotate"`
		} `json:"tags"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
}

// probe runs ffprobe on path and returns the facts of its first video
// stream. A file that does not state its duration (a WebM recorded by a
// browser, say) is measured by a second run that reads its packets.
func (v *Videos) probe(ctx context.Context, path string) (tasks.VideoInfo, error) {
	out, err := v.runProbe(ctx, path,
		"-show_entries", "format=format_name,duration:stream=codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate,duration:stream_disposition=attached_pic:stream_side_data=rotation:stream_tags=rotate",
		"-of", "json")
	if err != nil {
		return tasks.VideoInfo{}, err
	}
	var p probeOutput
	if err := json.Unmarshal(out, &p); err != nil {
		return tasks.VideoInfo{}, fmt.Errorf("media: parse ffprobe output: %w", err)
	}
	info, err := probeInfo(p)
	if err != nil {
		return info, err
	}
	if info.DurationSec <= 0 {
		if info.DurationSec, err = v.measureDuration(ctx, path); err != nil {
			return info, err
		}
	}
	return info, nil
}

// probeInfo picks the first video stream that is not a cover picture.
func probeInfo(p probeOutput) (tasks.VideoInfo, error) {
	var info tasks.VideoInfo
	found, covers := -1, 0
	for i, s := range p.Streams {
		switch {
		case s.CodecType == "audio":
			info.HasAudio = true
		case s.CodecType == "video" && s.Disposition.AttachedPic != 0:
			covers++
		case s.CodecType == "video" && found < 0:
			found = i
		}
	}
	if found < 0 {
		switch {
		case covers > 0:
			return info, tasks.Errorf(tasks.CodeNoVideoStream, "the file holds only a cover picture, no video")
		case info.HasAudio:
			return info, tasks.Errorf(tasks.CodeNoVideoStream, "the file holds only audio, no video")
		}
		return info, tasks.Errorf(tasks.CodeNoVideoStream, "the file holds no video stream")
	}
	s := p.Streams[found]
	if s.CodecName == "" || s.CodecName == "none" {
		return info, tasks.Errorf(tasks.CodeUnsupportedCodec, "the video's codec is not one ffmpeg can decode")
	}
	info.Codec = s.CodecName
	info.Width, info.Height = s.Width, s.Height
	// Frames come out turned as players show them (ffmpeg autorotates):
	// the facts give the size of the frames, not of the coded picture.
	rotation := parseSeconds(strings.TrimPrefix(s.Tags.Rotate, "-"))
	for _, sd := range s.SideData {
		if sd.Rotation != 0 {
			rotation = math.Abs(sd.Rotation)
		}
	}
	if math.Mod(rotation, 180) == 90 {
		info.Width, info.Height = info.Height, info.Width
	}
	info.Format = p.Format.FormatName
	info.FPS = frameRate(s.AvgFrameRate)
	if info.FPS == 0 {
		info.FPS = frameRate(s.RFrameRate)
	}
	info.DurationSec = parseSeconds(s.Duration)
	if info.DurationSec <= 0 {
		info.DurationSec = parseSeconds(p.Format.Duration)
	}
	return info, nil
}

// frameRate parses ffprobe's "30000/1001"; implausible rates (the 90000 of
// a variable-rate stream's time base) give 0.
func frameRate(s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	if !ok {
		return 0
	}
	n, err1 := strconv.ParseFloat(num, 64)
	d, err2 := strconv.ParseFloat(den, 64)
	if err1 != nil || err2 != nil || d == 0 {
		return 0
	}
	r := n / d
	if r <= 0 || r > 1000 {
		return 0
	}
	return math.Round(r*1000) / 1000
}

func parseSeconds(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0
	}
	return f
}

// measureDuration reads the packets of the first video stream and returns
// the end of the last one.
func (v *Videos) measureDuration(ctx context.Context, path string) (float64, error) {
	var end float64
	err := v.streamProbe(ctx, path, func(line string) {
		pts, dur, _ := strings.Cut(line, ",")
		if t := parseSeconds(pts) + parseSeconds(dur); t > end {
			end = t
		}
	}, "-select_streams", "V:0", "-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0")
	if err != nil {
		return 0, err
	}
	if end <= 0 {
		return 0, tasks.Errorf(tasks.CodeInvalidVideo, "the video stream holds no frames")
	}
	return end, nil
}

// maxProbeOutput bounds the JSON read from ffprobe.
const maxProbeOutput = 1 << 20

// runProbe runs ffprobe on path with args and returns its standard output.
func (v *Videos) runProbe(ctx context.Context, path string, args ...string) ([]byte, error) {
	var out []byte
	err := v.probeCmd(ctx, path, args, func(r io.Reader) error {
		var err error
		out, err = io.ReadAll(io.LimitReader(r, maxProbeOutput))
		return err
	})
	return out, err
}

// streamProbe runs ffprobe on path with args and hands each line of its
// standard output to onLine.
func (v *Videos) streamProbe(ctx context.Context, path string, onLine func(string), args ...string) error {
	return v.probeCmd(ctx, path, args, func(r io.Reader) error {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			onLine(sc.Text())
		}
		return sc.Err()
	})
}

func (v *Videos) probeCmd(ctx context.Context, path string, args []string, read func(io.Reader) error) error {
	full := append([]string{"-loglevel", "level+error", "-hide_banner", "-protocol_whitelist", "file"}, args...)
	full = append(full, "file:"+path)
	run, err := startFFmpeg(ctx, v.ffprobe, full, v.cfg.ProbeTimeout, path, nil)
	if err != nil {
		return err
	}
	rerr := read(run.stdout)
	// Drain what read left, so that ffprobe is not blocked on a full pipe.
	_, _ = io.Copy(io.Discard, run.stdout)
	if err := run.wait(); err != nil {
		var te *tasks.Error
		if errors.As(err, &te) || ctx.Err() != nil {
			return err
		}
		_, msg := run.errors()
		return tasks.WrapError(tasks.CodeInvalidVideo, err, probeMessage(msg))
	}
	if rerr != nil {
		return fmt.Errorf("media: read ffprobe output: %w", rerr)
	}
	return nil
}

// probeMessage is the client's message for a file ffprobe cannot read.
func probeMessage(detail string) string {
	if detail == "" {
		return "the video could not be read; it is truncated, damaged or not a video"
	}
	return "the video could not be read; it is truncated, damaged or not a video (ffprobe: " + detail + ")"
}
