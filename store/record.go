package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/mmq/mmq/tasks"
)

// Fields of the job record hash. The Lua scripts name the counters and
// status too.
const (
	fieldID           = "id"
	fieldKind         = "kind"
	fieldStatus       = "status"
	fieldOptions      = "options"
	fieldMetadata     = "metadata"
	fieldFilename     = "filename"
	fieldSourceURL    = "source_url"
	fieldBlobKey      = "blob_key"
	fieldSize         = "size"
	fieldHasPassword  = "has_password"
	fieldPagesTotal   = "pages_total"
	fieldPagesDone    = "pages_done"
	fieldPagesFailed  = "pages_failed"
	fieldAttempts     = "attempts"
	fieldErrorCode    = "error_code"
	fieldErrorMessage = "error_message"
	fieldCreatedAt    = "created_at"
	fieldStartedAt    = "started_at"
	fieldFinishedAt   = "finished_at"
	fieldBatchID      = "batch_id"
	fieldTenant       = "tenant"
	fieldCallbackURL  = "callback_url"
	fieldVideo        = "video"
	fieldSummary      = "summary"
	// The job's usage totals, kept by the save script and ThrottlePage.
	fieldUsageInputTokens    = "usage_input_tokens"
	fieldUsageOutputTokens   = "usage_output_tokens"
	fieldUsageCostUSD        = "usage_cost_usd"
	fieldUsageCacheHits      = "usage_cache_hits"
	fieldUsageCacheMisses    = "usage_cache_misses"
	fieldUsagePagesThrottled = "usage_pages_throttled"
)

// encodeJob returns j as field/value pairs for HSET. Empty optional fields
// are left out; decodeJob reads a missing field as the zero value.
func encodeJob(j *tasks.Job) ([]any, error) {
	opts, err := json.Marshal(j.Options)
	if err != nil {
		return nil, fmt.Errorf("store: encode options of job %s: %w", j.ID, err)
	}
	f := []any{
		fieldID, j.ID,
		fieldKind, string(j.Kind),
		fieldStatus, string(j.Status),
		fieldOptions, opts,
		fieldPagesTotal, j.PagesTotal,
		fieldPagesDone, j.PagesDone,
		fieldPagesFailed, j.PagesFailed,
		fieldAttempts, j.Attempts,
		fieldCreatedAt, formatTime(j.CreatedAt),
	}
	optional := func(name, v string) {
		if v != "" {
			f = append(f, name, v)
		}
	}
	optional(fieldMetadata, string(j.Metadata))
	optional(fieldFilename, j.Filename)
	optional(fieldSourceURL, j.SourceURL)
	optional(fieldBlobKey, j.BlobKey)
	optional(fieldErrorCode, string(j.ErrorCode))
	optional(fieldErrorMessage, j.ErrorMessage)
	optional(fieldBatchID, j.BatchID)
	optional(fieldTenant, j.Tenant)
	optional(fieldCallbackURL, j.CallbackURL)
	optional(fieldSummary, string(j.Summary))
	if j.Video != nil {
		v, err := json.Marshal(j.Video)
		if err != nil {
			return nil, fmt.Errorf("store: encode video info of job %s: %w", j.ID, err)
		}
		f = append(f, fieldVideo, v)
	}
	if j.Size != 0 {
		f = append(f, fieldSize, j.Size)
	}
	if j.HasPassword {
		f = append(f, fieldHasPassword, "1")
	}
	if j.StartedAt != nil {
		f = append(f, fieldStartedAt, formatTime(*j.StartedAt))
	}
	if j.FinishedAt != nil {
		f = append(f, fieldFinishedAt, formatTime(*j.FinishedAt))
	}
	return f, nil
}

