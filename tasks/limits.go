package tasks

// MaxDecodedBytes is the one bound on what a document may inflate to in
// mmq's memory: the decoded size of any one stream read from a PDF (by
// pdfcpu while reading and splitting), of a page's content as a whole (by
// internal/pdfsyntax, for media's resource pruning and the local analyzer's
// content walk) and the bytes a qpdf repair may add to the file's own size.
// A decompression bomb then costs at most this much per stream instead of
// what its filters claim; no sane page content, object stream or xref
// stream comes near it.
const MaxDecodedBytes = 32 << 20

// Defaults of the limits on inputs, which the API checks on submission and
// the worker again when it reads: the configuration's limits.* keys and the
// API's and worker's zero values all mean these.
const (
	// DefaultMaxUploadBytes bounds an uploaded or downloaded input: 100 MiB.
	DefaultMaxUploadBytes = 100 << 20
	// DefaultMaxPages bounds the pages of a document.
	DefaultMaxPages = 2000
	// DefaultMaxFrames bounds the frames analyzed of a video.
	DefaultMaxFrames = 300
	// DefaultMaxBatchJobs bounds the items of one batch.
	DefaultMaxBatchJobs = 10_000
	// DefaultMaxBatchUploadBytes bounds the body of a multipart batch: 1 GiB.
	DefaultMaxBatchUploadBytes = 1 << 30
)
