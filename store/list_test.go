package store_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
)

// listQuery is one ListJobs call's arguments.
type listQuery struct {
	Status tasks.Status
	Limit  int
	Cursor string
}

// listAll pages through ListJobs with q and returns the ids in order.
func listAll(tb testing.TB, s *store.Redis, q listQuery) (ids []string, pages int) {
	tb.Helper()
	for {
		jobs, next, err := s.ListJobs(context.Background(), "", q.Status, q.Limit, q.Cursor)
		if err != nil {
			tb.Fatalf("ListJobs(%+v): %v", q, err)
		}
		pages++
		for _, j := range jobs {
			ids = append(ids, j.ID)
		}
		if next == "" {
			return ids, pages
		}
		if pages > 100 {
			tb.Fatal("ListJobs never ends")
		}
		q.Cursor = next
	}
}

func TestListJobs(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// Jobs j00..j29: every three share a creation millisecond, so pages
	// must split ties; every third one is failed.
	var newestFirst, failedNewestFirst []string
	for i := range 30 {
		id := fmt.Sprintf("j%02d", i)
		j := &tasks.Job{ID: id, Kind: tasks.KindDocument, CreatedAt: base.Add(time.Duration(i/3) * time.Millisecond)}
		if err := b.store.CreateJob(ctx, j, ""); err != nil {
			t.Fatalf("CreateJob: %v", err)
		}
		if i%3 == 0 {
			if _, err := b.store.FinishJob(ctx, id, tasks.StatusFailed, tasks.CodeInternal, "x"); err != nil {
				t.Fatalf("FinishJob: %v", err)
			}
		}
	}
	for i := 29; i >= 0; i-- {
		id := fmt.Sprintf("j%02d", i)
		newestFirst = append(newestFirst, id)
		if i%3 == 0 {
			failedNewestFirst = append(failedNewestFirst, id)
		}
	}

	tests := []struct {
		q         listQuery
		want      []string
		wantPages int
	}{
		{listQuery{}, newestFirst, 1},
		{listQuery{Limit: 4}, newestFirst, 8},
		{listQuery{Limit: 1}, newestFirst, 30},
		{listQuery{Limit: 10}, newestFirst, 3},
		{listQuery{Status: tasks.StatusFailed, Limit: 3}, failedNewestFirst, 4},
		{listQuery{Status: tasks.StatusFailed}, failedNewestFirst, 1},
		{listQuery{Status: tasks.StatusSucceeded}, nil, 1},
	}
	for _, tt := range tests {
		got, pages := listAll(t, b.store, tt.q)
		if !reflect.DeepEqual(got, tt.want) || pages != tt.wantPages {
			t.Errorf("ListJobs(%+v) = %v in %d pages; want %v in %d", tt.q, got, pages, tt.want, tt.wantPages)
		}
	}
}

func TestListJobsPrunesExpired(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		b.createJob(t, id)
	}
	// As if b's retention had passed.
	if err := b.client.Del(ctx, "mmq:job:{b}").Err(); err != nil {
		t.Fatal(err)
	}
	jobs, next, err := b.store.ListJobs(ctx, "", "", 0, "")
	if err != nil || next != "" || len(jobs) != 2 {
		t.Fatalf("ListJobs = %d jobs, %q, %v; want 2 on one page", len(jobs), next, err)
	}
	members, err := b.client.ZRange(ctx, "mmq:jobs", 0, -1).Result()
	if err != nil || len(members) != 2 {
		t.Errorf("jobs index = %v, %v; want b pruned", members, err)
	}
}

func TestListJobsInvalid(t *testing.T) {
	b := setup(t)
	for _, q := range []listQuery{{Status: "sleeping"}, {Cursor: "!!"}, {Cursor: "bm8tY29sb24"}} {
		if _, _, err := b.store.ListJobs(context.Background(), "", q.Status, q.Limit, q.Cursor); tasks.ErrorCode(err) != tasks.CodeInvalidRequest {
			t.Errorf("ListJobs(%+v) = %v; want code invalid_request", q, err)
		}
	}
}
