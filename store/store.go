package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mmq/mmq/tasks"
	"github.com/redis/go-redis/v9"
)

// ErrNotFound is wrapped by the errors returned for an unknown job, which
// are also *tasks.Error with tasks.CodeNotFound.
var ErrNotFound = errors.New("store: job not found")

// Config configures a Redis store. Its zero value is ready to use.
type Config struct {
	// Prefix starts every key, so that several deployments can share one
	// Redis database. It must not contain '{' or '}', which Redis Cluster
	// reads as a hash tag, unless it is a whole hash tag, "{mmq}": then
	// every key of the store is in that tag's slot, which is how it runs on
	// a Redis Cluster (see the package documentation). Defaults to "mmq".
	Prefix string
	// Retention is how long the keys of a job live once it has ended.
	// Defaults to 7 days.
	Retention time.Duration
	// NotificationsMaxLen caps the notifications stream; the cap is
	// approximate (XADD MAXLEN ~), which lets Redis trim whole nodes.
	// Defaults to 100000.
	NotificationsMaxLen int64
	// NotificationsMaxAge drops notifications older than this from the
	// stream (XTRIM MINID ~, each time one is added). Defaults to
	// Retention: no notification outlives the job it is about.
	NotificationsMaxAge time.Duration
	// PasswordTTL bounds how long a job's PDF password is kept while the
	// job waits or runs; it is deleted when the job ends. A job still
	// queued after it fails as encrypted. Defaults to Retention.
	PasswordTTL time.Duration
	// MaxPageResultBytes caps one page's stored result (its JSON); a
	// larger one is stored as a failed page with tasks.CodeResultTooLarge.
	// Defaults to 1 MiB.
	MaxPageResultBytes int
	// Quotas bound what each tenant may use, by tenant name, with
	// tasks.DefaultQuotaTenant for every tenant without its own. The
	// counters are in Redis: every process with the same Quotas enforces
	// them together, exactly.
	Quotas map[string]tasks.Quota
	// Blobs is where the jobs' inputs are, for DeleteJob, DeleteBatch and
	// SweepBlobs to delete those no job uses any more (see RefBlob). Nil
	// deletes no input: the blobs to delete wait in the index until a
	// store with Blobs sweeps.
	Blobs BlobDeleter
}

func (c *Config) setDefaults() {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.NotificationsMaxLen == 0 {
		c.NotificationsMaxLen = DefaultNotificationsMaxLen
	}
	if c.NotificationsMaxAge == 0 {
		c.NotificationsMaxAge = c.Retention
	}
	if c.PasswordTTL == 0 {
		c.PasswordTTL = c.Retention
	}
	if c.MaxPageResultBytes == 0 {
		c.MaxPageResultBytes = DefaultMaxPageResultBytes
	}
}

// Defaults of Config; the configuration's store.* keys default to them too.
const (
	DefaultPrefix              = "mmq"
	DefaultRetention           = 7 * 24 * time.Hour
	DefaultNotificationsMaxLen = 100_000
	DefaultMaxPageResultBytes  = 1 << 20
)

// Validate reports the first invalid setting of c.
func (c Config) Validate() error {
	switch {
	case strings.ContainsAny(c.Prefix, "{}") && !isHashTag(c.Prefix):
		return fmt.Errorf("store: prefix %q contains a brace but is not a hash tag such as {mmq}", c.Prefix)
	case c.Retention < time.Second:
		return fmt.Errorf("store: retention %v is under one second", c.Retention)
	case c.NotificationsMaxLen < 0:
		return fmt.Errorf("store: negative notifications max length %d", c.NotificationsMaxLen)
	case c.NotificationsMaxAge < time.Second:
		return fmt.Errorf("store: notifications max age %v is under one second", c.NotificationsMaxAge)
	case c.PasswordTTL < time.Second:
		return fmt.Errorf("store: password TTL %v is under one second", c.PasswordTTL)
	case c.MaxPageResultBytes < 4<<10:
		return fmt.Errorf("store: max page result bytes %d is under 4 KiB", c.MaxPageResultBytes)
	}
	return nil
}

// isHashTag reports whether s is one whole Redis Cluster hash tag: "{name}".
func isHashTag(s string) bool {
	return len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' && !strings.ContainsAny(s[1:len(s)-1], "{}")
}

// Redis is the job store. It is safe for concurrent use.
type Redis struct {
	client redis.UniversalClient
	cfg    Config
	// jobs and notifications are the global keys.
	jobs          string
	notifications string
}

// New returns a store that keeps its data in client's database.
func New(client redis.UniversalClient, cfg Config) (*Redis, error) {
	if client == nil {
		return nil, errors.New("store: nil Redis client")
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Redis{
		client:        client,
		cfg:           cfg,
		jobs:          cfg.Prefix + ":jobs",
		notifications: cfg.Prefix + ":notifications",
	}, nil
}

// Ping checks that Redis answers.
func (s *Redis) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// jobKeys names the keys of one job.
type jobKeys struct {
	record, results, idx, done, failed, secret, events string
	// eventsScratch is where the end of the job compacts its event stream;
	// it exists only inside that script.
	eventsScratch string
}

func (s *Redis) keys(id string) jobKeys {
	// The braces make id a hash tag: all keys of a job share a cluster slot.
	base := s.cfg.Prefix + ":job:{" + id + "}"
	return jobKeys{
		record:  base,
		results: base + ":results",
		idx:     base + ":idx",
		done:    base + ":done",
		failed:  base + ":failed",
		secret:  base + ":secret",
		events:  base + ":events",
		// Named after events so that the benchmark's per-key breakdown
		// files it with them, should it ever outlive a script.
		eventsScratch: base + ":events:compact",
	}
}

func notFound(id string) error {
	return &tasks.Error{Code: tasks.CodeNotFound, Message: fmt.Sprintf("job %s not found", id), Err: ErrNotFound}
}

// scriptErr turns the nil reply a script gives for a missing record into a
// not-found error, and gives other errors context.
func scriptErr(err error, op, id string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return notFound(id)
	}
	return fmt.Errorf("store: %s job %s: %w", op, id, err)
}
