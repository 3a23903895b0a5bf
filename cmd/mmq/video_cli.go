package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/mmq/mmq/analyzer"
	"github.com/mmq/mmq/tasks"
)

// unitNoun names a job's units.
func unitNoun(j *tasks.Job) string {
	if j.Kind == tasks.KindVideo {
		return "frames"
	}
	return "pages"
}

// printVideoSummary adds a video job's facts, sampling and scenes to the
// summary printSummary writes.
func printVideoSummary(w io.Writer, j *tasks.Job) {
	if j.Kind != tasks.KindVideo {
		return
	}
	if v := j.Video; v != nil {
		audio := "no audio"
		if v.HasAudio {
			audio = "audio"
		}
		fmt.Fprintf(w, "video     %s %dx%d, %g fps, %.2f s, %s\n", v.Codec, v.Width, v.Height, v.FPS, v.DurationSec, audio)
	}
	o := j.Options
	fmt.Fprintf(w, "sampling  %s, at most %d frames", o.Sample, o.MaxFrames)
	if o.Start > 0 || o.End > 0 {
		fmt.Fprintf(w, ", from %g s", o.Start)
		if o.End > 0 {
			fmt.Fprintf(w, " to %g s", o.End)
		}
	}
	fmt.Fprintln(w)
	var s analyzer.VideoSummary
	if len(j.Summary) == 0 || json.Unmarshal(j.Summary, &s) != nil {
		return
	}
	fmt.Fprintf(w, "scenes    %d", len(s.Scenes))
	for i, sc := range s.Scenes {
		if i == 8 {
			fmt.Fprintf(w, " ...")
			break
		}
		fmt.Fprintf(w, " [%.1f-%.1f s]", sc.Start, sc.End)
	}
	fmt.Fprintf(w, "\nrepeats   %d near-duplicate frames\n", len(s.NearDuplicates))
	if s.Truncated {
		fmt.Fprintln(w, "note      sampling stopped at max_frames; frames after the last one were not looked at")
	}
}

// areFrames reports whether rs are the results of a video's frames.
func areFrames(rs []tasks.PageResult) bool {
	return len(rs) > 0 && rs[0].Width > 0
}

// printFrames writes a video's frame results as a table, in time order.
func printFrames(w io.Writer, rs []tasks.PageResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FRAME\tTIME\tSIZE\tSTATUS\tMS\tBRIGHT\tSHARP\tCOLORS / ERROR")
	for _, r := range rs {
		var f analyzer.FrameFacts
		_ = json.Unmarshal(r.Output, &f)
		colors := make([]string, 0, len(f.DominantColors))
		for _, c := range f.DominantColors[:min(3, len(f.DominantColors))] {
			colors = append(colors, c.Hex)
		}
		text := strings.Join(colors, " ")
		if r.Status == tasks.PageFailed {
			text = string(r.ErrorCode) + ": " + r.ErrorMessage
		}
		if len(text) > 60 {
			text = text[:57] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%dx%d\t%s\t%d\t%.0f\t%.0f\t%s\n", r.Index, clock(r.Timestamp), r.Width, r.Height,
			r.Status, r.DurationMS, f.Brightness, f.Sharpness, text)
	}
	_ = tw.Flush()
}

// clock writes seconds as m:ss.sss (h:mm:ss.sss past an hour).
func clock(s float64) string {
	ms := int64(s*1000 + 0.5)
	h, m, sec, frac := ms/3600000, ms/60000%60, ms/1000%60, ms%1000
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d.%03d", h, m, sec, frac)
	}
	return fmt.Sprintf("%d:%02d.%03d", m, sec, frac)
}
