// Package config loads mmq's configuration with viper.
//
// Every key has a default here and a documented line in configs/config.yaml
// (a test keeps the two in step). Sources, lowest precedence first: the
// defaults, the config file (--config or MMQ_CONFIG), environment variables
// and command-line flags. A key's environment variable is MMQ_ followed by
// the key in upper case with dots as underscores: redis.addr is
// MMQ_REDIS_ADDR, worker.page_concurrency is MMQ_WORKER_PAGE_CONCURRENCY.
package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

// Config is mmq's whole configuration.
type Config struct {
	Redis   Redis   `mapstructure:"redis"`
	API     API     `mapstructure:"api"`
	Worker  Worker  `mapstructure:"worker"`
	Tasks   Tasks   `mapstructure:"tasks"`
	Store   Store   `mapstructure:"store"`
	Blobs   Blobs   `mapstructure:"blobs"`
	Limits  Limits  `mapstructure:"limits"`
	Log     Log     `mapstructure:"log"`
	Monitor Monitor `mapstructure:"monitoring"`
	Tools   Tools   `mapstructure:"tools"`
	// Video configures the analysis of videos.
	Video Video `mapstructure:"video"`
	// Webhooks configures the signed webhooks sent to callback URLs.
	Webhooks Webhooks `mapstructure:"webhooks"`
	// Economy configures economy mode: pages gathered into the providers'
	// batch APIs at their batch price.
	Economy Economy `mapstructure:"economy"`
	// Quotas bound what each tenant may use, by tenant name; "*" is the
	// quota of every tenant without its own.
	Quotas map[string]tasks.Quota `mapstructure:"quotas"`
	// SSRF says which addresses input downloads and webhooks may reach.
	SSRF SSRF `mapstructure:"ssrf"`
	// Auth configures API keys and their rate limit.
	Auth Auth `mapstructure:"auth"`
	// Metrics configures the Prometheus /metrics endpoint.
	Metrics Metrics `mapstructure:"metrics"`
	// Models configures the model providers and their controls (see
	// models.go): analyzer, providers, analysis, prices, cache, guardrails.
	Models `mapstructure:",squash"`
}

// Economy configures economy mode (see worker.EconomyConfig).
type Economy struct {
	// MaxWait is how long a page waits for others before its provider
	// batch is sent anyway.
	MaxWait time.Duration `mapstructure:"max_wait"`
	// MaxRequests caps one provider batch below the provider's limit
	// (0: the provider's).
	MaxRequests int `mapstructure:"max_requests"`
	// Tries is how many provider batches a page may be sent in before an
	// errored or expired request fails it.
	Tries int `mapstructure:"tries"`
	// PollBase and PollCap bound the backoff between polls of a batch.
	PollBase time.Duration `mapstructure:"poll_base"`
	PollCap  time.Duration `mapstructure:"poll_cap"`
	// CreateTimeout bounds creating one provider batch.
	CreateTimeout time.Duration `mapstructure:"create_timeout"`
}

// Redis locates the Redis that holds queues and the store.
type Redis struct {
	// Addr is host:port. Empty means: `mmq run` starts an embedded,
	// in-memory Redis; other commands refuse to start.
	Addr     string `mapstructure:"addr"`
	Username string `mapstructure:"username"`
	Password string `mapstructure:"password"`
	DB       int    `mapstructure:"db"`
	// Sentinel, when its MasterName is set, finds the primary through
	// Redis Sentinel and follows its failovers. Addr must then be empty.
	Sentinel RedisSentinel `mapstructure:"sentinel"`
	// Cluster, when its Addrs are set, talks to a Redis Cluster. Addr
	// must then be empty, DB 0, and store.prefix a hash tag (see
	// store/doc.go).
	Cluster RedisCluster `mapstructure:"cluster"`
	// TLS configures TLS to Redis (every mode, and asynqmon's connection).
	TLS RedisTLS `mapstructure:"tls"`
}

