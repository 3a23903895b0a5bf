package media_test

import (
	"context"
	"fmt"

	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
)

func ExampleVideos_Open() {
	videos, err := media.NewVideos(media.VideoConfig{MaxFrames: 100})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	// An animated GIF needs no ffmpeg; other videos stream the same way.
	v, err := videos.Open(ctx, media.VideoInput{Path: "testdata/moviepy-pigs_in_a_polka.gif"}, tasks.Options{Sample: "fps:2", End: 2})
	if err != nil {
		fmt.Println(tasks.ErrorCode(err), tasks.ErrorMessage(err))
		return
	}
	defer v.Close()
	plan := v.Plan()
	fmt.Printf("%s %dx%d, %.1f s: %s, %d frames\n", plan.Info.Codec, plan.Info.Width, plan.Info.Height,
		plan.Info.DurationSec, plan.Options.Sample, plan.Frames)
	for frame, err := range v.Frames(ctx, nil) { // done: none yet
		if err != nil {
			fmt.Println(tasks.ErrorCode(err), tasks.ErrorMessage(err))
			return
		}
		fmt.Printf("frame %d at %.1f s: %s\n", frame.Index, frame.Timestamp, frame.MIME)
	}
	// Output:
	// gif 314x273, 3.0 s: fps:2, 4 frames
	// frame 0 at 0.0 s: image/png
	// frame 1 at 0.5 s: image/png
	// frame 2 at 1.0 s: image/png
	// frame 3 at 1.5 s: image/png
}
