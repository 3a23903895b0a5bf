// Package autopipe sends the commands that many goroutines issue at once to
// Redis as shared pipelines, so that work made of many small independent
// commands — a batch's asynq enqueues, one EVALSHA per task — costs a few
// round trips instead of one per command.
//
// It does not implement the batching itself: go-redis (v9.22 and later)
// ships an automatic pipeliner, redis.AutoPipeliner, maintained with the
// client. This package picks its face and options for mmq and is where the
// properties mmq relies on are tested against a real Redis: every caller gets
// its own reply and error, Script.Run's EVALSHA then EVAL-on-NOSCRIPT
// fallback still works, and asynq's ErrTaskIDConflict still comes through.
//
// What to know before routing commands through it (from go-redis's
// documentation of AutoPipeliner, marked EXPERIMENTAL there):
//   - A command's own context deadline or cancellation is not honoured once
//     it is queued; the batch runs under the client's read and write
//     timeouts instead.
//   - A batch that fails on a network error is retried as a whole (up to the
//     client's MaxRetries), so a command the server already ran may run
//     again. asynq's enqueue script is safe under that: a second run of an
//     enqueue that landed answers ErrTaskIDConflict.
//   - Blocking and connection-state commands (BLPOP, WATCH, SUBSCRIBE, Do,
//     ...) are not batched; they run on an ordinary pooled connection.
package autopipe

import (
	"github.com/redis/go-redis/v9"
)

// Options is the configuration Client uses: the blocking face (every call
// returns when its own command has run, like a plain client), one ordered
// stream of batches of up to 500 commands. With one batch in flight at a
// time, the callers whose commands wait meanwhile make up the next batch, so
// batches grow with the number of callers without any flush timer.
func Options() *redis.AutoPipelineOptions {
	o := redis.DefaultBlockingAutoPipelineOptions()
	o.MaxBatchSize = 500
	return o
}

// Client returns rdb's blocking autopipeliner with Options. It is a
// redis.UniversalClient, so it can be given to asynq.NewClientFromRedisClient
// or anything else that takes one; its commands batch only when issued
// concurrently, so callers gain by issuing many at once from many
// goroutines. A lone command still goes out at once, in one round trip.
//
// go-redis keeps one such autopipeliner per client and the first call's
// options win: a later Client (or rdb.AutoPipeline) call returns the same
// instance. Closing rdb stops it; closing it does not close rdb.
func Client(rdb redis.UniversalClient) (*redis.AutoPipeliner, error) {
	return rdb.AutoPipelineWithOptions(Options())
}