// RedisTLS configures TLS to Redis. Its zero value is plain TCP.
type RedisTLS struct {
	// Enabled speaks TLS to Redis, verifying its certificate against the
	// system's roots or CAFile. Defaults to false.
	Enabled bool `mapstructure:"enabled"`
	// CAFile, if set, is a PEM file of the CAs that sign Redis's
	// certificate, instead of the system's roots.
	CAFile string `mapstructure:"ca_file"`
	// CertFile and KeyFile, if set, are a client certificate for Redis
	// servers that require one (tls-auth-clients).
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
	// ServerName overrides the name checked in Redis's certificate.
	// Defaults to the host of the address dialed.
	ServerName string `mapstructure:"server_name"`
}

// RedisSentinel locates a primary through Redis Sentinel.
type RedisSentinel struct {
	// MasterName is the name the sentinels monitor the primary under.
	MasterName string `mapstructure:"master_name"`
	// Addrs are host:port of sentinels; one that answers is enough.
	// From the environment: comma-separated.
	Addrs []string `mapstructure:"addrs"`
	// Username and Password authenticate to the sentinels themselves;
	// redis.username and redis.password to the primary and replicas.
	Username string `mapstructure:"username"`
	Password string `mapstructure:"password"`
}

// RedisCluster locates a Redis Cluster.
type RedisCluster struct {
	// Addrs are host:port of some of its nodes; the others are
	// discovered. From the environment: comma-separated.
	Addrs []string `mapstructure:"addrs"`
}

// Redis modes, as Redis.Mode returns them.
const (
	RedisModeSingle   = "single"
	RedisModeSentinel = "sentinel"
	RedisModeCluster  = "cluster"
)

// Mode returns how r reaches Redis: RedisModeSentinel when a sentinel
// master is named, RedisModeCluster when cluster nodes are listed, else
// RedisModeSingle.
func (r Redis) Mode() string {
	switch {
	case r.Sentinel.MasterName != "":
		return RedisModeSentinel
	case len(r.Cluster.Addrs) > 0:
		return RedisModeCluster
	}
	return RedisModeSingle
}

// API configures the HTTP server.
type API struct {
	Addr            string        `mapstructure:"addr"`
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// ReadHeaderTimeout bounds reading a request's headers. Defaults to 10s.
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
	// IdleTimeout closes a keep-alive connection idle this long. Defaults
	// to 30s.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// BodyMinRate is the slowest a request body may arrive, in bytes per
	// second averaged from its start, after BodyGrace: a slower client is
	// cut off (408). Defaults to 16384 (16 KiB/s); 0 keeps the default.
	BodyMinRate int64 `mapstructure:"body_min_rate"`
	// BodyGrace is the time a body may take before BodyMinRate applies.
	// Defaults to 10s.
	BodyGrace time.Duration `mapstructure:"body_grace"`
	// MaxUploadBytesInFlight bounds the upload bytes one API process holds
	// at once, on disk and in memory; a request over it gets 503 with
	// Retry-After. Defaults to 2 GiB; at least the largest request allowed.
	MaxUploadBytesInFlight int64 `mapstructure:"max_upload_bytes_in_flight"`
	// SpoolDir is where uploads are written while they arrive. Defaults to
	// a .spool directory in blobs.dir for the local backend, else the
	// system's temporary directory.
	SpoolDir string `mapstructure:"spool_dir"`
	// MaxStreams bounds the event streams (SSE) open at once in one API
	// process, MaxStreamsPerKey those of one API key; over them: 429.
	// Defaults to 2000 and 100.
	MaxStreams       int `mapstructure:"max_streams"`
	MaxStreamsPerKey int `mapstructure:"max_streams_per_key"`
	// TLSCertFile and TLSKeyFile, both set, serve the API over HTTPS.
	TLSCertFile string `mapstructure:"tls_cert_file"`
	TLSKeyFile  string `mapstructure:"tls_key_file"`
}

