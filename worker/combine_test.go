package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/mmq/mmq/tasks"
	"github.com/mmq/mmq/worker"
)

// combiningFake is a fakeAnalyzer that also combines page answers.
type combiningFake struct {
	*fakeAnalyzer
	calls atomic.Int64
	// fail, if set, is the error of combining call n (from 1).
	fail func(n int64) error
}

func (c *combiningFake) Combine(_ context.Context, job *tasks.Job, rs []tasks.PageResult) (tasks.Analysis, error) {
	n := c.calls.Add(1)
	an := tasks.Analysis{InputTokens: 1000, OutputTokens: 50, CostUSD: 0.25}
	if c.fail != nil {
		if err := c.fail(n); err != nil {
			return an, err
		}
	}
	done := 0
	for _, r := range rs {
		if r.Status == tasks.PageDone {
			done++
		}
	}
	an.Output = json.RawMessage(fmt.Sprintf(`{"text":"x","data":{"job":%q,"pages":%d}}`, job.ID, done))
	return an, nil
}

var _ worker.Combiner = (*combiningFake)(nil)

func (b *testBundle) documentScopeJob(t *testing.T) (*tasks.Job, func() error, *combiningFake) {
	t.Helper()
	j := &tasks.Job{ID: fmt.Sprintf("job-%d", jobSeq.Add(1)), Kind: tasks.KindDocument,
		Options: tasks.Options{Scope: tasks.ScopeDocument, Instructions: "the total"}}
	j, task := b.storeJob(t, booklet, j, "")
	c := &combiningFake{fakeAnalyzer: newFake(func(_ context.Context, u tasks.Unit, _ int) error {
		if u.Instructions != "the total" {
			return fmt.Errorf("page %d got instructions %q", u.Index, u.Instructions)
		}
		return nil
	})}
	h := b.handler(t, c)
	return j, func() error { return h.ProcessTask(context.Background(), task) }, c
}

// A job of scope document gets one answer after its pages, stored on the
// job with what combining cost.
func TestCombineAfterPages(t *testing.T) {
	b := setup(t)
	j, run, c := b.documentScopeJob(t)
	if err := run(); err != nil {
		t.Fatal(err)
	}
	got := b.job(t, j.ID)
	want := fmt.Sprintf(`{"job":%q,"pages":64}`, j.ID)
	if got.Status != tasks.StatusSucceeded || string(got.Answer) != want || c.calls.Load() != 1 {
		t.Fatalf("job %s, answer %s after %d combines; want succeeded, %s, 1", got.Status, got.Answer, c.calls.Load(), want)
	}
	if got.Usage == nil || got.Usage.InputTokens != 1000 || got.Usage.CostUSD != 0.25 {
		t.Errorf("usage %+v: want the combining's 1000 tokens and $0.25", got.Usage)
	}
	// Run again (a duplicate delivery): nothing is redone.
	if err := run(); err != nil {
		t.Fatal(err)
	}
	if calls, _ := c.snapshot(); len(calls) != 64 || c.calls.Load() != 1 {
		t.Errorf("after a second run: %d pages analyzed, %d combines", len(calls), c.calls.Load())
	}
}

// A combining step that fails transiently is retried alone: the pages are
// checkpointed and never redone.
func TestCombineRetryRedoesOnlyCombining(t *testing.T) {
	b := setup(t)
	j, run, c := b.documentScopeJob(t)
	c.fail = func(n int64) error {
		if n == 1 {
			return tasks.Errorf(tasks.CodeProviderFailed, "overloaded")
		}
		return nil
	}
	if err := run(); tasks.ErrorCode(err) != tasks.CodeProviderFailed {
		t.Fatalf("first run: %v, want the transient error back for a retry", err)
	}
	if got := b.job(t, j.ID); got.Status != tasks.StatusProcessing || got.PagesDone != 64 || got.Answer != nil {
		t.Fatalf("after the failed combine: %s, %d pages, answer %s", got.Status, got.PagesDone, got.Answer)
	}
	if err := run(); err != nil {
		t.Fatal(err)
	}
	calls, _ := c.snapshot()
	for k, n := range calls {
		if n != 1 {
			t.Errorf("page %s analyzed %d times", k, n)
		}
	}
	got := b.job(t, j.ID)
	if got.Status != tasks.StatusSucceeded || got.Answer == nil || c.calls.Load() != 2 {
		t.Fatalf("after the retry: %s, answer %s, %d combines", got.Status, got.Answer, c.calls.Load())
	}
	// Both combines cost: the failed one's usage is kept too.
	if got.Usage.CostUSD != 0.5 {
		t.Errorf("usage %+v, want $0.50 for two combining calls", got.Usage)
	}
}

// An answer that cannot be made to follow the schema ends the job
// partially_succeeded with schema_mismatch; its pages stand.
func TestCombineMismatchEndsPartial(t *testing.T) {
	b := setup(t)
	j, run, c := b.documentScopeJob(t)
	c.fail = func(int64) error {
		return tasks.Errorf(tasks.CodeSchemaMismatch, "the answer does not match the schema")
	}
	if err := run(); err != nil {
		t.Fatalf("run: %v; a permanent combining failure ends the job, it is no task error", err)
	}
	got := b.job(t, j.ID)
	if got.Status != tasks.StatusPartiallySucceeded || got.ErrorCode != tasks.CodeSchemaMismatch || got.PagesDone != 64 || got.Answer != nil {
		t.Fatalf("job %+v", got)
	}
	if c.calls.Load() != 1 {
		t.Errorf("%d combines; a permanent failure is not retried", c.calls.Load())
	}
}

// mismatching fails every page with schema_mismatch, with its last answer.
type mismatching struct{ calls atomic.Int64 }

func (m *mismatching) Analyze(_ context.Context, u tasks.Unit) (tasks.Analysis, error) {
	m.calls.Add(1)
	return tasks.Analysis{Output: json.RawMessage(`{"text":"not the schema","schema_errors":[{"pointer":"","message":"x"}]}`), CostUSD: 0.01, InputTokens: 10},
		tasks.Errorf(tasks.CodeSchemaMismatch, "the answer does not match the schema (after 3 tries)")
}

// A page whose answer does not follow the schema fails at once (the
// provider made its re-asks), keeps its last answer and its cost.
func TestPageSchemaMismatchKeepsAnswer(t *testing.T) {
	b := setup(t)
	j, task := b.newJob(t, booklet, "")
	a := &mismatching{}
	if err := b.handler(t, a).ProcessTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	got := b.job(t, j.ID)
	if got.Status != tasks.StatusFailed || got.PagesFailed != 64 || a.calls.Load() != 64 {
		t.Fatalf("job %+v after %d calls: want failed, one call a page", got, a.calls.Load())
	}
	rs, _, err := b.store.Results(context.Background(), j.ID, -1, 10)
	if err != nil || len(rs) == 0 {
		t.Fatal(err)
	}
	r := rs[0]
	if r.ErrorCode != tasks.CodeSchemaMismatch || r.Attempts != 1 || string(r.Output) == "" || r.Metrics.CostUSD != 0.01 {
		t.Errorf("page %+v: want schema_mismatch after 1 attempt with its answer and cost", r)
	}
	if got.Usage == nil || got.Usage.CostUSD == 0 {
		t.Errorf("usage %+v: the failed page's cost must count", got.Usage)
	}
}
