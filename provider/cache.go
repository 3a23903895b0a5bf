package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// CacheConfig configures a Cache.
type CacheConfig struct {
	// Prefix starts every cache key. Defaults to "mmq:cache:".
	Prefix string
	// TTL is how long an answer is kept. Defaults to 7 days.
	TTL time.Duration
}

// Cache keeps model answers in Redis, keyed by what determines them: the
// SHA-256 of the unit's content, the prompts, the provider and model, and
// the resolution. Identical pages, in one document or across documents,
// are analyzed once while the entry lives.
//
// Within one process, identical units analyzed at the same time make one
// call: the others wait for it (see Pipeline). Across processes they may
// each call once.
type Cache struct {
	rdb redis.UniversalClient
	cfg CacheConfig

	mu       sync.Mutex
	inflight map[string]*flight
}

// flight is a call in progress that identical units wait for.
type flight struct {
	done chan struct{}
	ans  *answer
	err  error
}

// answer is what the cache keeps of a model call.
type answer struct {
	Text         string `json:"text"`
	StopReason   string `json:"stop_reason,omitempty"`
	Model        string `json:"model"`
	InputTokens  int    `json:"input_tokens"`
	OutputTokens int    `json:"output_tokens"`
}

// Defaults of CacheConfig.
const (
	DefaultCachePrefix = "mmq:cache:"
	DefaultCacheTTL    = 7 * 24 * time.Hour
)

func (c *CacheConfig) setDefaults() {
	if c.Prefix == "" {
		c.Prefix = DefaultCachePrefix
	}
	if c.TTL == 0 {
		c.TTL = DefaultCacheTTL
	}
}

// Validate reports a CacheConfig that cannot work.
func (c *CacheConfig) Validate() error {
	if c.TTL < time.Second {
		return fmt.Errorf("provider: cache TTL %v is under one second", c.TTL)
	}
	return nil
}

// NewCache returns a cache in the Redis behind rdb.
func NewCache(rdb redis.UniversalClient, cfg CacheConfig) (*Cache, error) {
	if rdb == nil {
		return nil, errors.New("provider: cache needs a Redis client")
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Cache{rdb: rdb, cfg: cfg, inflight: map[string]*flight{}}, nil
}

// cacheKey names the answer to content under these prompts (the job's
// instructions are part of prompt), schema, provider, model and resolution.
func cacheKey(content []byte, provider, model string, resolution int, system, prompt, schemaSum string) string {
	c := sha256.Sum256(content)
	h := sha256.New()
	for _, s := range []string{hex.EncodeToString(c[:]), provider, model, strconv.Itoa(resolution), system, prompt, schemaSum} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// get returns the answer under key, or nil. A Redis failure is a miss: the
// cache only saves work.
func (c *Cache) get(ctx context.Context, key string) (*answer, error) {
	b, err := c.rdb.Get(ctx, c.cfg.Prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("provider: cache get: %w", err)
	}
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("provider: cache entry %s: %w", key, err)
	}
	return &a, nil
}

func (c *Cache) put(ctx context.Context, key string, a *answer) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := c.rdb.Set(ctx, c.cfg.Prefix+key, b, c.cfg.TTL).Err(); err != nil {
		return fmt.Errorf("provider: cache put: %w", err)
	}
	return nil
}

// join makes the caller the leader of key's flight, or returns the flight
// it must wait for.
func (c *Cache) join(key string) (f *flight, leader bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.inflight[key]; ok {
		return f, false
	}
	f = &flight{done: make(chan struct{})}
	c.inflight[key] = f
	return f, true
}

// land ends key's flight with its outcome.
func (c *Cache) land(key string, f *flight, a *answer, err error) {
	c.mu.Lock()
	delete(c.inflight, key)
	c.mu.Unlock()
	f.ans, f.err = a, err
	close(f.done)
}
