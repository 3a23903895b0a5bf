package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/mmq/mmq/tasks"
)

func page(index int, status tasks.PageStatus) tasks.PageResult {
	r := tasks.PageResult{
		Index:      index,
		Status:     status,
		Attempts:   1,
		DurationMS: 12,
		FinishedAt: time.Date(2025, 3, 1, 0, 0, index, 0, time.UTC),
	}
	if status == tasks.PageDone {
		r.Output = json.RawMessage(fmt.Sprintf(`{"page":%d}`, index))
	} else {
		r.ErrorCode, r.ErrorMessage = tasks.CodeProviderFailed, "boom"
	}
	return r
}

func TestSavePageCounts(t *testing.T) {
	done, failed := tasks.PageDone, tasks.PageFailed
	tests := []struct {
		name       string
		saves      []tasks.PageResult
		wantDone   int
		wantFailed int
		// wantStatus is the stored status of page 1.
		wantStatus tasks.PageStatus
	}{
		{"done once", []tasks.PageResult{page(1, done)}, 1, 0, done},
		{"done twice", []tasks.PageResult{page(1, done), page(1, done)}, 1, 0, done},
		{"failed twice", []tasks.PageResult{page(1, failed), page(1, failed)}, 0, 1, failed},
		{"failed then done", []tasks.PageResult{page(1, failed), page(1, done)}, 1, 0, done},
		{"done then failed is ignored", []tasks.PageResult{page(1, done), page(1, failed)}, 1, 0, done},
		{"page 0 and others", []tasks.PageResult{page(0, done), page(1, failed), page(2, done), page(3, failed)}, 2, 2, failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			ctx := context.Background()
			b.createJob(t, "j")
			for _, r := range tt.saves {
				if err := b.store.SavePage(ctx, "j", r); err != nil {
					t.Fatalf("SavePage(%d, %s): %v", r.Index, r.Status, err)
				}
			}
			j := b.getJob(t, "j")
			if j.PagesDone != tt.wantDone || j.PagesFailed != tt.wantFailed {
				t.Errorf("done, failed = %d, %d; want %d, %d", j.PagesDone, j.PagesFailed, tt.wantDone, tt.wantFailed)
			}
			rs, _, err := b.store.Results(ctx, "j", 0, 1)
			if err != nil || len(rs) != 1 || rs[0].Status != tt.wantStatus {
				t.Errorf("Results(page 1) = %+v, %v; want status %s", rs, err, tt.wantStatus)
			}
		})
	}
}

func TestSavePageInvalid(t *testing.T) {
	b := setup(t)
	b.createJob(t, "j")
	for _, r := range []tasks.PageResult{{Index: -1, Status: tasks.PageDone}, {Index: 1, Status: "maybe"}} {
		if err := b.store.SavePage(context.Background(), "j", r); tasks.ErrorCode(err) != tasks.CodeInvalidRequest {
			t.Errorf("SavePage(%+v) = %v; want code invalid_request", r, err)
		}
	}
}

func TestSavePageConcurrent(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.createJob(t, "j")
	const pages = 50
	errs := make(chan error, pages)
	var wg sync.WaitGroup
	for i := range pages {
		wg.Go(func() {
			status := tasks.PageDone
			if i%5 == 0 {
				status = tasks.PageFailed
			}
			errs <- b.store.SavePage(ctx, "j", page(i, status))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("SavePage: %v", err)
		}
	}
	j := b.getJob(t, "j")
	if j.PagesDone != 40 || j.PagesFailed != 10 {
		t.Errorf("done, failed = %d, %d; want 40, 10", j.PagesDone, j.PagesFailed)
	}
}

func TestSavePageAfterFinish(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.createJob(t, "j")
	if _, err := b.store.FinishJob(ctx, "j", tasks.StatusCanceled, tasks.CodeCanceled, ""); err != nil {
		t.Fatalf("FinishJob: %v", err)
	}
	if err := b.store.SavePage(ctx, "j", page(1, tasks.PageDone)); err != nil {
		t.Fatalf("SavePage: %v", err)
	}
	if j := b.getJob(t, "j"); j.PagesDone != 0 {
		t.Errorf("PagesDone = %d after the job ended; want 0", j.PagesDone)
	}
	// No key of the job may be left without a TTL.
	if n, err := b.client.Exists(ctx, "mmq:job:{j}:results", "mmq:job:{j}:idx", "mmq:job:{j}:done").Result(); err != nil || n != 0 {
		t.Errorf("result keys exist (%d, %v); want none", n, err)
	}
}

func TestDonePages(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.createJob(t, "j")
	got, err := b.store.DonePages(ctx, "j")
	if err != nil || len(got) != 0 {
		t.Fatalf("DonePages of a new job = %v, %v; want none", got, err)
	}
	for _, i := range []int{10, 2, 0, 7, 3} {
		status := tasks.PageDone
		if i == 7 {
			status = tasks.PageFailed
		}
		if err := b.store.SavePage(ctx, "j", page(i, status)); err != nil {
			t.Fatalf("SavePage(%d): %v", i, err)
		}
	}
	got, err = b.store.DonePages(ctx, "j")
	if want := []int{0, 2, 3, 10}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("DonePages = %v, %v; want %v", got, err, want)
	}
}

