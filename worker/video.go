package worker

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/rs/zerolog"

	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/tasks"
)

// resultsPage is how many results the summary reads per store call.
const resultsPage = 500

// isVideo reports whether the job's input is a video: the API said so, or
// the input of a job submitted by URL turned out to be one.
func (h *Handler) isVideo(job *tasks.Job, data []byte) bool {
	if job.Kind == tasks.KindVideo {
		return true
	}
	if h.deps.Sniff == nil {
		return false
	}
	kind, err := h.deps.Sniff(data)
	return err == nil && kind == tasks.KindVideo
}

// videoInPlace returns the input of a video job whose blob ffmpeg can read
// where it is (fsblob.Blobs), so that the video is never read into
// memory. Other jobs load their input first.
func (h *Handler) videoInPlace(job *tasks.Job, p tasks.AnalyzePayload) (VideoInput, bool) {
	bp, ok := h.deps.Blobs.(blobPather)
	key := cmp.Or(job.BlobKey, p.BlobKey)
	if job.Kind != tasks.KindVideo || !ok || key == "" {
		return VideoInput{}, false
	}
	path, err := bp.Path(key)
	if err != nil {
		// Let loadInput report the missing blob as it does for documents.
		return VideoInput{}, false
	}
	return VideoInput{Path: path}, true
}

// runVideo analyzes the frames of a video job with the same fan-out as the
// pages of a document: frames stream from the decoder into the fan-out,
// which pulls the next one only when a slot is free, each frame's result is
// stored as it comes, and the frames a previous run finished are skipped.
// When every frame has an outcome, the analyzer's summary of the video is
// stored on the job.
func (h *Handler) runVideo(ctx context.Context, job *tasks.Job, in VideoInput) error {
	if job.Options.Economy() {
		// Frames are sampled and summarized within one run; they do not
		// wait a day for a provider batch.
		return tasks.Errorf(tasks.CodeModeUnsupported, "economy mode is for documents; videos run in realtime")
	}
	if h.deps.OpenVideo == nil {
		return tasks.Errorf(tasks.CodeFFmpegUnavailable, "this worker does not analyze videos")
	}
	vs, ok := h.deps.Store.(VideoStore)
	if !ok {
		return errors.New("worker: the store cannot record video jobs (it does not implement VideoStore)")
	}
	// The facts probed at submit (or by an earlier run) need no new probe.
	in.Info = job.Video
	video, err := h.deps.OpenVideo(ctx, in, job.Options)
	if err != nil {
		return err
	}
	defer video.Close()

	// The API planned uploads already; a job submitted by URL learns here
	// that it is a video. Recording the plan again is cheap and keeps the
	// record right whatever the job came with.
	plan := video.Plan()
	if err := vs.SetVideoPlan(ctx, job.ID, plan); err != nil {
		return err
	}
	job.Kind, job.Video, job.Options = tasks.KindVideo, &plan.Info, plan.Options
	if plan.Frames > 0 {
		job.PagesTotal = plan.Frames
	}

	// pages_done counts the done set: a first run has no checkpoint to read.
	var done []int
	if job.PagesDone > 0 {
		if done, err = h.deps.Store.DonePages(ctx, job.ID); err != nil {
			return err
		}
	}
	last := -1
	if len(done) > 0 {
		last = slices.Max(done)
	}
	src := videoUnits(ctx, video, job, done, &last)
	lim := Limits{PerJob: h.cfg.PageConcurrency, Process: h.process}
	err = fanOut(ctx, src, lim, h.drain, func(ctx context.Context, it Item) {
		h.analyzeUnit(ctx, job, it, nil)
	})
	if err != nil {
		return err
	}
	// Scene and keyframe sampling learn the number of frames only now, and
	// the fps estimate may be off by one at the end.
	if n := last + 1; n != job.PagesTotal {
		if err := h.deps.Store.SetPagesTotal(ctx, job.ID, n); err != nil {
			return err
		}
		job.PagesTotal = n
	}
	if err := h.summarizeVideo(ctx, vs, job); err != nil {
		return err
	}
	return h.combine(ctx, job)
}

// videoUnits yields the frames of v that are not in done, as units of job,
// and records the highest index seen in *last.
func videoUnits(ctx context.Context, v Video, job *tasks.Job, done []int, last *int) Source {
	return func(yield func(Item, error) bool) {
		for u, err := range v.Frames(ctx, done) {
			if err != nil {
				yield(Item{}, err)
				return
			}
			u.JobID, u.Kind = job.ID, tasks.KindVideo
			u.Task, u.Provider = job.Options.Task, job.Options.Provider
			u.Instructions, u.Schema = job.Options.Instructions, job.Options.Schema
			*last = max(*last, u.Index)
			if !yield(Item{Unit: u}, nil) {
				return
			}
		}
	}
}

// summarizeVideo stores the analyzer's summary of the job's frames, if the
// analyzer makes one. A summary the analyzer fails to make is logged, not
// fatal: the frames' results stand on their own.
func (h *Handler) summarizeVideo(ctx context.Context, vs VideoStore, job *tasks.Job) error {
	s, ok := h.deps.Analyzer.(FrameSummarizer)
	if !ok {
		return nil
	}
	rs, err := allResults(ctx, vs, job.ID)
	if err != nil {
		return err
	}
	summary, err := s.SummarizeFrames(ctx, job, rs)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		zerolog.Ctx(ctx).Warn().Err(ssrf.RedactError(err)).Msg("no video summary")
		return nil
	}
	return vs.SetSummary(ctx, job.ID, summary)
}
