package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/tasks"
)

func TestUnknownJob(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	_, err := b.client.Job(ctx, "no-such-job")
	wantAPIError(t, err, http.StatusNotFound, tasks.CodeNotFound)
	_, _, err = b.client.Results(ctx, "no-such-job", "", 0)
	wantAPIError(t, err, http.StatusNotFound, tasks.CodeNotFound)
	_, err = b.client.Job(ctx, string(make([]byte, 200)))
	wantAPIError(t, err, http.StatusNotFound, tasks.CodeNotFound)
}

func TestResultsPaging(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	job, err := b.client.SubmitURL(ctx, "https://example.com/a.pdf", client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs, next, err := b.client.Results(ctx, job.ID, "", 2)
	if err != nil || len(rs) != 0 || next != "" {
		t.Fatalf("results before any page: %v, %q, %v", rs, next, err)
	}
	// Pages saved out of order come back in index order.
	for _, i := range []int{5, 1, 3, 2, 4} {
		r := tasks.PageResult{Index: i, Status: tasks.PageDone, Attempts: 1, Output: []byte(`{"page":` + strconv.Itoa(i) + `}`), FinishedAt: time.Now()}
		if i == 4 {
			r.Status, r.ErrorCode, r.ErrorMessage = tasks.PageFailed, tasks.CodeProviderFailed, "provider down"
		}
		if err := b.store.SavePage(ctx, job.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	var pages [][]int
	cursor := ""
	for {
		rs, next, err := b.client.Results(ctx, job.ID, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		var idx []int
		for _, r := range rs {
			idx = append(idx, r.Index)
		}
		pages = append(pages, idx)
		if next == "" {
			break
		}
		cursor = next
	}
	if got, want := pages, [][]int{{1, 2}, {3, 4}, {5}}; !equalPages(got, want) {
		t.Errorf("pages %v, want %v", got, want)
	}
	all, err := b.client.AllResults(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 || all[3].Status != tasks.PageFailed || all[3].ErrorCode != tasks.CodeProviderFailed || string(all[0].Output) != `{"page":1}` {
		t.Errorf("all results %+v", all)
	}
	if j := mustJob(t, b, job.ID); j.PagesDone != 4 || j.PagesFailed != 1 {
		t.Errorf("job counts done %d failed %d, want 4 and 1", j.PagesDone, j.PagesFailed)
	}

	for _, q := range []string{"cursor=x", "cursor=-1", "cursor=1.5", "limit=0", "limit=1001", "limit=two"} {
		resp, data := b.do(t, http.MethodGet, "/v1/jobs/"+job.ID+"/results?"+q, "", nil)
		wantAPIError(t, decodeAPIError(resp, data), http.StatusBadRequest, tasks.CodeInvalidRequest)
	}
	resp, data := b.do(t, http.MethodGet, "/v1/jobs/"+job.ID+"/results?cursor=4&limit=5", "", nil)
	if resp.StatusCode != http.StatusOK || string(data) != `{"job_id":"`+job.ID+`","status":"queued","results":[`+string(mustMarshal(t, all[4]))+`]}`+"\n" {
		t.Errorf("last page: %d %s", resp.StatusCode, data)
	}
}

func TestListJobs(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	var ids []string
	for range 3 {
		job, err := b.client.SubmitURL(ctx, "https://example.com/a.pdf", client.SubmitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, job.ID)
	}
	if _, err := b.store.FinishJob(ctx, ids[1], tasks.StatusFailed, tasks.CodeFetchFailed, "404 from origin"); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		status tasks.Status
		want   []string
	}{
		{"", []string{ids[2], ids[1], ids[0]}},
		{tasks.StatusQueued, []string{ids[2], ids[0]}},
		{tasks.StatusFailed, []string{ids[1]}},
		{tasks.StatusSucceeded, nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			// One job a page, to follow the cursor.
			var got []string
			cursor := ""
			for {
				jobs, next, err := b.client.Jobs(ctx, tt.status, cursor, 1)
				if err != nil {
					t.Fatal(err)
				}
				for _, j := range jobs {
					got = append(got, j.ID)
				}
				if next == "" {
					break
				}
				cursor = next
			}
			if !equalStrings(got, tt.want) {
				t.Errorf("jobs %v, want %v", got, tt.want)
			}
		})
	}

	_, _, err := b.client.Jobs(ctx, "done", "", 0)
	wantAPIError(t, err, http.StatusBadRequest, tasks.CodeInvalidRequest)
	_, _, err = b.client.Jobs(ctx, "", "not-a-cursor!", 0)
	wantAPIError(t, err, http.StatusBadRequest, tasks.CodeInvalidRequest)
	resp, data := b.do(t, http.MethodGet, "/v1/jobs?limit=501", "", nil)
	wantAPIError(t, decodeAPIError(resp, data), http.StatusBadRequest, tasks.CodeInvalidRequest)
}

func TestNotifications(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	ns, last, err := b.client.Notifications(ctx, "", 0, 0)
	if err != nil || len(ns) != 0 || last != "0" {
		t.Fatalf("empty stream: %v, %q, %v", ns, last, err)
	}
	job, err := b.client.SubmitURL(ctx, "https://example.com/a.pdf", client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.FinishJob(ctx, job.ID, tasks.StatusFailed, tasks.CodeFetchFailed, "gone"); err != nil {
		t.Fatal(err)
	}
	ns, last, err = b.client.Notifications(ctx, "", 0, 0)
	if err != nil || len(ns) != 1 || ns[0].JobID != job.ID || ns[0].Event != "job.failed" || last != ns[0].StreamID {
		t.Fatalf("notifications %+v, last %q, %v", ns, last, err)
	}

	// A long poll returns as soon as the next notification arrives.
	job2, err := b.client.SubmitURL(ctx, "https://example.com/b.pdf", client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type poll struct {
		ns   []tasks.Notification
		last string
		err  error
	}
	got := make(chan poll, 1)
	go func() {
		ns, last, err := b.client.Notifications(ctx, last, 0, 20*time.Second)
		got <- poll{ns, last, err}
	}()
	if _, err := b.store.FinishJob(ctx, job2.ID, tasks.StatusCanceled, tasks.CodeCanceled, ""); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if p.err != nil || len(p.ns) != 1 || p.ns[0].JobID != job2.ID || p.last != p.ns[0].StreamID {
			t.Fatalf("long poll: %+v", p)
		}
		last = p.last
	case <-time.After(10 * time.Second):
		t.Fatal("long poll did not return")
	}

	// With nothing new, a short poll returns empty and keeps the id.
	ns, again, err := b.client.Notifications(ctx, last, 0, 50*time.Millisecond)
	if err != nil || len(ns) != 0 || again != last {
		t.Errorf("short poll: %v, %q (want %q), %v", ns, again, last, err)
	}

	for _, q := range []string{"after=$", "after=abc", "wait=-1s", "wait=soon", "limit=0"} {
		resp, data := b.do(t, http.MethodGet, "/v1/notifications?"+q, "", nil)
		wantAPIError(t, decodeAPIError(resp, data), http.StatusBadRequest, tasks.CodeInvalidRequest)
	}
}

func equalPages(a, b [][]int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