// validate reports API settings that cannot work.
func (a API) validate() []error {
	var errs []error
	if a.ReadHeaderTimeout <= 0 || a.IdleTimeout <= 0 || a.BodyGrace <= 0 || a.BodyMinRate <= 0 {
		errs = append(errs, errors.New("api.read_header_timeout, api.idle_timeout, api.body_grace and api.body_min_rate must be positive"))
	}
	// How they relate to each other and to limits (per key at most all;
	// the upload budget at least the largest request) api.New checks.
	if a.MaxStreams <= 0 || a.MaxStreamsPerKey <= 0 || a.MaxUploadBytesInFlight <= 0 {
		errs = append(errs, errors.New("api.max_streams, api.max_streams_per_key and api.max_upload_bytes_in_flight must be positive"))
	}
	if (a.TLSCertFile == "") != (a.TLSKeyFile == "") {
		errs = append(errs, errors.New("api.tls_cert_file and api.tls_key_file go together"))
	}
	return errs
}

// Worker configures job processing.
type Worker struct {
	Concurrency              int           `mapstructure:"concurrency"`
	PageConcurrency          int           `mapstructure:"page_concurrency"`
	ProcessPageConcurrency   int           `mapstructure:"process_page_concurrency"`
	PageAttempts             int           `mapstructure:"page_attempts"`
	PageBackoffBase          time.Duration `mapstructure:"page_backoff_base"`
	PageBackoffCap           time.Duration `mapstructure:"page_backoff_cap"`
	TaskCheckInterval        time.Duration `mapstructure:"task_check_interval"`
	DelayedTaskCheckInterval time.Duration `mapstructure:"delayed_task_check_interval"`
	BlobSweepInterval        time.Duration `mapstructure:"blob_sweep_interval"`
	ShutdownTimeout          time.Duration `mapstructure:"shutdown_timeout"`
	RepairPDF                bool          `mapstructure:"repair_pdf"`
	FetchTimeout             time.Duration `mapstructure:"fetch_timeout"`
	GCPercent                int           `mapstructure:"gc_percent"`
}

// Tasks configures the asynq tasks and their retries.
type Tasks struct {
	Timeout   time.Duration `mapstructure:"timeout"`
	MaxRetry  int           `mapstructure:"max_retry"`
	Retention time.Duration `mapstructure:"retention"`
	RetryBase time.Duration `mapstructure:"retry_base"`
	RetryCap  time.Duration `mapstructure:"retry_cap"`
}

// Store configures the Redis store.
type Store struct {
	Prefix              string        `mapstructure:"prefix"`
	Retention           time.Duration `mapstructure:"retention"`
	NotificationsMaxLen int64         `mapstructure:"notifications_max_len"`
	NotificationsMaxAge time.Duration `mapstructure:"notifications_max_age"`
	PasswordTTL         time.Duration `mapstructure:"password_ttl"`
	MaxPageResultBytes  int           `mapstructure:"max_page_result_bytes"`
}

// Blobs configures where inputs are kept.
type Blobs struct {
	// Backend is local (a directory, Dir) or s3 (a bucket, S3).
	Backend string `mapstructure:"backend"`
	Dir     string `mapstructure:"dir"`
	S3      S3     `mapstructure:"s3"`
}

// S3 locates a bucket of an S3-compatible object store.
type S3 struct {
	// Endpoint is host[:port], without a scheme.
	Endpoint string `mapstructure:"endpoint"`
	Bucket   string `mapstructure:"bucket"`
	Region   string `mapstructure:"region"`
	// AccessKey and SecretKey: empty takes AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY, or the host's IAM role.
	AccessKey string `mapstructure:"access_key"`
	SecretKey string `mapstructure:"secret_key"`
	UseSSL    bool   `mapstructure:"use_ssl"`
	// Prefix starts every object name.
	Prefix string `mapstructure:"prefix"`
}

// Blob backends.
const (
	BlobsLocal = "local"
	BlobsS3    = "s3"
)

