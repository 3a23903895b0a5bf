package main

import (
	"context"
	"fmt"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

// videos builds the reader of videos from the configuration. Without ffmpeg
// and ffprobe it still starts: video jobs then fail with
// ffmpeg_unavailable, /readyz says why, and documents and animated GIFs
// keep working.
func (a *App) videos() (*media.Videos, error) {
	cfg := a.Config
	vs, err := media.NewVideos(media.VideoConfig{
		FFmpegPath:      cfg.Tools.FFmpeg,
		FFprobePath:     cfg.Tools.FFprobe,
		Timeout:         cfg.Video.FFmpegTimeout,
		ProbeTimeout:    cfg.Video.ProbeTimeout,
		MaxDuration:     cfg.Limits.MaxVideoDuration,
		MaxFrames:       cfg.Limits.MaxFrames,
		MaxDimension:    cfg.Limits.MaxVideoDimension,
		MaxPixels:       cfg.Limits.MaxVideoPixels,
		MaxDecodePixels: cfg.Limits.MaxDecodePixels,
		DefaultSample:   cfg.Video.DefaultSample,
	})
	if err != nil {
		return nil, err
	}
	if err := vs.Available(); err != nil {
		a.Log.Warn().Err(err).Msg("video jobs will fail with ffmpeg_unavailable (set tools.ffmpeg and tools.ffprobe)")
	}
	return vs, nil
}

// openVideo adapts media's reader to the worker's OpenVideo.
func openVideo(vs *media.Videos) worker.OpenVideo {
	return func(ctx context.Context, in worker.VideoInput, opts tasks.Options) (worker.Video, error) {
		v, err := vs.Open(ctx, media.VideoInput{Path: in.Path, Data: in.Data, Info: in.Info}, opts)
		if err != nil {
			return nil, err
		}
		return v, nil
	}
}

// inspectVideo adapts media's reader to the API's InspectVideo.
func inspectVideo(vs *media.Videos) api.InspectVideoFunc {
	return func(ctx context.Context, data []byte, opts tasks.Options) (*tasks.VideoPlan, error) {
		return vs.Inspect(ctx, media.VideoInput{Data: data}, opts)
	}
}

// ffmpegCheck is the "ffmpeg" readiness check: a missing ffmpeg degrades
// the service (videos fail) without making it unready.
func ffmpegCheck(vs *media.Videos) func(context.Context) error {
	return func(context.Context) error {
		if err := vs.Available(); err != nil {
			return fmt.Errorf("%w: %s: %v", api.ErrDegraded, tasks.ErrorCode(err), err)
		}
		return nil
	}
}
