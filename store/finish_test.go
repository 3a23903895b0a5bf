package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/mmq/mmq/tasks"
)

func TestFinishJob(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	j := &tasks.Job{ID: "j", Kind: tasks.KindDocument, Metadata: json.RawMessage(`{"k":"v"}`)}
	if err := b.store.CreateJob(ctx, j, "pw"); err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	if _, err := b.store.StartJob(ctx, "j"); err != nil {
		t.Fatalf("StartJob: %v", err)
	}
	if err := b.store.SetPagesTotal(ctx, "j", 3); err != nil {
		t.Fatalf("SetPagesTotal: %v", err)
	}
	for i, status := range []tasks.PageStatus{tasks.PageDone, tasks.PageDone, tasks.PageFailed} {
		if err := b.store.SavePage(ctx, "j", page(i+1, status)); err != nil {
			t.Fatalf("SavePage: %v", err)
		}
	}

	ended, err := b.store.FinishJob(ctx, "j", tasks.StatusPartiallySucceeded, tasks.CodePagesFailed, "1 of 3 pages failed")
	if err != nil {
		t.Fatalf("FinishJob: %v", err)
	}
	if ended.Status != tasks.StatusPartiallySucceeded || ended.ErrorCode != tasks.CodePagesFailed ||
		ended.ErrorMessage != "1 of 3 pages failed" || ended.FinishedAt == nil || ended.PagesDone != 2 || ended.PagesFailed != 1 {
		t.Errorf("FinishJob = %+v", ended)
	}
	if got := b.getJob(t, "j"); !got.FinishedAt.Equal(*ended.FinishedAt) || got.Status != ended.Status || got.ErrorMessage != ended.ErrorMessage {
		t.Errorf("GetJob after FinishJob = %+v; want %+v", got, ended)
	}

	again, err := b.store.FinishJob(ctx, "j", tasks.StatusFailed, tasks.CodeInternal, "late")
	if err != nil {
		t.Fatalf("second FinishJob: %v", err)
	}
	if again.Status != tasks.StatusPartiallySucceeded || !again.FinishedAt.Equal(*ended.FinishedAt) {
		t.Errorf("second FinishJob = %+v; want the job unchanged", again)
	}

	ns, err := b.store.Notifications(ctx, "", "", 10, 0)
	if err != nil {
		t.Fatalf("Notifications: %v", err)
	}
	if len(ns) != 1 {
		t.Fatalf("got %d notifications; want 1", len(ns))
	}
	want := tasks.NewNotification(ended)
	want.StreamID = ns[0].StreamID
	if got, _ := json.Marshal(ns[0]); string(got) != string(must(json.Marshal(want))) {
		t.Errorf("notification = %s; want %s", got, must(json.Marshal(want)))
	}
	if ns[0].StreamID == "" {
		t.Error("notification has no StreamID")
	}

	if pw, err := b.store.Password(ctx, "j"); err != nil || pw != "" {
		t.Errorf("Password after the end = %q, %v; want it deleted", pw, err)
	}
	for _, key := range []string{"mmq:job:{j}", "mmq:job:{j}:results", "mmq:job:{j}:idx", "mmq:job:{j}:done", "mmq:job:{j}:failed"} {
		ttl, err := b.client.TTL(ctx, key).Result()
		if err != nil || ttl <= 0 || ttl > 7*24*time.Hour {
			t.Errorf("TTL(%s) = %v, %v; want within the 7 days retention", key, ttl, err)
		}
	}
}

func TestFinishJobNotFinal(t *testing.T) {
	b := setup(t)
	b.createJob(t, "j")
	_, err := b.store.FinishJob(context.Background(), "j", tasks.StatusProcessing, "", "")
	if tasks.ErrorCode(err) != tasks.CodeInvalidRequest {
		t.Errorf("FinishJob(processing) = %v; want code invalid_request", err)
	}
}