// Limits bounds what clients may submit.
type Limits struct {
	MaxUploadBytes int64 `mapstructure:"max_upload_bytes"`
	MaxPages       int   `mapstructure:"max_pages"`
	// MaxFrames is the frames a video job analyzes at most when it sets no
	// max_frames, and the most it may set.
	MaxFrames int `mapstructure:"max_frames"`
	// MaxVideoDuration refuses longer videos.
	MaxVideoDuration time.Duration `mapstructure:"max_video_duration"`
	// MaxVideoDimension refuses videos wider or taller, in pixels.
	MaxVideoDimension int `mapstructure:"max_video_dimension"`
	// MaxVideoPixels refuses videos whose frames have more pixels.
	MaxVideoPixels int `mapstructure:"max_video_pixels"`
	// MaxDecodePixels is one video or GIF job's decode budget, in pixels
	// times frames, checked before anything is decoded; a job over it fails
	// with decode_too_large.
	MaxDecodePixels int64 `mapstructure:"max_decode_pixels"`
	// MaxImagePixels refuses an image (or a TIFF page) whose declared
	// width times height is larger, before it is decoded, with
	// image_too_large. Defaults to 50,000,000.
	MaxImagePixels int64 `mapstructure:"max_image_pixels"`
	// MaxBatchJobs bounds the items of one batch.
	MaxBatchJobs int `mapstructure:"max_batch_jobs"`
	// MaxBatchUploadBytes bounds the body of a multipart batch upload.
	MaxBatchUploadBytes int64 `mapstructure:"max_batch_upload_bytes"`
}

// Log configures logging.
type Log struct {
	// Level is trace, debug, info, warn or error.
	Level string `mapstructure:"level"`
	// Format is json, console, or auto (console on a terminal, else json).
	Format string `mapstructure:"format"`
}

// Monitor configures the embedded asynqmon UI.
type Monitor struct {
	// Enabled serves asynqmon in the API process, to admin keys only.
	Enabled bool `mapstructure:"enabled"`
	// Path is where: an absolute URL path outside /v1. Defaults to
	// /monitoring.
	Path string `mapstructure:"path"`
	// ReadOnly refuses every request but GET and HEAD with 403, and
	// asynqmon hides its buttons that delete, run, archive or pause.
	// Defaults to true.
	ReadOnly bool `mapstructure:"read_only"`
	// PrometheusAddr is the URL of a Prometheus that scrapes mmq; with it
	// asynqmon shows its metrics charts. Empty: no charts.
	PrometheusAddr string `mapstructure:"prometheus_addr"`
}

