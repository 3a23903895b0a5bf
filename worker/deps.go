package worker

import (
	"context"

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
	// SetPagesTotal records how many pages (frames) the job has.
	SetPagesTotal(ctx context.Context, id string, n int) error
	// DonePages returns the indexes of the pages already done: the checkpoint.
	DonePages(ctx context.Context, id string) ([]int, error)
	// SavePage stores one page result and updates the job's counts atomically.
	// A done page is never downgraded to failed.
	SavePage(ctx context.Context, id string, r tasks.PageResult) error
	// FinishJob moves the job to a final state and appends its completion
	// notification, in one transaction. A job already final is left as is.
	FinishJob(ctx context.Context, id string, status tasks.Status, code tasks.Code, msg string) (*tasks.Job, error)
	// Password returns the password submitted with the job, or "".
	Password(ctx context.Context, id string) (string, error)
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

// OpenPDF reads and validates a PDF once. media.OpenPDF implements it.
type OpenPDF func(ctx context.Context, data []byte, password string) (Document, error)
