package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
)

// usedMemory returns Redis's used_memory in bytes.
func (b testBundle) usedMemory(tb testing.TB) int64 {
	tb.Helper()
	info, err := b.client.InfoMap(context.Background(), "memory").Result()
	if err != nil {
		tb.Fatal(err)
	}
	var n int64
	if _, err := fmt.Sscan(info["Memory"]["used_memory"], &n); err != nil {
		tb.Fatalf("used_memory %q: %v", info["Memory"]["used_memory"], err)
	}
	return n
}

// TestBatchMetadataStoredOnce replays the review's batch: 10,000 jobs
// sharing 16 KiB of metadata added 175 MiB to Redis, the metadata copied
// onto every job. It is now stored once, on the batch, and every reader
// still sees it on each job and notification.
func TestBatchMetadataStoredOnce(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	meta, _ := json.Marshal(map[string]string{"blob": strings.Repeat("m", 16<<10)})
	const n = 10000
	jobs := make([]*tasks.Job, n)
	for i := range jobs {
		jobs[i] = &tasks.Job{ID: fmt.Sprintf("mb-%05d", i), Kind: tasks.KindDocument,
			SourceURL: fmt.Sprintf("https://example.com/doc-%05d.pdf", i), Metadata: meta}
	}
	// One job has its own metadata, which it keeps.
	own := json.RawMessage(`{"own":true}`)
	jobs[7].Metadata = own
	before := b.usedMemory(t)
	if err := b.store.CreateBatch(ctx, &tasks.Batch{ID: "mb", Metadata: meta}, jobs); err != nil {
		t.Fatal(err)
	}
	added := b.usedMemory(t) - before
	t.Logf("a %d-job batch with %d bytes of shared metadata added %.1f MiB to Redis", n, len(meta), float64(added)/(1<<20))
	if added > 32<<20 {
		t.Errorf("the batch added %d MiB to Redis, want at most 32 (the metadata once, not %d times)", added>>20, n)
	}
	if string(jobs[0].Metadata) != string(meta) {
		t.Error("CreateBatch changed the caller's job")
	}

	if j := b.getJob(t, "mb-00001"); string(j.Metadata) != string(meta) {
		t.Errorf("GetJob metadata is %d bytes, want the batch's %d", len(j.Metadata), len(meta))
	}
	if j := b.getJob(t, "mb-00007"); string(j.Metadata) != string(own) {
		t.Errorf("GetJob metadata of the job with its own = %s, want %s", j.Metadata, own)
	}
	list, _, err := b.store.ListJobs(ctx, "", "", 20, "")
	if err != nil || len(list) != 20 {
		t.Fatalf("ListJobs = %d jobs, %v", len(list), err)
	}
	for _, j := range list {
		if want := map[bool]string{true: string(own), false: string(meta)}[j.ID == "mb-00007"]; string(j.Metadata) != want {
			t.Errorf("ListJobs: job %s metadata is %d bytes, want %d", j.ID, len(j.Metadata), len(want))
		}
	}
	page, _, err := b.store.BatchJobs(ctx, "mb", 0, 10)
	if err != nil || len(page) != 10 || string(page[3].Metadata) != string(meta) || string(page[7].Metadata) != string(own) {
		t.Fatalf("BatchJobs: %d jobs, %v", len(page), err)
	}
	if _, err := b.store.StartJob(ctx, "mb-00002"); err != nil {
		t.Fatal(err)
	}
	ended, err := b.store.FinishJob(ctx, "mb-00002", tasks.StatusFailed, tasks.CodeInvalidPDF, "bad")
	if err != nil || string(ended.Metadata) != string(meta) {
		t.Fatalf("FinishJob: metadata %d bytes, %v", len(ended.Metadata), err)
	}
	ns, err := b.store.Notifications(ctx, "", "", 10, 0)
	if err != nil || len(ns) != 1 || string(ns[0].Metadata) != string(meta) || ns[0].JobID != "mb-00002" {
		t.Fatalf("Notifications = %+v, %v; want the job's with the batch's metadata", ns, err)
	}
}

