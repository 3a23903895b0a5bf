package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"time"

	"github.com/google/uuid"
	"github.com/mmq/mmq/schema"
	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/tasks"
	"github.com/rs/zerolog"
)

// Config tunes the API. Zero values mean the documented defaults.
type Config struct {
	// MaxUploadBytes bounds an uploaded file; a larger one is refused with
	// 413 file_too_large. Defaults to 100 MiB.
	MaxUploadBytes int64
	// MaxPages bounds the pages of a document. A job's max_pages may lower
	// it, never raise it. Defaults to 2000.
	MaxPages int
	// DefaultTask is the analysis task of a job that names none. Defaults to
	// "general_qa".
	DefaultTask string
	// Enqueue holds the asynq options of every analysis task; see
	// tasks.EnqueueConfig for its defaults.
	Enqueue tasks.EnqueueConfig
	// ReadinessTimeout bounds the readiness checks of /readyz. Defaults to 2 s.
	ReadinessTimeout time.Duration
	// MaxConcurrentInspections bounds how many uploads Deps.InspectPDF reads
	// at once; later ones wait. pdfcpu holds a document in about ten times
	// its size, so this bounds the API's memory. Defaults to GOMAXPROCS.
	MaxConcurrentInspections int
	// MaxBatchJobs bounds the items of one batch. Defaults to 10,000.
	MaxBatchJobs int
	// MaxBatchUploadBytes bounds the body of a multipart batch. Defaults to
	// 1 GiB.
	MaxBatchUploadBytes int64
	// MaxFrames bounds the frames of a video job. A job's max_frames may
	// lower it, never raise it. Defaults to 300.
	MaxFrames int
	// SSRF checks the URLs clients submit, inputs and callbacks: with its
	// zero value a URL whose host is a private, loopback or link-local IP
	// literal, or localhost, is refused with 400 invalid_url. Names are
	// checked by the worker when it connects.
	SSRF ssrf.Config
	// RefuseCallbacks refuses every callback_url with 400: set it when no
	// worker can sign webhooks (no webhooks.secret). Defaults to false.
	RefuseCallbacks bool
	// Webhooks holds the schedule and asynq options of the webhook:deliver
	// tasks the API enqueues (cancellations, redeliveries); it must match
	// the worker's. See tasks.WebhookTaskConfig for its defaults.
	Webhooks tasks.WebhookTaskConfig
	// Auth configures API keys and their rate limit. Its zero value leaves
	// the API open; see AuthConfig.
	Auth AuthConfig
	// BodyMinRate is the slowest, in bytes per second averaged over the
	// time spent waiting for it, that a request body may arrive once
	// BodyGrace has passed; a slower one is cut off with 408
	// request_timeout. Defaults to 16 KiB/s and 10 s.
	BodyMinRate int64
	BodyGrace   time.Duration
	// MaxUploadBytesInFlight bounds the request body bytes the process
	// holds at once; a request that would exceed it gets 503 busy with
	// Retry-After. Defaults to 2 GiB, and must be at least the largest
	// request allowed.
	MaxUploadBytesInFlight int64
	// SpoolDir is where uploads are written as they arrive, then mapped
	// into memory while their request runs. Defaults to os.TempDir().
	SpoolDir string
	// Streams bounds the event streams open at once; see StreamConfig.
	Streams StreamConfig
}

// Defaults of Config.
const (
	DefaultMaxUploadBytes   = tasks.DefaultMaxUploadBytes
	DefaultMaxPages         = tasks.DefaultMaxPages
	DefaultMaxFrames        = tasks.DefaultMaxFrames
	DefaultTask             = "general_qa"
	DefaultReadinessTimeout = 2 * time.Second
)

// taskPattern is what a task name looks like: it names a prompt template, so
// it is kept to characters that are safe in a file name and a log line.
var taskPattern = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

