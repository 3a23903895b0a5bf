package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/mmq/mmq/tasks"
)

// SetVideoPlan records what the worker learned of a job's input once it
// turned out to be a video: the kind, the facts ffprobe found, the options
// with the video defaults applied and, when known, the number of frames.
// A job submitted by URL is a document job until this is called.
func (s *Redis) SetVideoPlan(ctx context.Context, id string, plan tasks.VideoPlan) error {
	info, err := json.Marshal(plan.Info)
	if err != nil {
		return fmt.Errorf("store: encode video info of job %s: %w", id, err)
	}
	opts, err := json.Marshal(plan.Options)
	if err != nil {
		return fmt.Errorf("store: encode options of job %s: %w", id, err)
	}
	fields := []any{fieldKind, string(tasks.KindVideo), fieldVideo, info, fieldOptions, opts}
	if plan.Frames > 0 {
		fields = append(fields, fieldPagesTotal, plan.Frames)
	}
	return s.update(ctx, "set video plan of", id, fields...)
}

// SetSummary stores the analyzer's summary of the whole job, a JSON value.
func (s *Redis) SetSummary(ctx context.Context, id string, summary json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Compact(&buf, summary); err != nil {
		return fmt.Errorf("store: summary of job %s is not JSON: %w", id, err)
	}
	return s.update(ctx, "set summary of", id, fieldSummary, buf.String())
}
