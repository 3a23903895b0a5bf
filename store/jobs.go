package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mmq/mmq/tasks"
	"github.com/redis/go-redis/v9"
)

// createScript writes a new job unless its record exists.
//
// KEYS: record, jobs index, secret, index of the job's status, then for a
// job with a tenant the tenant's jobs index and its index of the status.
// ARGV: id, index score, password ("" for none), password TTL in ms, key
// prefix, the quota to take the job from (see quotaLua; "" for none: a job
// of no tenant, or of a batch, which took its jobs at once), record
// field/value pairs...
//
// A job with an input holds its reference to the blob from now on (see
// RefBlob).
var createScript = redis.NewScript(blobLua + quotaLua + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if ARGV[6] ~= '' then
  local refused = quota_take(ARGV[5], cjson.decode(ARGV[6]), 1)
  if refused then return redis.error_reply(refused) end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
local blob = redis.call('HGET', KEYS[1], 'blob_key')
if blob then blob_ref(ARGV[5], blob, ARGV[1], '+inf', false) end
for _, i in ipairs({2, 4, 5, 6}) do
  if KEYS[i] then redis.call('ZADD', KEYS[i], ARGV[2], ARGV[1]) end
end
if ARGV[3] ~= '' then redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4]) end
return 1
`)

// createKeys returns the KEYS of createScript for job j.
func (s *Redis) createKeys(j *tasks.Job) []string {
	k := s.keys(j.ID)
	keys := []string{k.record, s.jobs, k.secret, s.statusIndex(j.Status)}
	if j.Tenant != "" {
		keys = append(keys, s.jobsIndex(j.Tenant), s.tenantStatusIndex(j.Tenant, j.Status))
	}
	return keys
}

// CreateJob stores the new job j, whose ID the caller sets, and adds it to the
// list of recent jobs. It fills in j.Status (queued) and j.CreatedAt (now)
// when they are zero, and sets j.HasPassword to whether password is given.
// The password is kept under a key of its own, never in the record, for at
// most Config.PasswordTTL, and is deleted when the job ends. An existing id is a tasks.CodeConflict error.
// A job of a tenant at one of its quotas (Config.Quotas) is not stored: the
// error has tasks.CodeQuotaExceeded; its pages count against the day's
// quota when they are known now (PagesTotal), else when SetPagesTotal
// learns them.
func (s *Redis) CreateJob(ctx context.Context, j *tasks.Job, password string) error {
	if j.ID == "" || strings.ContainsAny(j.ID, "{}") {
		return tasks.Errorf(tasks.CodeInvalidRequest, "invalid job id %q", j.ID)
	}
	if j.Status == "" {
		j.Status = tasks.StatusQueued
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = time.Now()
	}
	j.HasPassword = password != ""
	fields, err := encodeJob(j)
	if err != nil {
		return err
	}
	now := time.Now()
	args := append([]any{j.ID, j.CreatedAt.UnixMilli(), password, s.cfg.PasswordTTL.Milliseconds(), s.cfg.Prefix,
		s.quotaArg(j.Tenant, int64(j.PagesTotal), now)}, fields...)
	created, err := createScript.Run(ctx, s.client, s.createKeys(j), args...).Int()
	if qerr := s.quotaErr(err, j.Tenant, now); qerr != err {
		return qerr
	}
	if err != nil {
		return fmt.Errorf("store: create job %s: %w", j.ID, err)
	}
	if created == 0 {
		return tasks.Errorf(tasks.CodeConflict, "job %s already exists", j.ID)
	}
	return nil
}

// GetJob returns the record of job id.
func (s *Redis) GetJob(ctx context.Context, id string) (*tasks.Job, error) {
	h, err := s.client.HGetAll(ctx, s.keys(id).record).Result()
	if err != nil {
		return nil, fmt.Errorf("store: get job %s: %w", id, err)
	}
	if len(h) == 0 {
		return nil, notFound(id)
	}
	return s.decodeOne(ctx, h)
}

// ListJobs returns up to limit jobs (default 50, at most 1000) newest first,
// only those of tenant when it is not empty ("" lists every tenant's), only
// those in status when it is not empty. after is the next cursor of the
// previous page; "" starts at the newest. next is "" on the last page. Jobs
// whose record has expired are dropped from the index. A status reads the
// index of that status (see statusIndex), so it costs what the page holds,
// however many jobs are in other states.
func (s *Redis) ListJobs(ctx context.Context, tenant string, status tasks.Status, limit int, after string) (jobs []*tasks.Job, next string, err error) {
	if status != "" && !status.Valid() {
		return nil, "", tasks.Errorf(tasks.CodeInvalidRequest, "unknown status %q", status)
	}
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	pos, err := decodeCursor(after)
	if err != nil {
		return nil, "", err
	}
	// Reading one job more than asked tells whether a next page exists.
	chunk := limit + 1
	index := s.jobsIndex(tenant)
	if status != "" {
		index = s.tenantStatusIndex(tenant, status)
	}
	var (
		expired []string
		refs    []metadataRef
	)
	for more := true; more && len(jobs) <= limit; {
		var entries []redis.Z
		entries, more, err = s.indexAfter(ctx, index, pos, chunk)
		if err != nil {
			return nil, "", err
		}
		pipe := s.client.Pipeline()
		records := make([]*redis.MapStringStringCmd, len(entries))
		for i, e := range entries {
			records[i] = pipe.HGetAll(ctx, s.keys(e.Member.(string)).record)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, "", fmt.Errorf("store: list jobs: %w", err)
		}
		for i, e := range entries {
			pos = cursor{ms: int64(e.Score), id: e.Member.(string)}
			h := records[i].Val()
			if len(h) == 0 {
				expired = append(expired, pos.id)
				continue
			}
			j, err := decodeJob(h)
			if err != nil {
				return nil, "", err
			}
			if (status != "" && j.Status != status) || (tenant != "" && j.Tenant != tenant) {
				continue // moved since the index was read
			}
			if r, ok := inheritsMetadata(h, &j.Metadata); ok {
				refs = append(refs, r)
			}
			if jobs = append(jobs, j); len(jobs) > limit {
				break
			}
		}
	}
	if err := s.prune(ctx, tenant, expired); err != nil {
		return nil, "", err
	}
	if err := s.fillMetadata(ctx, refs); err != nil {
		return nil, "", err
	}
	if len(jobs) > limit {
		jobs = jobs[:limit]
		last := jobs[limit-1]
		next = cursor{ms: last.CreatedAt.UnixMilli(), id: last.ID}.String()
	}
	return jobs, next, nil
}

// pruneScript drops index entries whose record is (still) missing: a job
// created again under the same id in the meantime keeps its entry.
//
// KEYS: jobs index, then the record of each job of ARGV.
// ARGV: key prefix, the tenant whose indexes to clean too ("" for none),
// then job ids.
var pruneScript = redis.NewScript(statusLua + `
local tenant = ARGV[2] ~= '' and ARGV[2]
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('EXISTS', KEYS[i - 1]) == 0 then
    redis.call('ZREM', KEYS[1], id)
    unindex(ARGV[1], id, tenant)
  end
