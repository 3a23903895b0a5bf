package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/tasks"
)

// batchKeys names the keys of one batch: its record (a hash) and the ids of
// its jobs in submission order (a list).
func (s *Redis) batchKeys(id string) (record, jobs string) {
	base := s.cfg.Prefix + ":batch:{" + id + "}"
	return base, base + ":jobs"
}

// batchCountField is the record field counting the batch's jobs that ended
// in status st.
func batchCountField(st tasks.Status) string { return "n_" + string(st) }

// createBatchScript writes a batch record unless it exists, taking all its
// jobs and their known pages from the tenant's quotas at once (see
// quotaLua): a batch is accepted whole or refused.
//
// KEYS: record. ARGV: key prefix, the quota ("" for none), the number of
// jobs, field/value pairs.
var createBatchScript = redis.NewScript(quotaLua + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if ARGV[2] ~= '' then
  local refused = quota_take(ARGV[1], cjson.decode(ARGV[2]), tonumber(ARGV[3]))
  if refused then return redis.error_reply(refused) end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
return 1
`)

// createChunk is how many jobs one pipeline of CreateBatch carries.
const createChunk = 1000

// CreateBatch stores batch b and its new jobs, whose ids the caller sets.
// The jobs are written with pipelines of createChunk jobs, so a batch of
// 10,000 jobs takes about a dozen round trips, not 10,000. An existing
// batch id is a CodeConflict error; an existing job id fails the whole call.
func (s *Redis) CreateBatch(ctx context.Context, b *tasks.Batch, jobs []*tasks.Job) error {
	if b.ID == "" || strings.ContainsAny(b.ID, "{}") {
		return tasks.Errorf(tasks.CodeInvalidRequest, "invalid batch id %q", b.ID)
	}
	if b.CreatedAt.IsZero() {
		b.CreatedAt = time.Now()
	}
	b.Status, b.Total, b.Ended, b.Counts = tasks.BatchProcessing, len(jobs), 0, map[tasks.Status]int{}
	record, list := s.batchKeys(b.ID)
	fields := []any{"id", b.ID, "status", string(b.Status), "total", b.Total, "ended", 0, "created_at", formatTime(b.CreatedAt)}
	if len(b.Metadata) > 0 {
		fields = append(fields, "metadata", string(b.Metadata))
	}
	if b.CallbackURL != "" {
		fields = append(fields, "callback_url", b.CallbackURL)
	}
	if b.Tenant != "" {
		fields = append(fields, "tenant", b.Tenant)
	}
	var pages int64
	for _, j := range jobs {
		pages += int64(j.PagesTotal)
	}
	now := time.Now()
	args := append([]any{s.cfg.Prefix, s.quotaArg(b.Tenant, pages, now), len(jobs)}, fields...)
	created, err := createBatchScript.Run(ctx, s.client, []string{record}, args...).Int()
	if qerr := s.quotaErr(err, b.Tenant, now); qerr != err {
		return qerr
	}
	if err != nil {
		return fmt.Errorf("store: create batch %s: %w", b.ID, err)
	}
	if created == 0 {
		return tasks.Errorf(tasks.CodeConflict, "batch %s already exists", b.ID)
	}
	if err := createScript.Load(ctx, s.client).Err(); err != nil {
		return fmt.Errorf("store: create batch %s: %w", b.ID, err)
	}
	for start := 0; start < len(jobs); start += createChunk {
		chunk := jobs[start:min(start+createChunk, len(jobs))]
		pipe := s.client.Pipeline()
		cmds := make([]*redis.Cmd, len(chunk))
		ids := make([]any, len(chunk))
		for i, j := range chunk {
			if j.ID == "" || strings.ContainsAny(j.ID, "{}") {
				return tasks.Errorf(tasks.CodeInvalidRequest, "invalid job id %q", j.ID)
			}
			j.BatchID, j.Tenant = b.ID, b.Tenant
			if j.Status == "" {
				j.Status = tasks.StatusQueued
			}
			if j.CreatedAt.IsZero() {
				j.CreatedAt = b.CreatedAt
			}
			stored := j
			if len(b.Metadata) > 0 && bytes.Equal(j.Metadata, b.Metadata) {
				own := *j
				own.Metadata = nil
				stored = &own
			}
			f, err := encodeJob(stored)
			if err != nil {
				return err
			}
			if stored != j {
				f = append(f, fieldMetadataFromBatch, "1")
			}
			args := append([]any{j.ID, j.CreatedAt.UnixMilli(), "", 0, s.cfg.Prefix, ""}, f...)
			cmds[i] = createScript.EvalSha(ctx, pipe, s.createKeys(j), args...)
			ids[i] = j.ID
		}
		pipe.RPush(ctx, list, ids...)
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("store: create jobs of batch %s: %w", b.ID, err)
		}
		for i, c := range cmds {
			if n, _ := c.Int(); n == 0 {
				return tasks.Errorf(tasks.CodeConflict, "job %s already exists", chunk[i].ID)
			}
		}
	}
	return nil
}

// GetBatch returns the record of batch id, with the usage (tokens, cost)
// of its jobs so far.
func (s *Redis) GetBatch(ctx context.Context, id string) (*tasks.Batch, error) {
	b, err := s.batchRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	_, jobs := s.batchKeys(id)
	u, err := s.batchUsage(ctx, jobs)
	if err != nil {
		return nil, fmt.Errorf("store: get batch %s: %w", id, err)
	}
	if !u.Zero() {
		b.Usage = &u
	}
	return b, nil
}

// batchRecord returns the record of batch id alone.
func (s *Redis) batchRecord(ctx context.Context, id string) (*tasks.Batch, error) {
	record, _ := s.batchKeys(id)
	h, err := s.client.HGetAll(ctx, record).Result()
	if err != nil {
		return nil, fmt.Errorf("store: get batch %s: %w", id, err)
	}
	if len(h) == 0 {
		return nil, &tasks.Error{Code: tasks.CodeNotFound, Message: fmt.Sprintf("batch %s not found", id), Err: ErrNotFound}
	}
	return decodeBatch(h)
}

// BatchJobs returns up to limit jobs of batch id (default 100, at most
// 1000) in submission order, starting at offset, and whether more follow.
func (s *Redis) BatchJobs(ctx context.Context, id string, offset, limit int) ([]*tasks.Job, bool, error) {
	b, err := s.batchRecord(ctx, id)
	if err != nil {
		return nil, false, err
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	_, list := s.batchKeys(id)
	ids, err := s.client.LRange(ctx, list, int64(max(offset, 0)), int64(max(offset, 0)+limit)).Result()
	if err != nil {
		return nil, false, fmt.Errorf("store: jobs of batch %s: %w", id, err)
	}
	more := len(ids) > limit
	ids = ids[:min(len(ids), limit)]
	pipe := s.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, jid := range ids {
		cmds[i] = pipe.HGetAll(ctx, s.keys(jid).record)
	}
	if _, err := pipe.Exec(ctx); err != nil && len(ids) > 0 {
		return nil, false, fmt.Errorf("store: jobs of batch %s: %w", id, err)
	}
	jobs := make([]*tasks.Job, 0, len(ids))
	for _, c := range cmds {
		if len(c.Val()) == 0 {
			continue // expired
		}
		j, err := decodeJob(c.Val())
		if err != nil {
			return nil, false, err
		}
		if _, ok := inheritsMetadata(c.Val(), &j.Metadata); ok {
			j.Metadata = b.Metadata
		}
		jobs = append(jobs, j)
	}
	return jobs, more, nil
}

func decodeBatch(h map[string]string) (*tasks.Batch, error) {
	r := fieldReader{h: h}
	b := &tasks.Batch{
		ID:          h["id"],
		Status:      tasks.BatchStatus(h["status"]),
		CallbackURL: h["callback_url"],
		Tenant:      h["tenant"],
		Total:       int(r.int("total")),
		Ended:       int(r.int("ended")),
		FinishedAt:  r.optionalTime("finished_at"),
		Counts:      map[tasks.Status]int{},
	}
	if t := r.optionalTime("created_at"); t != nil {
		b.CreatedAt = *t
	}
	if v := h["metadata"]; v != "" {
		b.Metadata = json.RawMessage(v)
	}
	for _, st := range []tasks.Status{tasks.StatusSucceeded, tasks.StatusPartiallySucceeded, tasks.StatusFailed, tasks.StatusCanceled} {
		if n := r.int(batchCountField(st)); n > 0 {
			b.Counts[st] = int(n)
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("store: corrupt record of batch %s: %w", b.ID, r.err)
	}
	return b, nil
}
