package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/mmq/mmq/tasks"
)

// Blob references.
//
// Inputs are content-addressed, so two jobs with the same file share one
// blob, and a blob may go only when no job uses it any more. Each blob has
// a sorted set of the jobs that use it:
//
//	mmq:blob:{KEY}:refs   zset    job id -> until when the job needs the
//	                              blob (unix ms): +inf while the job lives,
//	                              its end + Config.Retention once it ended
//	mmq:blob:{KEY}:lock   string  held (SET NX PX) while the blob is being
//	                              deleted; a random token
//	mmq:blobs             zset    blob key -> when to look at its references
//	                              next (unix ms); a blob every reference of
//	                              which is +inf is not in it
//
// The reference is taken before the blob is written (RefBlob: the API
// before it stores an upload, the worker before it stores a fetched URL's
// body), and RefBlob waits while the blob's lock is held. A deletion takes
// the lock in the same atomic step that finds the blob without references,
// and deletes the data only then: so a new job with the same content either
// took its reference first (and the blob stays) or waits for the deletion
// to end and writes the data again. Nothing can delete a blob between a
// job's write and its reference.
//
// A reference whose time has passed is dropped only once its job's record
// is gone (or never came: a submission that failed after RefBlob leaves a
// reference of refPending that expires); while the record lives, its TTL
// moves the reference on. So a clock skew between Redis and the store's
// hosts never deletes the input of a job that can still be read or
// retried.
//
// Jobs stored before references existed get theirs once, at start-up
// (BackfillBlobRefs); until then their blobs are left alone, as before.

// BlobDeleter deletes blobs; fsblob.Blobs and s3blob.Blobs implement
// it.
type BlobDeleter interface {
	Delete(ctx context.Context, key string) error
}

const (
	// refPending is how long a reference taken before its job is stored
	// lasts if the job never is.
	refPending = time.Hour
	// blobLockTTL bounds one deletion; blobDeleteTimeout is kept well under
	// it, so that a lock never expires while its deletion runs.
	blobLockTTL       = time.Minute
	blobDeleteTimeout = 20 * time.Second
	// blobRetry is when a blob whose deletion failed is tried again.
	blobRetry = time.Minute
	// refWait bounds how long RefBlob waits for a deletion of the same
	// blob to end.
	refWait = blobLockTTL + 5*time.Second
)

// blobLua defines blob_ref(prefix, blob, id, score, only_existing), which
// sets the reference of job id to blob (only if it has one when
// only_existing is true) and schedules the blob's check at score, and
// blob_claim(prefix, blob, now, lock_ms, token), which drops the blob's
// references that have expired with their jobs and, when none is left,
// takes the blob's lock and returns true; otherwise it reschedules the
// blob's check for its earliest reference.
var blobLua = `
local function blob_keys(prefix, blob)
  local base = prefix .. ':blob:{' .. blob .. '}'
  return base .. ':refs', base .. ':lock'
end
local function blob_ref(prefix, blob, id, score, only_existing)
  local refs = blob_keys(prefix, blob)
  if only_existing and not redis.call('ZSCORE', refs, id) then return end
  redis.call('ZADD', refs, score, id)
  if score ~= '+inf' then redis.call('ZADD', prefix .. ':blobs', 'LT', score, blob) end
end
local function blob_claim(prefix, blob, now, lock_ms, token)
  local refs, lock = blob_keys(prefix, blob)
  local index = prefix .. ':blobs'
  if redis.call('EXISTS', lock) == 1 then
    redis.call('ZADD', index, now + lock_ms, blob)
    return false
  end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', refs, '-inf', now)) do
    local ttl = redis.call('PTTL', prefix .. ':job:{' .. id .. '}')
    if ttl == -2 then redis.call('ZREM', refs, id)
    elseif ttl == -1 then redis.call('ZADD', refs, '+inf', id)
    else redis.call('ZADD', refs, now + ttl, id) end
  end
  local first = redis.call('ZRANGE', refs, 0, 0, 'WITHSCORES')
  if #first == 0 then
    redis.call('SET', lock, token, 'PX', lock_ms)
    redis.call('ZADD', index, now + lock_ms, blob)
    return true
  end
  if first[2] == 'inf' then redis.call('ZREM', index, blob) else redis.call('ZADD', index, first[2], blob) end
  return false
end
`

// blobKeys names the keys of one blob.
func (s *Redis) blobKeys(blob string) (refs, lock string) {
	base := s.cfg.Prefix + ":blob:{" + blob + "}"
	return base + ":refs", base + ":lock"
}

// blobIndex is the key of the blobs to check.
func (s *Redis) blobIndex() string { return s.cfg.Prefix + ":blobs" }

