package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mmq/mmq/tasks"
)

// fieldMetadataFromBatch marks a job record whose metadata is its batch's:
// CreateBatch stores shared metadata once, on the batch record, instead of
// copying it onto every job (10,000 jobs with 16 KiB of shared metadata
// took 175 MiB that way), and readers fill it in from the batch.
const fieldMetadataFromBatch = "metadata_batch"

// metadataRef is a job (or notification) whose metadata is its batch's.
type metadataRef struct {
	batch string
	dst   *json.RawMessage
}

// inheritsMetadata returns the ref that fills dst from the batch of the
// record h, and whether h has its metadata there.
func inheritsMetadata(h map[string]string, dst *json.RawMessage) (metadataRef, bool) {
	if h[fieldMetadataFromBatch] != "1" || h[fieldBatchID] == "" || len(*dst) > 0 {
		return metadataRef{}, false
	}
	return metadataRef{batch: h[fieldBatchID], dst: dst}, true
}

// fillMetadata reads the metadata of the batches refs name, each once, in
// one round trip, and sets it. A batch that expired leaves its jobs'
// metadata empty.
func (s *Redis) fillMetadata(ctx context.Context, refs []metadataRef) error {
	if len(refs) == 0 {
		return nil
	}
	meta := map[string]json.RawMessage{}
	var ids []string
	for _, r := range refs {
		if _, ok := meta[r.batch]; !ok {
			meta[r.batch] = nil
			ids = append(ids, r.batch)
		}
	}
	pipe := s.client.Pipeline()
	for _, id := range ids {
		record, _ := s.batchKeys(id)
		pipe.HGet(ctx, record, "metadata")
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil && len(cmds) == 0 {
		return fmt.Errorf("store: metadata of %d batches: %w", len(ids), err)
	}
	for i, c := range cmds {
		if v, err := c.(interface{ Result() (string, error) }).Result(); err == nil && v != "" {
			meta[ids[i]] = json.RawMessage(v)
		}
	}
	for _, r := range refs {
		*r.dst = meta[r.batch]
	}
	return nil
}

// decodeJobs decodes job records and fills in the metadata they inherit.
func (s *Redis) decodeJobs(ctx context.Context, hs []map[string]string) ([]*tasks.Job, error) {
	jobs := make([]*tasks.Job, len(hs))
	var refs []metadataRef
	for i, h := range hs {
		j, err := decodeJob(h)
		if err != nil {
			return nil, err
		}
		if r, ok := inheritsMetadata(h, &j.Metadata); ok {
			refs = append(refs, r)
		}
		jobs[i] = j
	}
	return jobs, s.fillMetadata(ctx, refs)
}

// decodeOne is decodeJobs for one record.
func (s *Redis) decodeOne(ctx context.Context, h map[string]string) (*tasks.Job, error) {
	jobs, err := s.decodeJobs(ctx, []map[string]string{h})
	if err != nil {
		return nil, err
	}
	return jobs[0], nil
}