func (c *Config) setDefaults() {
	if c.MaxUploadBytes == 0 {
		c.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if c.MaxPages == 0 {
		c.MaxPages = DefaultMaxPages
	}
	if c.MaxFrames == 0 {
		c.MaxFrames = DefaultMaxFrames
	}
	if c.DefaultTask == "" {
		c.DefaultTask = DefaultTask
	}
	if c.ReadinessTimeout == 0 {
		c.ReadinessTimeout = DefaultReadinessTimeout
	}
	if c.MaxBatchJobs == 0 {
		c.MaxBatchJobs = tasks.DefaultMaxBatchJobs
	}
	if c.MaxBatchUploadBytes == 0 {
		c.MaxBatchUploadBytes = tasks.DefaultMaxBatchUploadBytes
	}
	if c.MaxConcurrentInspections == 0 {
		c.MaxConcurrentInspections = runtime.GOMAXPROCS(0)
	}
	if c.BodyMinRate == 0 {
		c.BodyMinRate = DefaultBodyMinRate
	}
	if c.BodyGrace == 0 {
		c.BodyGrace = DefaultBodyGrace
	}
	if c.MaxUploadBytesInFlight == 0 {
		c.MaxUploadBytesInFlight = DefaultMaxUploadBytesInFlight
	}
	if c.SpoolDir == "" {
		c.SpoolDir = os.TempDir()
	}
	c.Streams.setDefaults()
	c.Auth.setDefaults()
}

// Validate reports a Config that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.MaxUploadBytes < 0:
		return fmt.Errorf("api: MaxUploadBytes %d is negative", c.MaxUploadBytes)
	case c.MaxPages < 0:
		return fmt.Errorf("api: MaxPages %d is negative", c.MaxPages)
	case c.MaxFrames < 0:
		return fmt.Errorf("api: MaxFrames %d is negative", c.MaxFrames)
	case !taskPattern.MatchString(c.DefaultTask):
		return fmt.Errorf("api: DefaultTask %q does not match %s", c.DefaultTask, taskPattern)
	case c.ReadinessTimeout < 0:
		return fmt.Errorf("api: ReadinessTimeout %v is negative", c.ReadinessTimeout)
	case c.MaxConcurrentInspections < 0:
		return fmt.Errorf("api: MaxConcurrentInspections %d is negative", c.MaxConcurrentInspections)
	case c.BodyMinRate < 0 || c.BodyGrace < 0:
		return fmt.Errorf("api: BodyMinRate %d and BodyGrace %v must not be negative", c.BodyMinRate, c.BodyGrace)
	case c.MaxUploadBytesInFlight < max(c.MaxUploadBytes+formOverhead, c.MaxBatchUploadBytes):
		return fmt.Errorf("api: MaxUploadBytesInFlight %d is less than the largest request allowed (%d)",
			c.MaxUploadBytesInFlight, max(c.MaxUploadBytes+formOverhead, c.MaxBatchUploadBytes))
	}
	if err := c.Streams.Validate(); err != nil {
		return err
	}
	if err := c.Enqueue.Validate(); err != nil {
		return err
	}
	if err := c.Webhooks.Validate(); err != nil {
		return err
	}
	return c.Auth.Validate()
}

// Deps are the parts the API works with. Store, Blobs, Queue and Sniff are
// required.
type Deps struct {
	Store Store
	Blobs Blobs
	Queue Enqueuer
	// Sniff tells an upload's kind from its bytes.
	Sniff SniffFunc
	// InspectPDF, if set, opens every uploaded PDF before the job is
	// accepted, so that corrupt, encrypted and oversized documents are
	// refused with a 4xx and the job records its page count. Without it
	// those checks happen in the worker and end as failed jobs.
	InspectPDF InspectPDFFunc
	// InspectVideo, if set, probes every uploaded video before the job is
	// accepted, so that damaged, audio-only, too long videos and sampling
	// that selects too many frames are refused with a 4xx, and the job
	// records the video's facts and its planned frames. When it reports
	// CodeFFmpegUnavailable the video is accepted unprobed, for a worker
	// that has ffmpeg.
	InspectVideo InspectVideoFunc
	// Models, if set, answers POST /v1/estimate and decides which
	// providers a job may choose; without it neither is offered.
	Models Models
	// Tasks, if set, lets a cancel remove or stop a job's queued or running
	// task; without it a cancel only marks the job.
	Tasks TaskControl
	// KeyLimiter, if set, holds each key to AuthConfig.RateLimit across
	// every API process (store.KeyLimiter); without it, or while it
	// fails, each process limits on its own.
	KeyLimiter KeyLimiter
	// Checks are extra readiness checks (for example "ffmpeg"), run by
	// /readyz next to the store's ping, which it reports as "redis".
	Checks map[string]func(context.Context) error
	// Logger receives one access log line per request and the causes of
	// internal errors. Defaults to a disabled logger.
	Logger zerolog.Logger
	// NewID returns a new job id. Defaults to a UUIDv7 string, whose time
	// order makes ids sort by submission.
	NewID func() string
	// Observer hears of every request, for metrics. Defaults to one that
	// ignores them.
	Observer Observer
	// Streams reads the event streams that clients follow (SSE and
	// notification long polls), one blocking read per process. Defaults to
	// Store when it implements StreamReader; give it a store on a Redis
	// client of its own. Without either, streams answer 503.
	Streams StreamReader
}

func (d *Deps) setDefaults() {
	if d.NewID == nil {
		d.NewID = newUUIDv7
	}
	if d.Observer == nil {
		d.Observer = nopObserver{}
	}
	if d.Streams == nil {
		d.Streams, _ = d.Store.(StreamReader)
	}
}