// TestNotificationEntriesSmall: a notification entry holds what a
// notification shows, not the job's options, callback URL or error
// message, and the stream is trimmed by age as well as by count.
func TestNotificationEntriesSmall(t *testing.T) {
	client := redistest.New(t, redistest.DBStore)
	s, err := store.New(client, store.Config{NotificationsMaxAge: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	long := strings.Repeat("x", 32<<10)
	end := func(id string) {
		t.Helper()
		j := &tasks.Job{ID: id, Kind: tasks.KindDocument, CallbackURL: "https://example.com/hook?" + long,
			Options: tasks.Options{Instructions: long}}
		if err := s.CreateJob(ctx, j, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FinishJob(ctx, id, tasks.StatusFailed, tasks.CodeInvalidPDF, long); err != nil {
			t.Fatal(err)
		}
	}
	end("old")
	entries, err := client.XRange(ctx, "mmq:notifications", "-", "+").Result()
	if err != nil || len(entries) != 1 {
		t.Fatalf("stream: %d entries, %v", len(entries), err)
	}
	size := 0
	for k, v := range entries[0].Values {
		size += len(k) + len(v.(string))
	}
	if size > 1024 {
		t.Errorf("a notification entry is %d bytes (fields %v), want at most 1 KiB", size, keys(entries[0].Values))
	}
	// Past the age, the next end trims the old entries. The trim is
	// approximate: it drops whole stream nodes (100 entries by default),
	// so the old entries fill one.
	for i := range 120 {
		end(fmt.Sprintf("old-%d", i))
	}
	time.Sleep(2100 * time.Millisecond)
	end("new")
	ns, err := s.Notifications(ctx, "", "", 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 122 entries: the first node (about 100 entries, all old) goes.
	if len(ns) > 30 || len(ns) == 0 || ns[0].JobID == "old" || ns[len(ns)-1].JobID != "new" {
		t.Fatalf("%d notifications left, first %s; want the first node (about 100 entries, all old) trimmed, about 22 left ending with new", len(ns), ns[0].JobID)
	}
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestPasswordTTL: a queued job's password has a TTL, and goes when the job
// ends.
func TestPasswordTTL(t *testing.T) {
	client := redistest.New(t, redistest.DBStore)
	s, err := store.New(client, store.Config{PasswordTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.CreateJob(ctx, &tasks.Job{ID: "pw", Kind: tasks.KindDocument}, "s3cret"); err != nil {
		t.Fatal(err)
	}
	ttl, err := client.PTTL(ctx, "mmq:job:{pw}:secret").Result()
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Fatalf("password TTL = %v, %v; want (0, 1h]", ttl, err)
	}
	if _, err := s.FinishJob(ctx, "pw", tasks.StatusCanceled, tasks.CodeCanceled, "canceled"); err != nil {
		t.Fatal(err)
	}
	if pw, err := s.Password(ctx, "pw"); err != nil || pw != "" {
		t.Errorf("Password after the end = %q, %v; want none", pw, err)
	}
}

// TestPageResultCap: a result over Config.MaxPageResultBytes is stored as
// a failed page with CodeResultTooLarge, not as megabytes in a hash.
func TestPageResultCap(t *testing.T) {
	client := redistest.New(t, redistest.DBStore)
	s, err := store.New(client, store.Config{MaxPageResultBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.CreateJob(ctx, &tasks.Job{ID: "big", Kind: tasks.KindDocument}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartJob(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPagesTotal(ctx, "big", 2); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(map[string]string{"text": strings.Repeat("y", 100<<10)})
	small, _ := json.Marshal(map[string]string{"text": "fits"})
	for i, o := range []json.RawMessage{out, small} {
		if err := s.SavePage(ctx, "big", tasks.PageResult{Index: i + 1, Status: tasks.PageDone, Output: o, FinishedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	rs, _, err := s.Results(ctx, "big", 0, 10)
	if err != nil || len(rs) != 2 {
		t.Fatalf("Results = %d, %v", len(rs), err)
	}
	if rs[0].Status != tasks.PageFailed || rs[0].ErrorCode != tasks.CodeResultTooLarge || len(rs[0].Output) != 0 {
		t.Errorf("page 1 = %s %s (%d bytes of output), want failed with %s", rs[0].Status, rs[0].ErrorCode, len(rs[0].Output), tasks.CodeResultTooLarge)
	}
	if rs[1].Status != tasks.PageDone || string(rs[1].Output) != string(small) {
		t.Errorf("page 2 = %s %s, want done with its output", rs[1].Status, rs[1].Output)
	}
	if n, _ := client.MemoryUsage(ctx, "mmq:job:{big}:results").Result(); n > 32<<10 {
		t.Errorf("the results hash takes %d bytes, want a few KiB", n)
	}
	j, err := s.GetJob(ctx, "big")
	if err != nil || j.PagesFailed != 1 || j.PagesDone != 1 {
		t.Errorf("counts = %d done, %d failed, %v; want 1 and 1", j.PagesDone, j.PagesFailed, err)
	}
}