end
return 0
`)

// prune drops the index entries of the jobs ids, whose records expired,
// from the global indexes and from those of tenant.
func (s *Redis) prune(ctx context.Context, tenant string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	keys := make([]string, 0, len(ids)+1)
	keys = append(keys, s.jobs)
	args := make([]any, 0, len(ids)+2)
	args = append(args, s.cfg.Prefix, tenant)
	for _, id := range ids {
		keys = append(keys, s.keys(id).record)
		args = append(args, id)
	}
	if err := pruneScript.Run(ctx, s.client, keys, args...).Err(); err != nil {
		return fmt.Errorf("store: prune jobs index: %w", err)
	}
	return nil
}

// indexAfter returns up to n entries of the jobs index (or of a status
// index) that come after pos, newest first, and whether more may follow.
func (s *Redis) indexAfter(ctx context.Context, index string, pos cursor, n int) ([]redis.Z, bool, error) {
	by := &redis.ZRangeBy{Max: "+inf", Min: "-inf", Count: int64(n)}
	if pos.id != "" {
		by.Max = strconv.FormatInt(pos.ms, 10)
	}
	for {
		zs, err := s.client.ZRevRangeByScoreWithScores(ctx, index, by).Result()
		if err != nil {
			return nil, false, fmt.Errorf("store: read jobs index: %w", err)
		}
		// Jobs created in the same millisecond as pos share its score and come
		// in descending id order: those down to pos's own were seen already.
		i := 0
		for i < len(zs) && pos.id != "" && int64(zs[i].Score) == pos.ms && zs[i].Member.(string) >= pos.id {
			i++
		}
		if i < len(zs) || len(zs) < n {
			return zs[i:], len(zs) == n, nil
		}
		by.Offset += int64(n)
	}
}

// cursor is a position in the jobs index: the score and id of the last job
// of a page.
type cursor struct {
	ms int64
	id string
}

// String encodes c as an opaque, URL-safe token.
func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.ms, 10) + ":" + c.id))
}

// decodeCursor parses the token String returns; "" is the start.
func decodeCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{}, nil
	}
	bad := tasks.Errorf(tasks.CodeInvalidRequest, "invalid cursor %q", s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, bad
	}
	ms, id, ok := strings.Cut(string(b), ":")
	if !ok || id == "" {
		return cursor{}, bad
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return cursor{}, bad
	}
	return cursor{ms: n, id: id}, nil
}
