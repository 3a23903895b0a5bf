package tasks

import (
	"encoding/json"
	"time"
)

// Task type names, one per kind of asynq task.
const (
	TypeDocumentAnalyze = "document:analyze"
	TypeVideoAnalyze    = "video:analyze"
	TypeWebhookDeliver  = "webhook:deliver"
)

// Kind is what a job analyzes.
type Kind string

// Job kinds.
const (
	KindDocument Kind = "document"
	KindVideo    Kind = "video"
)

// TaskType returns the asynq task type that processes jobs of kind k.
func (k Kind) TaskType() string {
	if k == KindVideo {
		return TypeVideoAnalyze
	}
	return TypeDocumentAnalyze
}

// Status is the state of a job.
type Status string

// Job states. A job moves queued → processing → one of the final states.
const (
	StatusQueued             Status = "queued"
	StatusProcessing         Status = "processing"
	StatusSucceeded          Status = "succeeded"
	StatusPartiallySucceeded Status = "partially_succeeded"
	StatusFailed             Status = "failed"
	StatusCanceled           Status = "canceled"
)

// Final reports whether s is a state a job never leaves.
func (s Status) Final() bool {
	switch s {
	case StatusSucceeded, StatusPartiallySucceeded, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

// Valid reports whether s is a known state.
func (s Status) Valid() bool { return s == StatusQueued || s == StatusProcessing || s.Final() }

// Priority selects the queue a job goes to.
type Priority string

// Priorities, each its own asynq queue; the server weighs them 6:3:1.
const (
	PriorityCritical Priority = "critical"
	PriorityDefault  Priority = "default"
	PriorityLow      Priority = "low"
)

// Queues maps every priority's queue name to its weight, for asynq.Config.Queues.
var Queues = map[string]int{
	string(PriorityCritical): 6,
	string(PriorityDefault):  3,
	string(PriorityLow):      1,
}

// Valid reports whether p is a known priority.
func (p Priority) Valid() bool {
	_, ok := Queues[string(p)]
	return ok
}

// Options are the analysis options a client sets on a job.
type Options struct {
	// Task names the analysis to run (a prompt template for model providers),
	// for example "general_qa" or "text_extraction". Defaults to "general_qa".
	Task string `json:"task,omitempty"`
	// Priority selects the queue. Defaults to "default".
	Priority Priority `json:"priority,omitempty"`
	// MaxPages refuses documents with more pages. 0 means the configured limit.
	MaxPages int `json:"max_pages,omitempty"`
	// Provider picks the analyzer for this job ("anthropic", "openai",
	// "local") among those the server allows jobs to choose. Empty means
	// the configured analyzer.provider.
	Provider string `json:"provider,omitempty"`
	// MaxCostUSD caps what the job may spend on model calls: once its
	// accounted cost reaches the cap no new page starts, so the job stops
	// within one page of it and ends with CodeBudgetExceeded. 0 means no cap.
	MaxCostUSD float64 `json:"max_cost_usd,omitempty"`

	// Video options (see the video issue): Sample is "fps:<n>",
	// "scene:<threshold>" or "keyframes"; MaxFrames caps the frames analyzed
	// (0 = configured default); Start and End bound the analyzed time range
	// in seconds (0 = whole video).
	Sample    string  `json:"sample,omitempty"`
	MaxFrames int     `json:"max_frames,omitempty"`
	Start     float64 `json:"start,omitempty"`
	End       float64 `json:"end,omitempty"`

	// Extraction options (model providers only). Instructions is free text
	// added to the task's prompt, at most MaxInstructionsBytes. Schema is a
	// JSON Schema (draft 2020-12, an object at the top, at most
	// MaxSchemaBytes) every page's data must validate against. Scope says
	// whether the answer is per page (the default) or, after the pages,
	// one combined answer for the whole job.
	Instructions string          `json:"instructions,omitempty"`
	Schema       json.RawMessage `json:"schema,omitempty"`
	Scope        Scope           `json:"scope,omitempty"`

	// Mode says how the units reach a model provider: realtime (the
	// default) or economy, through the provider's batch API at its batch
	// price (see ModeEconomy).
	Mode Mode `json:"mode,omitempty"`

	// Pages selects the pages of a document to analyze, in ParsePages's
	// syntax ("1-3,7,10-"); only those are split, analyzed, estimated and
	// billed, and their results keep their page numbers in the document.
	// Empty (the default) is every page. Videos ignore it.
	Pages string `json:"pages,omitempty"`
}

// PageSelection parses Pages; see ParsePages.
func (o Options) PageSelection() (PageSelection, error) { return ParsePages(o.Pages) }

// Extracting reports whether the options ask a model to follow the
// client's own instructions or schema, which only model providers can.
func (o Options) Extracting() bool {
	return o.Instructions != "" || len(o.Schema) > 0 || o.Scope == ScopeDocument
}

// Limits of the extraction options.
const (
	MaxInstructionsBytes = 8 << 10
	MaxSchemaBytes       = 64 << 10
)

// Scope is what one answer covers.
type Scope string

// Scopes.
const (
	// ScopePage answers each page or frame on its own (the default).
	ScopePage Scope = "page"
	// ScopeDocument also combines the page answers into one answer for
	// the whole job (Job.Answer).
	ScopeDocument Scope = "document"
)

// Valid reports whether s is a known scope; empty is the default, page.
func (s Scope) Valid() bool { return s == "" || s == ScopePage || s == ScopeDocument }

// AnalyzePayload is the payload of a document:analyze or video:analyze task.
// It carries references, never the file bytes, and never a password.
type AnalyzePayload struct {
	JobID string `json:"job_id"`
	// BlobKey locates the input in the blob store. Empty when the input is
	// still to be fetched from SourceURL.
	BlobKey   string  `json:"blob_key,omitempty"`
	SourceURL string  `json:"source_url,omitempty"`
	Options   Options `json:"options"`
}

// Job is the record of one submitted file and its analysis.
type Job struct {
	ID       string          `json:"id"`
	Kind     Kind            `json:"kind"`
	Status   Status          `json:"status"`
	Options  Options         `json:"options"`
	Metadata json.RawMessage `json:"metadata,omitempty"`

	// Tenant owns the job: only its keys (and admin keys) see it.
	Tenant string `json:"tenant,omitempty"`

	Filename  string `json:"filename,omitempty"`
	SourceURL string `json:"source_url,omitempty"`
	// BlobKey locates the input in the blob store; it is internal and
	// never shown to clients.
	BlobKey string `json:"-"`
	Size    int64  `json:"size,omitempty"`
	// BatchID is the batch the job belongs to, if any.
	BatchID string `json:"batch_id,omitempty"`
	// CallbackURL receives the job's signed webhook when it ends.
	CallbackURL string `json:"callback_url,omitempty"`
	// Video holds the facts ffprobe found, for video jobs.
	Video *VideoInfo `json:"video,omitempty"`
	// Summary is the analyzer's account of the whole job, written when its
	// units are done: for a video, its scenes and near-duplicate frames.
	Summary json.RawMessage `json:"summary,omitempty"`
	// Answer is the combined answer for the whole job (scope document),
	// valid against the job's schema when it has one; written once, after
	// the pages, and never redone.
	Answer json.RawMessage `json:"answer,omitempty"`
	// Usage sums the tokens, cost and cache outcomes of the job's page
	// results so far; nil before the first result that records any.
	Usage *Usage `json:"usage,omitempty"`

	// HasPassword says the job was submitted with a password; the password
	// itself is kept apart from the record and deleted when the job ends.
	HasPassword bool `json:"has_password,omitempty"`

	// PagesTotal counts the pages (frames) the job analyzes: with a page
	// selection (Options.Pages) the selected pages, not the document's,
	// so that pages_done reaches it; their results keep their page
	// numbers in the document.
	PagesTotal  int `json:"pages_total"`
	PagesDone   int `json:"pages_done"`
	PagesFailed int `json:"pages_failed"`
	// Attempts counts how many times a worker started the job's task.
	Attempts int `json:"attempts"`

	ErrorCode    Code   `json:"error_code,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`

	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`

	// CompletedBatch is set by the store's FinishJob on the one job whose
	// end completed its batch. It is not stored.
	CompletedBatch bool `json:"-"`
}

// PageStatus is the outcome of one page or frame.
type PageStatus string

// Page outcomes.
const (
	PageDone   PageStatus = "done"
	PageFailed PageStatus = "failed"
)

// PageResult is the stored outcome of analyzing one page (or frame).
type PageResult struct {
	// Index is the 1-based page number, or the 0-based frame index.
	Index  int        `json:"index"`
	Status PageStatus `json:"status"`
	// Timestamp (seconds), Width and Height describe a video frame.
	Timestamp float64 `json:"timestamp,omitempty"`
	Width     int     `json:"width,omitempty"`
	Height    int     `json:"height,omitempty"`
	// Attempts is how many analysis calls this page took.
	Attempts   int   `json:"attempts"`
	DurationMS int64 `json:"duration_ms"`
	// Output is the analyzer's structured result.
	Output json.RawMessage `json:"output,omitempty"`

	ErrorCode    Code      `json:"error_code,omitempty"`
	ErrorMessage string    `json:"error_message,omitempty"`
	FinishedAt   time.Time `json:"finished_at"`
	// Metrics tells how the analysis went; nil for results stored before
	// metrics existed.
	Metrics *Metrics `json:"metrics,omitempty"`
}

// Unit is one piece of a job handed to an analyzer: a single-page PDF or a
// video frame.
type Unit struct {
	JobID string
	Kind  Kind
	// Index is the 1-based page number or the 0-based frame index.
	Index int
	// Data is a self-contained single-page PDF, or an encoded image.
	Data []byte
	// MIME is Data's media type: "application/pdf", "image/jpeg", "image/png".
	MIME string
	// Task is the job's analysis task.
	Task string
	// Timestamp is a frame's presentation time in seconds; 0 for pages.
	Timestamp float64
	// Width and Height are a frame's dimensions in pixels; 0 for pages.
	Width, Height int
	// Provider is the job's Options.Provider: empty for the configured one.
	Provider string
	// Instructions and Schema are the job's extraction options.
	Instructions string
	Schema       json.RawMessage
}

// VideoInfo is what ffprobe (or the GIF decoder) reports about a video.
type VideoInfo struct {
	DurationSec float64 `json:"duration_sec"`
	FPS         float64 `json:"fps"`
	Codec       string  `json:"codec"`
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	HasAudio    bool    `json:"has_audio"`
	Format      string  `json:"format,omitempty"`
}

// Notification is appended to the store's notification stream when a job ends.
type Notification struct {
	// StreamID is the id of the notification in the stream; resume after it.
	StreamID string `json:"stream_id,omitempty"`
	Event    string `json:"event"`
	JobID    string `json:"job_id,omitempty"`
	BatchID  string `json:"batch_id,omitempty"`
	// Tenant owns the job or batch.
	Tenant string `json:"tenant,omitempty"`
	// Counts splits a batch's jobs by final state (batch events only).
	Counts      map[Status]int  `json:"counts,omitempty"`
	Status      Status          `json:"status"`
	PagesTotal  int             `json:"pages_total"`
	PagesDone   int             `json:"pages_done"`
	PagesFailed int             `json:"pages_failed"`
	ErrorCode   Code            `json:"error_code,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	StartedAt   *time.Time      `json:"started_at,omitempty"`
	FinishedAt  *time.Time      `json:"finished_at,omitempty"`
}

// NewNotification describes the end of job j.
func NewNotification(j *Job) Notification {
	return Notification{
		Event:       "job." + string(j.Status),
		JobID:       j.ID,
		BatchID:     j.BatchID,
		Tenant:      j.Tenant,
		Status:      j.Status,
		PagesTotal:  j.PagesTotal,
		PagesDone:   j.PagesDone,
		PagesFailed: j.PagesFailed,
		ErrorCode:   j.ErrorCode,
		Metadata:    j.Metadata,
		CreatedAt:   j.CreatedAt,
		StartedAt:   j.StartedAt,
		FinishedAt:  j.FinishedAt,
	}
}

// Analysis is what an analyzer returns for one unit.
type Analysis struct {
	// Output is the analyzer's structured result, stored with the page.
	Output json.RawMessage `json:"output"`
	// Analyzer names what produced Output ("local", "anthropic", ...).
	Analyzer string `json:"analyzer,omitempty"`
	Model    string `json:"model,omitempty"`
	// Token usage and cost, for model providers; zero for the local analyzer.
	InputTokens  int     `json:"input_tokens,omitempty"`
	OutputTokens int     `json:"output_tokens,omitempty"`
	CostUSD      float64 `json:"cost_usd,omitempty"`
	// Metrics holds the timings and the controls' outcomes; see PageMetrics.
	Metrics Metrics `json:"metrics"`
}