// refScript takes job id's reference to a blob, unless the blob is being
// deleted (reply 0). A job whose record lives without a TTL holds it
// until it ends (+inf); a job not stored yet for refPending.
//
// KEYS: refs, lock, blobs index, job record.
// ARGV: job id, blob key, end of the pending reference (unix ms).
var refScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local score = ARGV[3]
if redis.call('PTTL', KEYS[4]) == -1 then score = '+inf' end
redis.call('ZADD', KEYS[1], 'GT', score, ARGV[1])
if score ~= '+inf' then redis.call('ZADD', KEYS[3], 'LT', score, ARGV[2]) end
return 1
`)

// RefBlob records that job id uses the blob of key, before the blob is
// written. If the blob is being deleted, it waits for the deletion to end
// (at most about a minute, the lock's TTL); the caller then writes the data
// again. A job not stored yet keeps the reference for an hour unless
// CreateJob (or SetInput) makes it its own.
func (s *Redis) RefBlob(ctx context.Context, key, id string) error {
	if err := tasks.CheckBlobKey(key); err != nil {
		return err
	}
	refs, lock := s.blobKeys(key)
	keys := []string{refs, lock, s.blobIndex(), s.keys(id).record}
	wait := 10 * time.Millisecond
	deadline := time.Now().Add(refWait)
	for {
		ok, err := refScript.Run(ctx, s.client, keys, id, key, time.Now().Add(refPending).UnixMilli()).Int()
		if err != nil {
			return fmt.Errorf("store: reference blob %s for job %s: %w", key, id, err)
		}
		if ok == 1 {
			return nil
		}
		if time.Now().After(deadline) {
			return tasks.Errorf(tasks.CodeUnavailable, "blob %s is being deleted; try again", key)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// sweepScript claims up to ARGV[4] blobs whose check is due and that have
// no reference left (see blob_claim), and returns their keys.
//
// KEYS: blobs index.
// ARGV: key prefix, now (unix ms), lock TTL (ms), limit, lock token.
var sweepScript = redis.NewScript(blobLua + `
local claimed = {}
for _, blob in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[4])) do
  if blob_claim(ARGV[1], blob, tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[5]) then table.insert(claimed, blob) end
end
return claimed
`)

// releaseScript ends a deletion: it releases the lock if it still holds
// it, and drops the blob from the index once deleted (it has no
// references: RefBlob waited), or schedules another try.
//
// KEYS: lock, blobs index, refs. ARGV: token, blob key, "1" if deleted,
// when to try again (unix ms).
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if ARGV[3] == '1' then
  if redis.call('ZCARD', KEYS[3]) == 0 then redis.call('ZREM', KEYS[2], ARGV[2]) end
else
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
end
return 1
`)

// ErrNoBlobs is returned by SweepBlobs of a store without Config.Blobs.
var ErrNoBlobs = errors.New("store: no blob store to delete from (Config.Blobs)")

// sweepLimit is how many blobs one SweepBlobs round claims.
const sweepLimit = 100

// SweepBlobs deletes the blobs no job needs any more: those whose jobs all
// expired (Config.Retention after they ended) or were deleted. It claims up
// to 100 blobs per round, deletes them 8 at a time and goes on while rounds
// are full, and returns how many it deleted. Many processes may sweep at
// once: each blob is claimed by one of them. A blob whose deletion fails is
// tried again a minute later.
func (s *Redis) SweepBlobs(ctx context.Context) (int, error) {
	if s.cfg.Blobs == nil {
		return 0, ErrNoBlobs
	}
	deleted := 0
	for {
		token := newToken()
		claimed, err := sweepScript.Run(ctx, s.client, []string{s.blobIndex()},
			s.cfg.Prefix, time.Now().UnixMilli(), blobLockTTL.Milliseconds(), sweepLimit, token).StringSlice()
		if err != nil {
			return deleted, fmt.Errorf("store: sweep blobs: %w", err)
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		n := make(chan struct{}, len(claimed))
		for _, blob := range claimed {
			g.Go(func() error {
				if err := s.removeBlob(gctx, blob, token); err != nil {
					return err
				}
				n <- struct{}{}
				return nil
			})
		}
		err = g.Wait()
		deleted += len(n)
		if err != nil || len(claimed) < sweepLimit {
			return deleted, err
		}
	}
}

// removeBlob deletes a blob claimed with token and releases it. Without
// Config.Blobs, or when the deletion fails, the blob stays in the index
// for a later sweep.
func (s *Redis) removeBlob(ctx context.Context, blob, token string) error {
	var derr error
	if s.cfg.Blobs == nil {
		derr = ErrNoBlobs
	} else {
		dctx, cancel := context.WithTimeout(ctx, blobDeleteTimeout)
		derr = s.cfg.Blobs.Delete(dctx, blob)
		cancel()
	}
	refs, lock := s.blobKeys(blob)
	// The release must happen even if ctx ended, or the blob waits for
	// the lock's TTL.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := releaseScript.Run(rctx, s.client, []string{lock, s.blobIndex(), refs},
		token, blob, boolInt(derr == nil), time.Now().Add(blobRetry).UnixMilli()).Err()
	if err != nil {
		return fmt.Errorf("store: release blob %s: %w", blob, err)
	}
	if derr != nil && !errors.Is(derr, ErrNoBlobs) {
		return fmt.Errorf("store: delete blob %s: %w", blob, derr)
	}
	return nil
}

// newToken returns a random lock token.
func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
