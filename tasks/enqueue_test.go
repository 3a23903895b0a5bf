package tasks_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/mmq/mmq/tasks"
)

// FuzzDecodeAnalyzePayload decodes fuzzed task payloads. A payload that
// does not decode must be a permanent invalid_request error, so that asynq
// archives the task instead of retrying it; one that decodes must make a
// task again (unless its priority is unknown) whose payload decodes to the
// same value.
func FuzzDecodeAnalyzePayload(f *testing.F) {
	for _, seed := range []string{
		`{"job_id":"01j0000000000000000000000","blob_key":"ab/cd/abcd","options":{"task":"general_qa","priority":"low","max_pages":3}}`,
		`{"job_id":"j","source_url":"https://example.com/a.pdf","options":{}}`,
		`{"job_id":"v","blob_key":"k","options":{"sample":"fps:1","max_frames":10,"start":1.5,"end":-0}}`,
		`{"job_id":"","options":{}}`,
		`{"job_id":"j","options":{"priority":"urgent"}}`,
		`{"job_id":"j","options":{"max_pages":"3"}}`,
		`{"job_id":"\ud800","options":{"task":"\u0000"}}`,
		`{"job_id":"j","unknown":[1,{"a":null}],"options":null}`,
		`{"job_id":1}`,
		`[]`, `null`, `""`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := tasks.DecodeAnalyzePayload(b)
		if err != nil {
			var te *tasks.Error
			if !errors.As(err, &te) || te.Code != tasks.CodeInvalidRequest || te.Message == "" {
				t.Fatalf("error %v (%T) is no invalid_request *tasks.Error", err, err)
			}
			if !errors.Is(tasks.ForAsynq(err), asynq.SkipRetry) {
				t.Fatalf("ForAsynq(%v) does not skip retries", err)
			}
			return
		}
		if p.JobID == "" {
			t.Fatalf("payload %q decoded without a job id", b)
		}
		task, err := tasks.NewAnalyzeTask(tasks.KindDocument, p, tasks.EnqueueConfig{})
		if err != nil {
			prio := p.Options.Priority
			if tasks.ErrorCode(err) != tasks.CodeInvalidRequest || prio == "" || prio.Valid() {
				t.Fatalf("NewAnalyzeTask(%+v): %v", p, err)
			}
			return
		}
		q, err := tasks.DecodeAnalyzePayload(task.Payload())
		if err != nil {
			t.Fatalf("the payload NewAnalyzeTask wrote does not decode: %v\n%s", err, task.Payload())
		}
		// Encoding replaces invalid UTF-8 with U+FFFD: compare with p as
		// it comes out of one encoding.
		want := roundTrip(t, p)
		if !reflect.DeepEqual(q, want) {
			t.Fatalf("payload changed through a task:\n got %+v\nwant %+v", q, want)
		}
	})
}

func roundTrip(t *testing.T, p tasks.AnalyzePayload) tasks.AnalyzePayload {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var out tasks.AnalyzePayload
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