// TestFinishJobRacesSavePage checks that the notification carries the
// counts of the pages saved while FinishJob runs.
func TestFinishJobRacesSavePage(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.createJob(t, "j")
	const pages = 200
	saved := make(chan error)
	go func() {
		for i := range pages {
			if err := b.store.SavePage(ctx, "j", page(i, tasks.PageDone)); err != nil {
				saved <- err
				return
			}
		}
		saved <- nil
	}()
	ended, err := b.store.FinishJob(ctx, "j", tasks.StatusSucceeded, "", "")
	if err != nil {
		t.Fatalf("FinishJob: %v", err)
	}
	if err := <-saved; err != nil {
		t.Fatalf("SavePage: %v", err)
	}
	ns, err := b.store.Notifications(ctx, "", "", 10, 0)
	if err != nil || len(ns) != 1 {
		t.Fatalf("Notifications = %v, %v; want one", ns, err)
	}
	if got := b.getJob(t, "j"); got.PagesDone != ended.PagesDone || ns[0].PagesDone != ended.PagesDone {
		t.Errorf("pages done: record %d, FinishJob %d, notification %d; want all equal", got.PagesDone, ended.PagesDone, ns[0].PagesDone)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestEndJob ends jobs in the state their page counts give, in one step.
func TestEndJob(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	tests := []struct {
		pages   []tasks.PageStatus
		status  tasks.Status
		code    tasks.Code
		message string
	}{
		{[]tasks.PageStatus{tasks.PageDone, tasks.PageDone}, tasks.StatusSucceeded, "", ""},
		{[]tasks.PageStatus{tasks.PageFailed, tasks.PageFailed}, tasks.StatusFailed, tasks.CodePagesFailed, "all 2 pages failed"},
		{[]tasks.PageStatus{tasks.PageDone, tasks.PageFailed, tasks.PageDone}, tasks.StatusPartiallySucceeded, tasks.CodePagesFailed, "1 of 3 pages failed"},
	}
	for i, tt := range tests {
		id := fmt.Sprintf("end-%d", i)
		b.createJob(t, id)
		if _, err := b.store.StartJob(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := b.store.SetPagesTotal(ctx, id, len(tt.pages)); err != nil {
			t.Fatal(err)
		}
		for n, st := range tt.pages {
			if err := b.store.SavePage(ctx, id, page(n+1, st)); err != nil {
				t.Fatal(err)
			}
		}
		j, err := b.store.EndJob(ctx, id)
		if err != nil {
			t.Fatalf("EndJob(%s): %v", id, err)
		}
		if j.Status != tt.status || j.ErrorCode != tt.code || j.ErrorMessage != tt.message || j.FinishedAt == nil {
			t.Errorf("EndJob(%s) = %s %s %q; want %s %s %q", id, j.Status, j.ErrorCode, j.ErrorMessage, tt.status, tt.code, tt.message)
		}
		if got := b.getJob(t, id); got.Status != tt.status || got.ErrorMessage != tt.message {
			t.Errorf("GetJob(%s) after EndJob = %s %q", id, got.Status, got.ErrorMessage)
		}
		// A job already ended stays as it is.
		again, err := b.store.EndJob(ctx, id)
		if err != nil || again.Status != tt.status || !again.FinishedAt.Equal(*j.FinishedAt) {
			t.Errorf("second EndJob(%s) = %+v, %v; want the job unchanged", id, again, err)
		}
	}
	ns, err := b.store.Notifications(ctx, "", "", 10, 0)
	if err != nil || len(ns) != len(tests) {
		t.Fatalf("%d notifications, %v; want %d", len(ns), err, len(tests))
	}
	for i, n := range ns {
		if n.Status != tests[i].status || n.ErrorCode != tests[i].code {
			t.Errorf("notification %d = %s %s; want %s %s", i, n.Status, n.ErrorCode, tests[i].status, tests[i].code)
		}
	}
	if _, err := b.store.EndJob(ctx, "missing"); tasks.ErrorCode(err) != tasks.CodeNotFound {
		t.Errorf("EndJob of a missing job: %v; want not_found", err)
	}
}

// TestFinishJobPrunesJobsIndex shows the jobs index bounded: entries older
// than the retention whose record has expired go as jobs end, up to two per
// end, while an old job still live keeps its entry. Each end looks at two
// neighbouring old entries, at most one of them the live one, so 10 ends
// are sure to drop the 10 expired entries.
func TestFinishJobPrunesJobsIndex(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	old := time.Now().Add(-8 * 24 * time.Hour) // before the 7 days of retention
	for i := range 10 {
		id := fmt.Sprintf("expired-%d", i)
		if err := b.store.CreateJob(ctx, &tasks.Job{ID: id, Kind: tasks.KindDocument, CreatedAt: old}, ""); err != nil {
			t.Fatal(err)
		}
		b.client.Del(ctx, "mmq:job:{"+id+"}") // what its TTL does in production
	}
	if err := b.store.CreateJob(ctx, &tasks.Job{ID: "old-but-queued", Kind: tasks.KindDocument, CreatedAt: old}, ""); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		id := fmt.Sprintf("new-%d", i)
		b.createJob(t, id)
		if _, err := b.store.FinishJob(ctx, id, tasks.StatusSucceeded, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := b.client.ZRange(ctx, "mmq:jobs", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"old-but-queued"}
	for i := range 10 {
		want = append(want, fmt.Sprintf("new-%d", i))
	}
	if !slices.Equal(ids, want) {
		t.Errorf("jobs index after 10 ends = %v; want %v", ids, want)
	}
}

// TestSaveLastPage saves a job's pages, the last with SaveLastPage: it ends
// the job in the state EndJob gives once every page has an outcome, and
// only then.
func TestSaveLastPage(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	tests := []struct {
		pages   []tasks.PageStatus
		status  tasks.Status
		message string
	}{
		{[]tasks.PageStatus{tasks.PageDone}, tasks.StatusSucceeded, ""},
		{[]tasks.PageStatus{tasks.PageFailed, tasks.PageFailed}, tasks.StatusFailed, "all 2 pages failed"},
		{[]tasks.PageStatus{tasks.PageDone, tasks.PageFailed, tasks.PageDone}, tasks.StatusPartiallySucceeded, "1 of 3 pages failed"},
	}
	for i, tt := range tests {
		id := fmt.Sprintf("last-%d", i)
		b.createJob(t, id)
		if _, err := b.store.StartJob(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := b.store.SetPagesTotal(ctx, id, len(tt.pages)); err != nil {
			t.Fatal(err)
		}
		n := len(tt.pages)
		for k, st := range tt.pages[:n-1] {
			if err := b.store.SavePage(ctx, id, page(k+1, st)); err != nil {
				t.Fatal(err)
			}
		}
		j, err := b.store.SaveLastPage(ctx, id, page(n, tt.pages[n-1]))
		if err != nil || j == nil {
			t.Fatalf("SaveLastPage(%s) = %v, %v; want the ended job", id, j, err)
		}
		if j.Status != tt.status || j.ErrorMessage != tt.message || j.FinishedAt == nil || j.PagesDone+j.PagesFailed != n {
			t.Errorf("SaveLastPage(%s) = %+v; want %s %q", id, j, tt.status, tt.message)
		}
		if got := b.getJob(t, id); got.Status != tt.status || got.ErrorMessage != tt.message {
			t.Errorf("GetJob(%s) = %s %q", id, got.Status, got.ErrorMessage)
		}
		rs, _, err := b.store.Results(ctx, id, -1, 10)
		if err != nil || len(rs) != n {
			t.Errorf("Results(%s) = %d results, %v; want %d", id, len(rs), err, n)
		}
		// Once ended, the job takes no result and ends no more.
		if j, err := b.store.SaveLastPage(ctx, id, page(n, tasks.PageDone)); err != nil || j != nil {
			t.Errorf("SaveLastPage after the end = %v, %v; want nil, nil", j, err)
		}
	}
	ns, err := b.store.Notifications(ctx, "", "", 10, 0)
	if err != nil || len(ns) != len(tests) {
		t.Fatalf("%d notifications, %v; want %d", len(ns), err, len(tests))
	}

	// A page that leaves another without outcome saves and does not end.
	b.createJob(t, "open")
	if _, err := b.store.StartJob(ctx, "open"); err != nil {
		t.Fatal(err)
	}
	if err := b.store.SetPagesTotal(ctx, "open", 2); err != nil {
		t.Fatal(err)
	}
	if j, err := b.store.SaveLastPage(ctx, "open", page(2, tasks.PageDone)); err != nil || j != nil {
		t.Errorf("SaveLastPage with a page left = %v, %v; want nil, nil", j, err)
	}
	if got := b.getJob(t, "open"); got.Status != tasks.StatusProcessing || got.PagesDone != 1 {
		t.Errorf("job after SaveLastPage with a page left = %s, %d done; want processing, 1", got.Status, got.PagesDone)
	}
	if _, err := b.store.SaveLastPage(ctx, "missing", page(1, tasks.PageDone)); tasks.ErrorCode(err) != tasks.CodeNotFound {
		t.Errorf("SaveLastPage of a missing job: %v; want not_found", err)
	}
	if _, err := b.store.SaveLastPage(ctx, "open", page(-1, tasks.PageDone)); tasks.ErrorCode(err) != tasks.CodeInvalidRequest {
		t.Errorf("SaveLastPage of a negative index: %v; want invalid_request", err)
	}
}

// TestEndCompactsEvents checks that ending a job rewrites its event stream
// compactly: the same events with the same ids, in less memory than the
// stream node Redis allocates, and with the retention's TTL.
func TestEndCompactsEvents(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.createJob(t, "ev")
	if _, err := b.store.StartJob(ctx, "ev"); err != nil {
		t.Fatal(err)
	}
	if err := b.store.SetPagesTotal(ctx, "ev", 1); err != nil {
		t.Fatal(err)
	}
	if err := b.store.SavePage(ctx, "ev", page(1, tasks.PageDone)); err != nil {
		t.Fatal(err)
	}
	before, err := b.store.JobEvents(ctx, "ev", "", 0)
	if err != nil || len(before) != 2 {
		t.Fatalf("events before the end: %d, %v; want 2", len(before), err)
	}
	key := "mmq:job:{ev}:events"
	grown, _ := b.client.MemoryUsage(ctx, key).Result()
	if _, err := b.store.EndJob(ctx, "ev"); err != nil {
		t.Fatal(err)
	}
	after, err := b.store.JobEvents(ctx, "ev", "", 0)
	if err != nil || len(after) != 3 || !after[2].Final() {
		t.Fatalf("events after the end: %+v, %v; want 3, the last final", after, err)
	}
	for i := range before {
		if after[i].ID != before[i].ID || string(after[i].Data) != string(before[i].Data) {
			t.Errorf("event %d after the end = %+v; want %+v", i, after[i], before[i])
		}
	}
	// Reading on from the last id before the end gives the final event.
	if evs, err := b.store.JobEvents(ctx, "ev", before[1].ID, 0); err != nil || len(evs) != 1 || !evs[0].Final() {
		t.Errorf("events after %s = %+v, %v; want the final one", before[1].ID, evs, err)
	}
	if ttl, err := b.client.TTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl > 7*24*time.Hour {
		t.Errorf("TTL of the events = %v, %v; want the retention", ttl, err)
	}
	if n, _ := b.client.Exists(ctx, key+":compact").Result(); n != 0 {
		t.Error("the scratch key of the compaction outlived the end")
	}
	// Only a real Redis preallocates stream nodes.
	if compact, err := b.client.MemoryUsage(ctx, key).Result(); err == nil && grown > 0 && os.Getenv("MMQ_TEST_EMBEDDED") == "" && compact >= grown {
		t.Errorf("events take %d B after the end, %d B before; want less", compact, grown)
	}
}
