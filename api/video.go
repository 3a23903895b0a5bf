package api

import (
	"context"
	"fmt"
	"math"

	"github.com/rs/zerolog"

	"github.com/mmq/mmq/tasks"
)

// videoOptions checks a request's video options and copies them into opts.
// They are checked whatever the file turns out to be, so that a mistake is
// reported the same way for every input; Deps.InspectVideo applies the
// defaults once the input is known to be a video.
func (s *Server) videoOptions(req *submitRequest, opts *tasks.Options) error {
	if req.Sample != "" {
		sample, err := tasks.ParseSample(req.Sample)
		if err != nil {
			return err
		}
		opts.Sample = sample.String()
	}
	switch {
	case req.MaxFrames < 0:
		return tasks.Errorf(tasks.CodeInvalidRequest, "max_frames must not be negative")
	case req.MaxFrames > s.cfg.MaxFrames:
		return tasks.Errorf(tasks.CodeInvalidRequest, "max_frames must not exceed this server's limit of %d", s.cfg.MaxFrames)
	}
	opts.MaxFrames = req.MaxFrames
	switch {
	case math.IsNaN(req.Start) || math.IsNaN(req.End) || math.IsInf(req.Start, 0) || math.IsInf(req.End, 0):
		return tasks.Errorf(tasks.CodeInvalidRequest, "start and end must be numbers of seconds")
	case req.Start < 0 || req.End < 0:
		return tasks.Errorf(tasks.CodeInvalidRequest, "start and end must not be negative")
	case req.End > 0 && req.End <= req.Start:
		return tasks.Errorf(tasks.CodeInvalidRequest, "end must be after start")
	}
	opts.Start, opts.End = req.Start, req.End
	return nil
}

// acceptVideo probes an uploaded video with Deps.InspectVideo, at most
// MaxConcurrentInspections at once, and records its facts and planned
// frames on the job. Without InspectVideo, or without ffmpeg here, the
// video is accepted as it is and the worker probes it.
func (s *Server) acceptVideo(ctx context.Context, job *tasks.Job, data []byte) (err error) {
	if s.deps.InspectVideo == nil {
		return nil
	}
	select {
	case s.inspections <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.inspections }()
	defer func() {
		if p := recover(); p != nil {
			zerolog.Ctx(ctx).Warn().Interface("panic", p).Msg("video probe panicked")
			err = tasks.WrapError(tasks.CodeInvalidVideo, fmt.Errorf("panic: %v", p), "the video could not be read")
		}
	}()
	plan, err := s.deps.InspectVideo(ctx, data, job.Options)
	switch {
	case tasks.ErrorCode(err) == tasks.CodeFFmpegUnavailable:
		zerolog.Ctx(ctx).Warn().Err(err).Msg("video accepted unprobed: no ffmpeg here")
		return nil
	case err != nil:
		return err
	}
	job.Video = &plan.Info
	job.Options = plan.Options
	job.PagesTotal = plan.Frames
	return nil
}
