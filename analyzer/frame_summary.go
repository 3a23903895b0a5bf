package analyzer

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/mmq/mmq/tasks"
)

// Thresholds of the video summary. Frames are compared with the frame
// before them, by the Hamming distance of their dHashes and the distance of
// their mean colors (Euclidean, in 0-255 RGB): the hash alone is blind to
// color, and two plain frames of different colors hash alike.
const (
	// NearDuplicateBits is the largest hash distance of a near-duplicate.
	NearDuplicateBits = 5
	// nearDuplicateColor is the largest color distance of a near-duplicate.
	nearDuplicateColor = 24
	// SceneCutBits is the hash distance above which a frame starts a new
	// scene.
	SceneCutBits = 12
	// sceneCutColor is the color distance above which a frame starts a new
	// scene.
	sceneCutColor = 64
)

// VideoSummary is the local analyzer's summary of a video job, stored as
// the job's summary when all its frames are done.
type VideoSummary struct {
	// Frames counts the frames analyzed; Failed those whose analysis failed,
	// which the rest of the summary leaves out.
	Frames int `json:"frames"`
	Failed int `json:"failed,omitempty"`
	// Truncated says scene or keyframe sampling stopped at max_frames: the
	// video may hold more after the last frame.
	Truncated bool `json:"truncated,omitempty"`
	// MeanBrightness is the mean of the frames' brightness.
	MeanBrightness float64 `json:"mean_brightness"`
	// NearDuplicates lists the frames that look like the frame before them:
	// hashes at most NearDuplicateBits apart and close mean colors. Never null.
	NearDuplicates []int `json:"near_duplicates"`
	// Scenes are the runs of similar frames, in time order. Never null.
	Scenes []Scene `json:"scenes"`
}

// Scene is a run of consecutive frames, each similar to the one before:
// no hash distance above SceneCutBits and no sharp change of mean color.
type Scene struct {
	// Start is the time of its first frame; End that of the next scene's
	// first frame, or the end of the analyzed range for the last scene.
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	// FirstFrame and LastFrame are frame indexes; Frames counts its frames.
	FirstFrame int `json:"first_frame"`
	LastFrame  int `json:"last_frame"`
	Frames     int `json:"frames"`
	// SharpestFrame is the frame of the scene with the highest sharpness,
	// a good thumbnail.
	SharpestFrame int `json:"sharpest_frame"`
}

// SummarizeFrames summarizes the frame results of a video job: scenes and
// near-duplicates. The results may come in any order; results without
// FrameFacts (failed frames, another analyzer's output) are counted as
// failed and otherwise left out.
func (l *Local) SummarizeFrames(ctx context.Context, job *tasks.Job, rs []tasks.PageResult) (json.RawMessage, error) {
	s := summarizeVideo(job, rs)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("analyzer: encode video summary of job %s: %w", job.ID, err)
	}
	return out, nil
}

func summarizeVideo(job *tasks.Job, rs []tasks.PageResult) *VideoSummary {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b tasks.PageResult) int { return a.Index - b.Index })
	s := &VideoSummary{NearDuplicates: []int{}, Scenes: []Scene{}}
	var (
		prev      *FrameFacts
		scene     *Scene
		sharpness float64
	)
	for _, r := range rs {
		var f FrameFacts
		if r.Status != tasks.PageDone || json.Unmarshal(r.Output, &f) != nil || f.DHash == "" {
			s.Failed++
			continue
		}
		s.Frames++
		s.MeanBrightness += f.Brightness
		cut := prev == nil
		if prev != nil {
			bitsApart := HammingDistance(prev.DHash, f.DHash)
			color := colorDistance(prev.MeanColor, f.MeanColor)
			if bitsApart >= 0 && bitsApart <= NearDuplicateBits && color <= nearDuplicateColor {
				s.NearDuplicates = append(s.NearDuplicates, r.Index)
			}
			cut = bitsApart < 0 || bitsApart > SceneCutBits || color > sceneCutColor
		}
		if cut {
			if scene != nil {
				scene.End = f.Timestamp
				s.Scenes = append(s.Scenes, *scene)
			}
			scene = &Scene{Start: f.Timestamp, FirstFrame: r.Index, SharpestFrame: r.Index}
			sharpness = -1
		}
		scene.LastFrame = r.Index
		scene.Frames++
		if f.Sharpness > sharpness {
			scene.SharpestFrame, sharpness = r.Index, f.Sharpness
		}
		prev = &f
	}
	if scene != nil {
		scene.End = max(rangeEnd(job), prev.Timestamp)
		s.Scenes = append(s.Scenes, *scene)
	}
	if s.Frames > 0 {
		s.MeanBrightness = round2(s.MeanBrightness / float64(s.Frames))
	}
	if sample, err := tasks.ParseSample(job.Options.Sample); err == nil && sample.Mode != tasks.SampleFPS {
		s.Truncated = job.Options.MaxFrames > 0 && len(rs) >= job.Options.MaxFrames
	}
	return s
}

// rangeEnd is the end of the job's analyzed range, 0 when unknown.
func rangeEnd(job *tasks.Job) float64 {
	if job.Options.End > 0 {
		return job.Options.End
	}
	if job.Video != nil {
		return job.Video.DurationSec
	}
	return 0
}

// colorDistance is the Euclidean distance of two #rrggbb colors; a color
// that does not parse is far from everything.
func colorDistance(a, b string) float64 {
	ra, ok1 := parseHexColor(a)
	rb, ok2 := parseHexColor(b)
	if !ok1 || !ok2 {
		return math.Inf(1)
	}
	var d float64
	for i := range 3 {
		d += (ra[i] - rb[i]) * (ra[i] - rb[i])
	}
	return math.Sqrt(d)
}

func parseHexColor(s string) ([3]float64, bool) {
	var c [3]float64
	if len(s) != 7 || s[0] != '#' {
		return c, false
	}
	for i := range 3 {
		v, err := strconv.ParseUint(s[1+2*i:3+2*i], 16, 8)
		if err != nil {
			return c, false
		}
		c[i] = float64(v)
	}
	return c, true
}
