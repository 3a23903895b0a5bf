package worker

import (
	"context"
	"encoding/json"
	"iter"

	"github.com/hibiken/asynq"

	"github.com/mmq/mmq/tasks"
)

// Store is what the worker needs of the job store. store.Redis implements it.
type Store interface {
	// GetJob returns the job's record.
	GetJob(ctx context.Context, id string) (*tasks.Job, error)
	// StartJob marks the job processing, counts one attempt and returns the
	// record. A job already in a final state is returned unchanged.
	StartJob(ctx context.Context, id string) (*tasks.Job, error)
	// SetInput records the blob that holds a job's input once fetched.
	SetInput(ctx context.Context, id, blobKey string, size int64) error
	// RefBlob records that job id uses the blob of key, before the blob is
	// written; it waits while that blob is being deleted.
	RefBlob(ctx context.Context, key, id string) error
	// SetPagesTotal records how many pages (frames) the job has.
	SetPagesTotal(ctx context.Context, id string, n int) error
	// DonePages returns the indexes of the pages already done: the checkpoint.
	DonePages(ctx context.Context, id string) ([]int, error)
	// SavePage stores one page result and updates the job's counts atomically.
	// A done page is never downgraded to failed.
	SavePage(ctx context.Context, id string, r tasks.PageResult) error
	// SaveLastPage is SavePage for the last result a run saves, when no
	// other result of the job is in flight: if every page then has an
	// outcome, it also ends the job as EndJob would, in the same atomic
	// step, and returns the ended job; otherwise it returns nil.
	SaveLastPage(ctx context.Context, id string, r tasks.PageResult) (*tasks.Job, error)
	// FinishJob moves the job to a final state and appends its completion
	// notification, in one transaction. A job already final is left as is.
	FinishJob(ctx context.Context, id string, status tasks.Status, code tasks.Code, msg string) (*tasks.Job, error)
	// EndJob is FinishJob in the state the page counts give: succeeded,
	// failed or partially_succeeded (CodePagesFailed), read and set in one
	// atomic step.
	EndJob(ctx context.Context, id string) (*tasks.Job, error)
	// Password returns the password submitted with the job, or "".
	Password(ctx context.Context, id string) (string, error)
	// GetBatch returns a batch's record, for its batch.completed webhook.
	GetBatch(ctx context.Context, id string) (*tasks.Batch, error)
	// AppendDelivery logs one webhook delivery attempt under its job or
	// batch.
	AppendDelivery(ctx context.Context, a tasks.DeliveryAttempt) error
}

// Enqueuer puts tasks on the queue: the webhooks of jobs that end.
// *asynq.Client implements it.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Deliverer makes one webhook delivery attempt. *webhook.Deliverer
// implements it; its Deliver documents what the errors mean.
type Deliverer interface {
	Deliver(ctx context.Context, p tasks.WebhookPayload) (tasks.DeliveryAttempt, error)
}

// Blobs reads and writes job inputs.
type Blobs interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, data []byte) (key string, err error)
}

// Analyzer turns one page or frame into a structured result.
type Analyzer interface {
	Analyze(ctx context.Context, u tasks.Unit) (tasks.Analysis, error)
}

// Document is a PDF read once, from which single pages are extracted.
type Document interface {
	PageCount() int
	// Page returns page n (1-based) as a self-contained single-page PDF.
	Page(ctx context.Context, n int) ([]byte, error)
}

// OpenPDF reads and validates a document once: a PDF, or an image whose
// pages are made one-page PDFs. media.OpenDocument implements it.
type OpenPDF func(ctx context.Context, data []byte, password string) (Document, error)

// imageDocument is a Document made from an image (*media.Image): its input
// is no PDF, so an analyzer has no document to prepare from it.
type imageDocument interface {
	Document
	Format() string
}

// VideoStore is what video jobs need of the store beyond Store. The store
// given as Deps.Store must implement it for the worker to process videos;
// store.Redis does.
type VideoStore interface {
	// SetVideoPlan records that the job's input is a video, its facts, the
	// options with the video defaults applied and, when known, its number
	// of frames.
	SetVideoPlan(ctx context.Context, id string, plan tasks.VideoPlan) error
	// Results returns up to limit unit results with Index > after, in
	// ascending order, and whether more follow.
	Results(ctx context.Context, id string, after, limit int) (rs []tasks.PageResult, more bool, err error)
	// SetSummary stores the analyzer's summary of the whole job.
	SetSummary(ctx context.Context, id string, summary json.RawMessage) error
}

// VideoInput locates a video: ffmpeg reads Path in place when it is set,
// else Data is written to a temporary file for it. Info, when set, holds
// the facts probed before (at submit), which need not be probed again.
type VideoInput struct {
	Path string
	Data []byte
	Info *tasks.VideoInfo
}

// Video is a probed video whose frames are streamed. *media.Video
// implements it.
type Video interface {
	// Plan returns the video's facts and the job's options with the
	// defaults applied.
	Plan() tasks.VideoPlan
	// Frames yields the frames the plan selects, in time order, skipping
	// the indexes in done without analyzing (and where it can, without
	// decoding) them. It produces the next frame only when asked, and an
	// error ends the sequence. Stopping early releases the decoder.
	Frames(ctx context.Context, done []int) iter.Seq2[tasks.Unit, error]
	// Close releases the video.
	Close() error
}

// OpenVideo probes a video and plans the job's frames from its options.
// media.Videos.Open implements it; its errors are *tasks.Error values with
// the codes of bad videos (CodeInvalidVideo, CodeNoVideoStream, ...) or
// CodeFFmpegUnavailable.
type OpenVideo func(ctx context.Context, in VideoInput, opts tasks.Options) (Video, error)

// FrameSummarizer is implemented by analyzers that summarize a video from
// the results of its frames (analyzer.Local: scenes, near-duplicates). The
// worker stores the summary on the job when its frames are done.
type FrameSummarizer interface {
	SummarizeFrames(ctx context.Context, job *tasks.Job, rs []tasks.PageResult) (json.RawMessage, error)
}

// blobPather is implemented by blob stores that keep inputs as local files
// (fsblob.Blobs), which ffmpeg then reads in place.
type blobPather interface {
	Path(key string) (string, error)
}