// Auth configures API keys.
type Auth struct {
	// Enabled requires a key on /v1 and /monitoring. `mmq run` turns it
	// off when Keys is empty, and says so.
	Enabled bool `mapstructure:"enabled"`
	// Keys are the hex SHA-256 digests of the accepted keys (`mmq keys
	// create`). From the environment: comma-separated.
	Keys []string `mapstructure:"keys"`
	// RateLimit is each key's requests per second, shared by every API
	// process (its state is in Redis); 0: none.
	RateLimit float64 `mapstructure:"rate_limit"`
	// Burst is the requests a key may make at once.
	Burst int `mapstructure:"burst"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Enabled serves /metrics on the API's address.
	Enabled bool `mapstructure:"enabled"`
	// Addr, if set, serves /metrics on a listener of its own as well: how
	// a worker process, which has no API, exports its metrics.
	Addr string `mapstructure:"addr"`
}

// Tools locates external programs.
type Tools struct {
	PDFToText string `mapstructure:"pdftotext"`
	QPDF      string `mapstructure:"qpdf"`
	PDFToPPM  string `mapstructure:"pdftoppm"`
	FFmpeg    string `mapstructure:"ffmpeg"`
	FFprobe   string `mapstructure:"ffprobe"`
}

// Video configures the analysis of videos.
type Video struct {
	// DefaultSample is the sampling of a job that names none; an fps rate
	// is lowered for videos too long for it within max_frames.
	DefaultSample string `mapstructure:"default_sample"`
	// FFmpegTimeout bounds the ffmpeg run that extracts a video's frames.
	FFmpegTimeout time.Duration `mapstructure:"ffmpeg_timeout"`
	// ProbeTimeout bounds one ffprobe run.
	ProbeTimeout time.Duration `mapstructure:"probe_timeout"`
}

// Webhooks configures webhook signing and delivery.
type Webhooks struct {
	// Secret signs every webhook but those of the tenants in
	// TenantSecrets: "whsec_" + base64 of 24 to 64 random bytes. Empty: no
	// webhooks are sent, and a callback_url is refused.
	Secret string `mapstructure:"secret"`
	// PreviousSecrets sign too during a rotation: each request then carries
	// one signature per secret. From the environment: comma-separated.
	PreviousSecrets []string `mapstructure:"previous_secrets"`
	// TenantSecrets gives tenants secrets of their own: tenant → secret, or
	// "whsec_new|whsec_old" during a rotation (the current secret first).
	// A tenant named here has its jobs' and batches' webhooks signed with
	// its secrets alone, never with Secret, PreviousSecrets or another
	// tenant's; the other tenants' are signed with Secret. Requires
	// Secret. From the environment: comma-separated tenant=secret pairs.
	// Defaults to none.
	TenantSecrets map[string]string `mapstructure:"tenant_secrets"`
	// Timeout bounds one delivery attempt.
	Timeout time.Duration `mapstructure:"timeout"`
	// Schedule is the delay before each attempt, comma-separated: the first
	// entry is the first attempt's, the others the retries'.
	Schedule string `mapstructure:"schedule"`
	// Concurrency is how many deliveries one worker process makes at once.
	Concurrency int `mapstructure:"concurrency"`
}

// SSRF configures the guard on outgoing requests.
type SSRF struct {
	// AllowPrivateNetworks lets downloads and webhooks reach loopback,
	// private and link-local addresses: for development and tests only.
	AllowPrivateNetworks bool `mapstructure:"allow_private_networks"`
	// AllowedNetworks are CIDR networks reachable all the same, for
	// example an internal webhook receiver. From the environment:
	// comma-separated.
	AllowedNetworks []string `mapstructure:"allowed_networks"`
}

// Defaults maps every key to its default value. A default that a package
// applies to its own zero value is that package's exported constant (tasks,
// worker, store, provider); the API's, which no package may import, and
// media's, webhook's and s3blob's, which this package has no other use for,
// are written here and checked equal by cmd/mmq's
// TestConfigDefaultsMatchPackages.
var Defaults = map[string]any{
	"redis.addr":     "",
	"redis.username": "",
	"redis.password": "",
	"redis.db":       0,

	"redis.sentinel.master_name": "",
	"redis.sentinel.addrs":       []string{},
	"redis.sentinel.username":    "",
	"redis.sentinel.password":    "",
	"redis.cluster.addrs":        []string{},
	"redis.tls.enabled":          false,
	"redis.tls.ca_file":          "",
	"redis.tls.cert_file":        "",
	"redis.tls.key_file":         "",
	"redis.tls.server_name":      "",

	"api.addr":             "127.0.0.1:8080",
	"api.shutdown_timeout": "10s",

	"api.read_header_timeout":        "10s",
	"api.idle_timeout":               "30s",
	"api.body_min_rate":              16384,
	"api.body_grace":                 "10s",
	"api.max_upload_bytes_in_flight": 2147483648,
	"api.spool_dir":                  "",
	"api.max_streams":                2000,
	"api.max_streams_per_key":        100,
	"api.tls_cert_file":              "",
	"api.tls_key_file":               "",

	"worker.concurrency":                 worker.DefaultConcurrency,
	"worker.page_concurrency":            worker.DefaultPageConcurrency,
	"worker.process_page_concurrency":    worker.DefaultProcessPageConcurrency,
	"worker.page_attempts":               worker.DefaultPageAttempts,
	"worker.page_backoff_base":           duration(worker.DefaultPageBackoffBase),
	"worker.page_backoff_cap":            duration(worker.DefaultPageBackoffCap),
	"worker.task_check_interval":         duration(worker.DefaultTaskCheckInterval),
	"worker.delayed_task_check_interval": duration(worker.DefaultDelayedTaskCheckInterval),
	"worker.blob_sweep_interval":         duration(worker.DefaultBlobSweepInterval),
	"worker.shutdown_timeout":            duration(worker.DefaultShutdownTimeout),
	"worker.repair_pdf":                  true,
	"worker.fetch_timeout":               duration(worker.DefaultFetchTimeout),
	"worker.gc_percent":                  50,

	"economy.max_wait":       duration(worker.DefaultEconomyMaxWait),
	"economy.max_requests":   0,
	"economy.tries":          worker.DefaultEconomyTries,
	"economy.poll_base":      duration(worker.DefaultEconomyPollBase),
	"economy.poll_cap":       duration(worker.DefaultEconomyPollCap),
	"economy.create_timeout": duration(worker.DefaultEconomyCreateTimeout),

	"tasks.timeout":    duration(tasks.DefaultTaskTimeout),
	"tasks.max_retry":  tasks.DefaultTaskMaxRetry,
	"tasks.retention":  duration(tasks.DefaultTaskRetention),
	"tasks.retry_base": duration(tasks.DefaultBackoffBase),
	"tasks.retry_cap":  duration(tasks.DefaultBackoffCap),

	"store.prefix":                store.DefaultPrefix,
	"store.retention":             duration(store.DefaultRetention),
	"store.notifications_max_len": store.DefaultNotificationsMaxLen,
	"store.notifications_max_age": "0s",
	"store.password_ttl":          "0s",
	"store.max_page_result_bytes": store.DefaultMaxPageResultBytes,

	"blobs.backend":       "local",
	"blobs.dir":           "./data/blobs",
	"blobs.s3.endpoint":   "",
	"blobs.s3.bucket":     "",
	"blobs.s3.region":     "",
	"blobs.s3.access_key": "",
	"blobs.s3.secret_key": "",
	"blobs.s3.use_ssl":    true,
	"blobs.s3.prefix":     "blobs/",

	"limits.max_upload_bytes": tasks.DefaultMaxUploadBytes,
	"limits.max_pages":        tasks.DefaultMaxPages,

	"log.level":  "info",
	"log.format": "auto",

	"monitoring.enabled":         true,
	"monitoring.path":            "/monitoring",
	"monitoring.read_only":       true,
	"monitoring.prometheus_addr": "",

	"metrics.enabled": true,
	"metrics.addr":    "",

	"auth.enabled":    true,
	"auth.keys":       []string{},
	"auth.rate_limit": 50,
	"auth.burst":      100,

	"limits.max_batch_jobs":         tasks.DefaultMaxBatchJobs,
	"limits.max_batch_upload_bytes": tasks.DefaultMaxBatchUploadBytes,

	"tools.pdftotext": "pdftotext",
	"tools.qpdf":      "qpdf",
	"tools.ffmpeg":    "ffmpeg",
	"tools.ffprobe":   "ffprobe",

	"limits.max_frames":          tasks.DefaultMaxFrames,
	"limits.max_video_duration":  "1h",
	"limits.max_video_dimension": 8192,
	"limits.max_video_pixels":    33177600,
	"limits.max_decode_pixels":   2500000000,
	"limits.max_image_pixels":    50000000,

	"video.default_sample": "fps:1",
	"video.ffmpeg_timeout": "30m",
	"video.probe_timeout":  "30s",

	"webhooks.secret":             "",
	"webhooks.previous_secrets":   []string{},
	"webhooks.tenant_secrets":     map[string]string{},
	"quotas":                      map[string]any{},
	"webhooks.timeout":            "15s",
	"webhooks.schedule":           schedule(tasks.DefaultWebhookSchedule),
	"webhooks.concurrency":        worker.DefaultWebhookConcurrency,
	"ssrf.allow_private_networks": false,
	"ssrf.allowed_networks":       []string{},
}

// duration formats d the way the configuration file writes it: "30m", not
// "30m0s".
func duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// schedule formats s the way the configuration file writes it.
func schedule(s tasks.Schedule) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = duration(d)
	}
	return strings.Join(parts, ",")
}

// Load reads the configuration: defaults, then the file at path (if not
// empty), then MMQ_* environment variables, then the flags in fs that were
// set (a flag named redis-addr sets redis.addr).
func Load(path string, fs *pflag.FlagSet) (*Config, error) {
	v := viper.New()
	for k, d := range Defaults {
		v.SetDefault(k, d)
	}
	v.SetEnvPrefix("MMQ")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	if path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config: read %s: %w", path, err)
		}
	}
	if fs != nil {
		var bindErr error
		fs.VisitAll(func(f *pflag.Flag) {
			key := strings.Replace(f.Name, "-", ".", 1)
			key = strings.ReplaceAll(key, "-", "_")
			if _, known := Defaults[key]; known {
				bindErr = errors.Join(bindErr, v.BindPFlag(key, f))
			}
		})
		if bindErr != nil {
			return nil, bindErr
		}
	}
	if err := decodeTenantSecretsEnv(v); err != nil {
		return nil, err
	}
	if err := decodeQuotasEnv(v); err != nil {
		return nil, err
	}
	var c Config
	if err := v.Unmarshal(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.Models.applyKeyEnv()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate reports values that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if c.Worker.PageConcurrency > c.Worker.ProcessPageConcurrency {
		errs = append(errs, errors.New("worker.page_concurrency must not exceed worker.process_page_concurrency"))
	}
	if g := c.Worker.GCPercent; g != -1 && g < 10 {
		errs = append(errs, fmt.Errorf("worker.gc_percent %d: want -1 (Go's default) or at least 10", g))
	}
	if c.Limits.MaxUploadBytes <= 0 || c.Limits.MaxPages <= 0 {
		errs = append(errs, errors.New("limits.max_upload_bytes and limits.max_pages must be positive"))
	}
	switch c.Log.Format {
	case "auto", "json", "console":
	default:
		errs = append(errs, fmt.Errorf("log.format %q: want auto, json or console", c.Log.Format))
	}
	if c.Limits.MaxFrames <= 0 || c.Limits.MaxVideoDuration <= 0 || c.Limits.MaxVideoDimension <= 0 || c.Limits.MaxVideoPixels <= 0 || c.Limits.MaxDecodePixels <= 0 || c.Limits.MaxImagePixels <= 0 {
		errs = append(errs, errors.New("limits.max_frames, limits.max_video_duration, limits.max_video_dimension, limits.max_video_pixels, limits.max_decode_pixels and limits.max_image_pixels must be positive"))
	}
	if _, err := tasks.ParseSample(c.Video.DefaultSample); err != nil {
		errs = append(errs, fmt.Errorf("video.default_sample: %s", tasks.ErrorMessage(err)))
	}
	if c.Video.FFmpegTimeout <= 0 || c.Video.ProbeTimeout <= 0 {
		errs = append(errs, errors.New("video.ffmpeg_timeout and video.probe_timeout must be positive"))
	}
	if c.Redis.DB < 0 || c.Redis.DB > 15 {
		errs = append(errs, fmt.Errorf("redis.db %d out of range 0..15", c.Redis.DB))
	}
	if _, err := c.WebhookSchedule(); err != nil {
		errs = append(errs, fmt.Errorf("webhooks.schedule: %w", err))
	}
	if c.Webhooks.Timeout <= 0 || c.Webhooks.Concurrency <= 0 {
		errs = append(errs, errors.New("webhooks.timeout and webhooks.concurrency must be positive"))
	}
	if c.Webhooks.Secret != "" {
		if err := tasks.CheckWebhookSecrets(c.Webhooks.Secret, c.Webhooks.PreviousSecrets...); err != nil {
			errs = append(errs, fmt.Errorf("webhooks.secret: %w", err))
		}
	}
	errs = append(errs, c.Webhooks.validateTenantSecrets()...)
	if _, err := ssrf.ParseNetworks(c.SSRF.AllowedNetworks); err != nil {
		errs = append(errs, fmt.Errorf("ssrf.allowed_networks: %w", err))
	}
	errs = append(errs, c.API.validate()...)
	if t := c.Redis.TLS; (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, errors.New("redis.tls.cert_file and redis.tls.key_file go together"))
	}
	errs = append(errs, c.Models.validate()...)
	errs = append(errs, c.validateOperations()...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// WebhookSchedule parses webhooks.schedule.
func (c *Config) WebhookSchedule() (tasks.Schedule, error) {
	return tasks.ParseSchedule(c.Webhooks.Schedule)
}