// decodeJob reads a job record from its hash fields.
func decodeJob(h map[string]string) (*tasks.Job, error) {
	r := fieldReader{h: h}
	j := &tasks.Job{
		ID:           h[fieldID],
		Kind:         tasks.Kind(h[fieldKind]),
		Status:       tasks.Status(h[fieldStatus]),
		Filename:     h[fieldFilename],
		SourceURL:    h[fieldSourceURL],
		BlobKey:      h[fieldBlobKey],
		Size:         r.int(fieldSize),
		HasPassword:  h[fieldHasPassword] == "1",
		PagesTotal:   int(r.int(fieldPagesTotal)),
		PagesDone:    int(r.int(fieldPagesDone)),
		PagesFailed:  int(r.int(fieldPagesFailed)),
		Attempts:     int(r.int(fieldAttempts)),
		ErrorCode:    tasks.Code(h[fieldErrorCode]),
		ErrorMessage: h[fieldErrorMessage],
		BatchID:      h[fieldBatchID],
		Tenant:       h[fieldTenant],
		CallbackURL:  h[fieldCallbackURL],
		StartedAt:    r.optionalTime(fieldStartedAt),
		FinishedAt:   r.optionalTime(fieldFinishedAt),
	}
	if t := r.optionalTime(fieldCreatedAt); t != nil {
		j.CreatedAt = *t
	}
	if v := h[fieldMetadata]; v != "" {
		j.Metadata = json.RawMessage(v)
	}
	if v := h[fieldSummary]; v != "" {
		j.Summary = json.RawMessage(v)
	}
	if v := h[fieldAnswer]; v != "" {
		j.Answer = json.RawMessage(v)
	}
	if u := r.usage(); !u.Zero() {
		j.Usage = &u
	}
	if v := h[fieldOptions]; v != "" && r.err == nil {
		r.err = json.Unmarshal([]byte(v), &j.Options)
	}
	if v := h[fieldVideo]; v != "" && r.err == nil {
		j.Video = new(tasks.VideoInfo)
		r.err = json.Unmarshal([]byte(v), j.Video)
	}
	if r.err != nil {
		return nil, fmt.Errorf("store: corrupt record of job %s: %w", j.ID, r.err)
	}
	return j, nil
}

// fieldReader parses hash fields, keeping the first error.
type fieldReader struct {
	h   map[string]string
	err error
}

func (r *fieldReader) int(name string) int64 {
	v, ok := r.h[name]
	if !ok || r.err != nil {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		r.err = fmt.Errorf("field %s: %w", name, err)
	}
	return n
}

// usage reads the job's usage totals, which the scripts add up with
// HINCRBYFLOAT.
func (r *fieldReader) usage() tasks.Usage {
	return tasks.Usage{
		InputTokens:    int64(r.float(fieldUsageInputTokens)),
		OutputTokens:   int64(r.float(fieldUsageOutputTokens)),
		CostUSD:        r.float(fieldUsageCostUSD),
		CacheHits:      int64(r.float(fieldUsageCacheHits)),
		CacheMisses:    int64(r.float(fieldUsageCacheMisses)),
		PagesThrottled: int64(r.float(fieldUsagePagesThrottled)),
	}
}

func (r *fieldReader) float(name string) float64 {
	v, ok := r.h[name]
	if !ok || r.err != nil {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		r.err = fmt.Errorf("field %s: %w", name, err)
	}
	return f
}

func (r *fieldReader) optionalTime(name string) *time.Time {
	v, ok := r.h[name]
	if !ok || r.err != nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		r.err = fmt.Errorf("field %s: %w", name, err)
		return nil
	}
	return &t
}

// formatTime writes t in UTC so that every record reads back alike.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// pairsToMap turns the flat reply of HGETALL inside a Lua script into the map
// decodeJob reads.
func pairsToMap(reply any) (map[string]string, error) {
	items, ok := reply.([]any)
	if !ok || len(items)%2 != 0 {
		return nil, fmt.Errorf("store: unexpected script reply %T", reply)
	}
	h := make(map[string]string, len(items)/2)
	for i := 0; i < len(items); i += 2 {
		k, ok1 := items[i].(string)
		v, ok2 := items[i+1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("store: unexpected script reply item %T", items[i])
		}
		h[k] = v
	}
	return h, nil
}
