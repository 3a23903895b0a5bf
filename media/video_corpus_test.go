package media_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"

	"github.com/mmq/mmq/internal/corpus"
)

// corpusVideoCodes are the corpus videos that must fail, with their code.
var corpusVideoCodes = map[string]tasks.Code{
	"moviepy-result-EMPTY.webm":             tasks.CodeEmptyFile,
	"DERIVED-chaplin-truncated-400000B.mp4": tasks.CodeInvalidVideo,
	"DERIVED-smpte-2997-truncated-half.mp4": tasks.CodeInvalidVideo,
}

// TestCorpusVideos reads every video of the shared corpus at fps:1: each
// gives its frames, in time order and of the size its facts say, or fails
// with its code. The corpus is found at $MMQ_CORPUS, default
// ../shared/corpus beside the repository; without it the test is skipped.
func TestCorpusVideos(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus run skipped in -short mode")
	}
	needFFmpeg(t)
	dir := filepath.Join(corpus.Dir(), "video")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("no video corpus: %v", err)
	}
	vs := newVideos(t, media.VideoConfig{})
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			v, err := vs.Open(context.Background(), media.VideoInput{Path: filepath.Join(dir, e.Name())}, tasks.Options{Sample: "fps:1"})
			var us []tasks.Unit
			if err == nil {
				defer v.Close()
				us, err = collect(t, v, nil)
			}
			if code, bad := corpusVideoCodes[e.Name()]; bad {
				wantCode(t, err, code)
				return
			}
			if err != nil {
				t.Fatalf("%v", err)
			}
			plan := v.Plan()
			if len(us) == 0 || (plan.Frames > 0 && len(us) != plan.Frames) {
				t.Errorf("%d frames, plan says %d", len(us), plan.Frames)
			}
			for i, u := range us {
				if u.Width != plan.Info.Width || u.Height != plan.Info.Height || (i > 0 && u.Timestamp <= us[i-1].Timestamp) {
					t.Errorf("frame %d: %dx%d at %v s; facts %dx%d", u.Index, u.Width, u.Height, u.Timestamp, plan.Info.Width, plan.Info.Height)
				}
			}
			t.Logf("%s %dx%d %.2f s: %d frames", plan.Info.Codec, plan.Info.Width, plan.Info.Height, plan.Info.DurationSec, len(us))
		})
	}
}
