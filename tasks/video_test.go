package tasks_test

import (
	"testing"

	"github.com/mmq/mmq/tasks"
)

func TestParseSample(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want tasks.Sample
		str  string
		bad  bool
	}{
		{in: "fps:1", want: tasks.Sample{Mode: tasks.SampleFPS, FPS: 1}, str: "fps:1"},
		{in: "fps:0.5", want: tasks.Sample{Mode: tasks.SampleFPS, FPS: 0.5}, str: "fps:0.5"},
		{in: " fps: 2 ", want: tasks.Sample{Mode: tasks.SampleFPS, FPS: 2}, str: "fps:2"},
		{in: "scene:0.3", want: tasks.Sample{Mode: tasks.SampleScene, Threshold: 0.3}, str: "scene:0.3"},
		{in: "keyframes", want: tasks.Sample{Mode: tasks.SampleKeyframes}, str: "keyframes"},
		{in: "", bad: true},
		{in: "fps", bad: true},
		{in: "fps:0", bad: true},
		{in: "fps:-1", bad: true},
		{in: "fps:61", bad: true},
		{in: "fps:NaN", bad: true},
		{in: "fps:Inf", bad: true},
		{in: "scene:0", bad: true},
		{in: "scene:1", bad: true},
		{in: "scene:x", bad: true},
		{in: "keyframes:2", bad: true},
		{in: "every:2s", bad: true},
	}
	for _, tt := range tests {
		got, err := tasks.ParseSample(tt.in)
		if tt.bad {
			if tasks.ErrorCode(err) != tasks.CodeInvalidRequest || tasks.ErrorMessage(err) == "" {
				t.Errorf("ParseSample(%q) = %+v, %v; want invalid_request", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want || got.String() != tt.str {
			t.Errorf("ParseSample(%q) = %+v (%q), %v; want %+v (%q)", tt.in, got, got.String(), err, tt.want, tt.str)
		}
	}
}

func TestVideoCodesArePermanent(t *testing.T) {
	t.Parallel()
	for _, c := range []tasks.Code{tasks.CodeFFmpegUnavailable, tasks.CodeInvalidVideo, tasks.CodeNoVideoStream,
		tasks.CodeUnsupportedCodec, tasks.CodeVideoTooLong, tasks.CodeTooManyFrames} {
		if !tasks.IsPermanent(tasks.Errorf(c, "x")) {
			t.Errorf("%s is not permanent", c)
		}
	}
}