func TestResults(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.createJob(t, "j")
	// Saved out of order, with frame 0 and a gap at 5.
	indexes := []int{9, 0, 3, 1, 2, 8, 4, 6, 7}
	for _, i := range indexes {
		if err := b.store.SavePage(ctx, "j", page(i, tasks.PageDone)); err != nil {
			t.Fatalf("SavePage(%d): %v", i, err)
		}
	}
	tests := []struct {
		after, limit int
		want         []int
		more         bool
	}{
		{-1, 3, []int{0, 1, 2}, true},
		{2, 3, []int{3, 4, 6}, true},
		{6, 3, []int{7, 8, 9}, false},
		{0, 0, []int{1, 2, 3, 4, 6, 7, 8, 9}, false},
		{-1, 9, []int{0, 1, 2, 3, 4, 6, 7, 8, 9}, false},
		{9, 10, nil, false},
	}
	for _, tt := range tests {
		rs, more, err := b.store.Results(ctx, "j", tt.after, tt.limit)
		if err != nil {
			t.Fatalf("Results(%d, %d): %v", tt.after, tt.limit, err)
		}
		var got []int
		for _, r := range rs {
			got = append(got, r.Index)
		}
		if !reflect.DeepEqual(got, tt.want) || more != tt.more {
			t.Errorf("Results(%d, %d) = %v, %v; want %v, %v", tt.after, tt.limit, got, more, tt.want, tt.more)
		}
	}
	rs, _, err := b.store.Results(ctx, "j", 3, 1)
	if want := page(4, tasks.PageDone); err != nil || len(rs) != 1 || !reflect.DeepEqual(rs[0], want) {
		t.Errorf("Results(3, 1) = %+v, %v; want %+v", rs, err, want)
	}
}

func BenchmarkSavePage(b *testing.B) {
	tb := setup(b)
	ctx := context.Background()
	tb.createJob(b, "j")
	r := page(1, tasks.PageDone)
	for i := 0; b.Loop(); i++ {
		r.Index = i
		if err := tb.store.SavePage(ctx, "j", r); err != nil {
			b.Fatal(err)
		}
	}
}

func TestResultsLimitCap(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.createJob(t, "j")
	const pages = 1001
	for i := range pages {
		if err := b.store.SavePage(ctx, "j", page(i, tasks.PageDone)); err != nil {
			t.Fatalf("SavePage(%d): %v", i, err)
		}
	}
	rs, more, err := b.store.Results(ctx, "j", -1, 5000)
	if err != nil || len(rs) != 1000 || !more || rs[999].Index != 999 {
		t.Fatalf("Results(-1, 5000) = %d results, more %v, %v; want the first 1000 and more", len(rs), more, err)
	}
	rs, more, err = b.store.Results(ctx, "j", 999, 5000)
	if err != nil || len(rs) != 1 || more || rs[0].Index != 1000 {
		t.Errorf("Results(999, 5000) = %d results, more %v, %v; want page 1000 alone", len(rs), more, err)
	}
}
