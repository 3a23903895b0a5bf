package api

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
	"github.com/mmq/mmq/tasks"
)

// Store is what the API needs of the job store. store.Redis implements it.
type Store interface {
	// CreateJob stores a new job record and keeps password, if not empty,
	// apart from the record.
	CreateJob(ctx context.Context, j *tasks.Job, password string) error
	// GetJob returns a job; an unknown id is a *tasks.Error with CodeNotFound.
	GetJob(ctx context.Context, id string) (*tasks.Job, error)
	// ListJobs returns up to limit jobs of tenant ("" for all), newest
	// first, in status if not empty,
	// and the cursor of the next page, empty on the last one.
	ListJobs(ctx context.Context, tenant string, status tasks.Status, limit int, cursor string) (jobs []*tasks.Job, next string, err error)
	// CountJobs returns how many jobs of tenant ("" for all) created in
	// [from, to] are in each
	// state, without reading their records.
	CountJobs(ctx context.Context, tenant string, from, to time.Time) (map[tasks.Status]int, error)
	// Tally sums the counters kept as the jobs of tenant ("" for all)
	// created in [from, to] ended
	// and their pages got outcomes, without reading their records.
	Tally(ctx context.Context, tenant string, from, to time.Time) (*tasks.Tally, error)
	// DailyUsage returns what tenant ("" for all) used on each of days
	// UTC days from first's, in one round trip.
	DailyUsage(ctx context.Context, tenant string, first time.Time, days int) ([]tasks.UsageDay, error)
	// Results returns up to limit page results with Index > after, in
	// ascending order, and whether more follow. after = -1 starts at the
	// beginning.
	Results(ctx context.Context, id string, after, limit int) (rs []tasks.PageResult, more bool, err error)
	// FinishJob moves a job to a final state; the API uses it to fail a job
	// it could not enqueue.
	FinishJob(ctx context.Context, id string, status tasks.Status, code tasks.Code, msg string) (*tasks.Job, error)
	// Notifications returns up to count notifications of tenant ("" for
	// all) after the stream id
	// after, waiting up to block for the first one.
	Notifications(ctx context.Context, tenant, after string, count int64, block time.Duration) ([]tasks.Notification, error)
	// CreateBatch stores a batch and its new jobs in pipelined round trips.
	CreateBatch(ctx context.Context, b *tasks.Batch, jobs []*tasks.Job) error
	// GetBatch returns a batch with its counts by state.
	GetBatch(ctx context.Context, id string) (*tasks.Batch, error)
	// BatchJobs returns up to limit jobs of a batch from offset, in
	// submission order, and whether more follow.
	BatchJobs(ctx context.Context, id string, offset, limit int) ([]*tasks.Job, bool, error)
	// ReopenJob puts a failed or partially succeeded job back to queued,
	// dropping its failed pages' results; other states are CodeConflict.
	ReopenJob(ctx context.Context, id string) (*tasks.Job, error)
	// ClaimIdempotencyKey binds an Idempotency-Key to the request's
	// fingerprint and the id it creates; it returns the id of an identical
	// earlier request, or a CodeConflict error for a different one.
	ClaimIdempotencyKey(ctx context.Context, scope, key, fingerprint, id string) (string, error)
	// ReleaseIdempotencyKey forgets a key whose request failed.
	ReleaseIdempotencyKey(ctx context.Context, scope, key string) error
	// JobEvents and BatchEvents read a job's or batch's event stream after
	// an event id, waiting up to block for the first one.
	JobEvents(ctx context.Context, id, after string, block time.Duration) ([]tasks.Event, error)
	BatchEvents(ctx context.Context, id, after string, block time.Duration) ([]tasks.Event, error)
	// JobDeliveries and BatchDeliveries return the webhook delivery
	// attempts of a job or a batch, oldest first.
	JobDeliveries(ctx context.Context, id string) ([]tasks.DeliveryAttempt, error)
	BatchDeliveries(ctx context.Context, id string) ([]tasks.DeliveryAttempt, error)
	// Ping checks the store answers; /readyz reports it as "redis".
	Ping(ctx context.Context) error
	// RefBlob records that job id uses the blob of key, before the blob
	// is written; it waits while that blob is being deleted.
	RefBlob(ctx context.Context, key, id string) error
	// DeleteJob removes an ended job and every key of it, and its input
	// when no other job uses it; an active job is CodeConflict.
	DeleteJob(ctx context.Context, id string) error
	// DeleteBatch removes a batch whose jobs have all ended, and its jobs
	// as DeleteJob does.
	DeleteBatch(ctx context.Context, id string) error
}

// StreamReader reads several event streams in one blocking read; the
// process's stream hub serves every client's stream with it. store.Redis
// implements it; give it a Redis client of its own (Deps.Streams) so that
// its blocking reads never take the connections other requests need.
type StreamReader interface {
	// ReadStreams returns up to count entries after each cursor, waiting
	// up to block for the first; entries of the notifications stream
	// carry their ids only.
	ReadStreams(ctx context.Context, cursors []tasks.StreamCursor, count int64, block time.Duration) (map[tasks.StreamRef][]tasks.Event, error)
}

// Blobs keeps job inputs. fsblob.Blobs implements it.
type Blobs interface {
	Put(ctx context.Context, data []byte) (key string, err error)
}

// Enqueuer puts tasks on the queue. *asynq.Client implements it.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// SniffFunc tells a job's kind from its first bytes. media.SniffKind
// implements it; it returns a *tasks.Error with CodeEmptyFile or
// CodeUnsupportedType for input mmq cannot analyze.
type SniffFunc func(data []byte) (tasks.Kind, error)

// InspectVideoFunc probes a video once and plans a job's frames from opts:
// it returns the video's facts and opts with the video defaults applied.
// Its errors are *tasks.Error with CodeEmptyFile, CodeInvalidVideo,
// CodeNoVideoStream, CodeUnsupportedCodec, CodeVideoTooLong,
// CodeTooManyFrames, CodeInvalidRequest or CodeFFmpegUnavailable.
type InspectVideoFunc func(ctx context.Context, data []byte, opts tasks.Options) (*tasks.VideoPlan, error)

// InspectPDFFunc opens a document once, a PDF or an image (cmd/mmq wires
// media.OpenDocument), and returns its page count. Its errors are
// *tasks.Error with CodeInvalidPDF, CodeEncryptedPDF, CodeWrongPassword,
// CodeInvalidImage, CodeImageTooLarge or CodeTooManyPages (more than
// maxPages pages; 0 is no limit).
type InspectPDFFunc func(ctx context.Context, data []byte, password string, maxPages int) (pages int, err error)

// KeyLimiter takes one request of an API key from its budget, shared by
// every API process; it returns 0 to let it through, else how long until
// it could go.
type KeyLimiter interface {
	Allow(ctx context.Context, key string) (time.Duration, error)
}
