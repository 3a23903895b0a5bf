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
}

// Redis locates the Redis that holds queues and the store.
type Redis struct {
	// Addr is host:port. Empty means: `mmq run` starts an embedded,
	// in-memory Redis; other commands refuse to start.
	Addr     string `mapstructure:"addr"`
	Username string `mapstructure:"username"`
	Password string `mapstructure:"password"`
	DB       int    `mapstructure:"db"`
}

// API configures the HTTP server.
type API struct {
	Addr            string        `mapstructure:"addr"`
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
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
	ShutdownTimeout          time.Duration `mapstructure:"shutdown_timeout"`
	RepairPDF                bool          `mapstructure:"repair_pdf"`
	FetchTimeout             time.Duration `mapstructure:"fetch_timeout"`
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
}

// Blobs configures where inputs are kept.
type Blobs struct {
	Dir string `mapstructure:"dir"`
}

// Limits bounds what clients may submit.
type Limits struct {
	MaxUploadBytes int64 `mapstructure:"max_upload_bytes"`
	MaxPages       int   `mapstructure:"max_pages"`
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
	Enabled  bool   `mapstructure:"enabled"`
	Path     string `mapstructure:"path"`
	ReadOnly bool   `mapstructure:"read_only"`
}

// Tools locates external programs.
type Tools struct {
	PDFToText string `mapstructure:"pdftotext"`
	QPDF      string `mapstructure:"qpdf"`
}

// Defaults maps every key to its default value.
var Defaults = map[string]any{
	"redis.addr":     "",
	"redis.username": "",
	"redis.password": "",
	"redis.db":       0,

	"api.addr":             "127.0.0.1:8080",
	"api.shutdown_timeout": "10s",

	"worker.concurrency":                 4,
	"worker.page_concurrency":            8,
	"worker.process_page_concurrency":    16,
	"worker.page_attempts":               3,
	"worker.page_backoff_base":           "500ms",
	"worker.page_backoff_cap":            "10s",
	"worker.task_check_interval":         "10ms",
	"worker.delayed_task_check_interval": "1s",
	"worker.shutdown_timeout":            "30s",
	"worker.repair_pdf":                  true,
	"worker.fetch_timeout":               "60s",

	"tasks.timeout":    "30m",
	"tasks.max_retry":  3,
	"tasks.retention":  "24h",
	"tasks.retry_base": "60s",
	"tasks.retry_cap":  "1h",

	"store.prefix":                "mmq",
	"store.retention":             "168h",
	"store.notifications_max_len": 100000,

	"blobs.dir": "./data/blobs",

	"limits.max_upload_bytes": 104857600,
	"limits.max_pages":        2000,

	"log.level":  "info",
	"log.format": "auto",

	"monitoring.enabled":   true,
	"monitoring.path":      "/monitoring",
	"monitoring.read_only": false,

	"tools.pdftotext": "pdftotext",
	"tools.qpdf":      "qpdf",
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
	var c Config
	if err := v.Unmarshal(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
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
	if c.Limits.MaxUploadBytes <= 0 || c.Limits.MaxPages <= 0 {
		errs = append(errs, errors.New("limits.max_upload_bytes and limits.max_pages must be positive"))
	}
	switch c.Log.Format {
	case "auto", "json", "console":
	default:
		errs = append(errs, fmt.Errorf("log.format %q: want auto, json or console", c.Log.Format))
	}
	if c.Redis.DB < 0 || c.Redis.DB > 15 {
		errs = append(errs, fmt.Errorf("redis.db %d out of range 0..15", c.Redis.DB))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