// Validate reports missing required parts.
func (d *Deps) Validate() error {
	var errs []error
	if d.Store == nil {
		errs = append(errs, errors.New("api: Deps.Store is required"))
	}
	if d.Blobs == nil {
		errs = append(errs, errors.New("api: Deps.Blobs is required"))
	}
	if d.Queue == nil {
		errs = append(errs, errors.New("api: Deps.Queue is required"))
	}
	if d.Sniff == nil {
		errs = append(errs, errors.New("api: Deps.Sniff is required"))
	}

	for name, check := range d.Checks {
		if name == redisCheck {
			errs = append(errs, fmt.Errorf("api: Deps.Checks: %q is reserved for the store's ping", redisCheck))
		}
		if check == nil {
			errs = append(errs, fmt.Errorf("api: Deps.Checks[%q] is nil", name))
		}
	}
	return errors.Join(errs...)
}

func newUUIDv7() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the system's random source does; a v4
		// id is as unique, it only loses the time order.
		return uuid.NewString()
	}
	return id.String()
}

// Server serves the API. Create it with New.
type Server struct {
	cfg     Config
	deps    Deps
	log     zerolog.Logger
	handler http.Handler
	// inspections holds a token per running InspectPDF.
	inspections chan struct{}
	// keys are the API keys and their rate limiters.
	keys *keyring
	// uploads bounds the upload bytes held at once.
	uploads *uploadBudget
	// streams bounds and feeds the event streams.
	streams *streamHub
	// schemas keeps the compiled schemas of recent jobs, so that the items
	// of a batch, and a client's repeated jobs, compile theirs once.
	schemas *schema.Cache
	// openAPI is the description GET /openapi.json serves.
	openAPI openAPIJSON
}

// New returns a Server, or an error if cfg or deps cannot work.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	deps.setDefaults()
	if err := deps.Validate(); err != nil {
		return nil, err
	}
	doc, err := openAPIDoc()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		deps:        deps,
		log:         deps.Logger,
		inspections: make(chan struct{}, cfg.MaxConcurrentInspections),
		keys:        newKeyring(cfg.Auth),
		uploads:     &uploadBudget{max: cfg.MaxUploadBytesInFlight},
		streams:     newStreamHub(cfg.Streams, deps.Streams, deps.Logger),
		schemas:     &schema.Cache{MaxBytes: tasks.MaxSchemaBytes, Size: schemaCacheSize},
		openAPI:     doc,
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the API's routes wrapped in request-id, access-log, API
// key and panic-recovery middleware.
func (s *Server) Handler() http.Handler { return s.handler }

// route is one pattern of the mux and its handler.
type route struct {
	pattern string
	handler http.HandlerFunc
}

// table lists every route the API serves; api/openapi.yaml describes each.
func (s *Server) table() []route {
	return []route{
		{"POST /v1/jobs", s.handleSubmit},
		{"GET /v1/jobs", s.handleListJobs},
		{"GET /v1/jobs/{id}", s.handleGetJob},
		{"GET /v1/jobs/{id}/results", s.handleResults},
		{"GET /v1/jobs/{id}/document", s.handleDocument},
		{"GET /v1/jobs/{id}/events", s.handleJobEvents},
		{"GET /v1/batches/{id}/events", s.handleBatchEvents},
		{"POST /v1/jobs/{id}/cancel", s.handleCancelJob},
		{"DELETE /v1/jobs/{id}", s.handleDeleteJob},
		{"DELETE /v1/batches/{id}", s.handleDeleteBatch},
		{"POST /v1/jobs/{id}/retry", s.handleRetryJob},
		{"GET /v1/jobs/{id}/deliveries", s.handleJobDeliveries},
		{"POST /v1/jobs/{id}/deliveries/redeliver", s.handleRedeliver},
		{"GET /v1/batches/{id}/deliveries", s.handleBatchDeliveries},
		{"POST /v1/batches/{id}/cancel", s.handleCancelBatch},
		{"POST /v1/batches", s.handleSubmitBatch},
		{"GET /v1/batches/{id}", s.handleGetBatch},
		{"GET /v1/batches/{id}/jobs", s.handleBatchJobs},
		{"GET /v1/notifications", s.handleNotifications},
		{"GET /v1/stats", s.handleStats},
		{"GET /v1/usage", s.handleUsage},
		{"GET /healthz", s.handleHealth},
		{"GET /readyz", s.handleReady},
		{"POST /v1/estimate", s.handleEstimate},
		{"GET /openapi.json", s.handleOpenAPI},
	}
}

// Routes returns the pattern ("METHOD /path/{id}") of every route the
// Handler serves, besides the catch-all that answers 404 not_found.
func (s *Server) Routes() []string {
	var ps []string
	for _, r := range s.table() {
		ps = append(ps, r.pattern)
	}
	return ps
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, r := range s.table() {
		mux.HandleFunc(r.pattern, r.handler)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, tasks.Errorf(tasks.CodeNotFound, "no route for %s %s", r.Method, r.URL.Path))
	})
	return s.withRequestID(s.withAccessLog(s.withAuth(
		withBodyMinRate(s.cfg.BodyMinRate, s.cfg.BodyGrace, s.withUploads(withRecovery(withPattern(mux)))),
		challengeBearer, isAPIPath)))
}
