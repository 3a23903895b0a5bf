package store_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/internal/testwait"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
)

// blobBundle is a store that deletes from local blobs.
type blobBundle struct {
	testBundle
	blobs *fsblob.Blobs
	dir   string
}

// setupBlobs returns a store whose Config.Blobs is a fresh fsblob.Blobs,
// with retention.
func setupBlobs(t *testing.T, retention time.Duration) blobBundle {
	t.Helper()
	client := redistest.New(t, redistest.DBStore)
	dir := t.TempDir()
	blobs, err := fsblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.New(client, store.Config{Retention: retention, Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	return blobBundle{testBundle: testBundle{store: s, client: client}, blobs: blobs, dir: dir}
}

// shared are the keys that may outlive a job, being its tenant's or the
// deployment's rather than its own: notification streams, stats counters
// and quota counters (active jobs, pages of the day, spending).
var shared = regexp.MustCompile(`^mmq:(tenant:[^:]+:)?(notifications|stats:.*|active|pages:[0-9-]+|spent)$`)

// jobKeys returns the keys of the test DB that are not shared.
func (b blobBundle) jobKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	iter := b.client.Scan(context.Background(), 0, "*", 1000).Iterator()
	for iter.Next(context.Background()) {
		if !shared.MatchString(iter.Val()) {
			keys = append(keys, iter.Val())
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// files returns the files under the blob directory.
func (b blobBundle) files(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(b.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// submit stores data as the API does (reference first, then the blob) and
// a job of tenant using it, with a password.
func (b blobBundle) submit(t *testing.T, id string, data []byte, batchID string) *tasks.Job {
	t.Helper()
	ctx := context.Background()
	key := tasks.BlobKey(data)
	if err := b.store.RefBlob(ctx, key, id); err != nil {
		t.Fatal(err)
	}
	if _, err := b.blobs.Put(ctx, data); err != nil {
		t.Fatal(err)
	}
	j := &tasks.Job{ID: id, Kind: tasks.KindDocument, Tenant: "acme", BlobKey: key, PagesTotal: 1}
	if batchID != "" {
		return j
	}
	if err := b.store.CreateJob(ctx, j, "secret"); err != nil {
		t.Fatal(err)
	}
	return j
}

// run processes job id to its end, with a delivery logged.
func (b blobBundle) run(t *testing.T, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.store.StartJob(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.SaveLastPage(ctx, id, tasks.PageResult{Index: 1, Status: tasks.PageDone}); err != nil {
		t.Fatal(err)
	}
	if err := b.store.AppendDelivery(ctx, tasks.DeliveryAttempt{WebhookID: "w", JobID: id}); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteJobLeavesNothing(t *testing.T) {
	b := setupBlobs(t, 0)
	ctx := context.Background()
	keep := b.submit(t, "keep", []byte("%PDF other"), "")
	before := b.jobKeys(t)

	j := b.submit(t, "gone", []byte("%PDF gone"), "")
	b.run(t, j.ID)
	if err := b.store.DeleteJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if after := b.jobKeys(t); !slices.Equal(after, before) {
		t.Errorf("keys after delete:\n%v\nwant those before the job:\n%v", after, before)
	}
	if files := b.files(t); len(files) != 1 {
		t.Errorf("blob files after delete: %v, want keep's alone", files)
	}
	if _, err := b.blobs.Get(ctx, keep.BlobKey); err != nil {
		t.Errorf("the other job's blob: %v", err)
	}
	if _, err := b.store.GetJob(ctx, j.ID); tasks.ErrorCode(err) != tasks.CodeNotFound {
		t.Errorf("GetJob after delete: %v, want not found", err)
	}
	if jobs, _, err := b.store.ListJobs(ctx, "acme", tasks.StatusSucceeded, 10, ""); err != nil || len(jobs) != 0 {
		t.Errorf("ListJobs(succeeded) = %d jobs, %v; want none", len(jobs), err)
	}
	if err := b.store.DeleteJob(ctx, j.ID); tasks.ErrorCode(err) != tasks.CodeNotFound {
		t.Errorf("second DeleteJob: %v, want not found", err)
	}
}

// Every write of a job's worker after the job is deleted is refused, and
// none brings a key back.
func TestWritesAfterDeleteRefused(t *testing.T) {
	b := setupBlobs(t, 0)
	ctx := context.Background()
	j := b.submit(t, "gone", []byte("%PDF gone"), "")
	if _, err := b.store.FinishJob(ctx, j.ID, tasks.StatusCanceled, tasks.CodeCanceled, "x"); err != nil {
		t.Fatal(err)
	}
	if err := b.store.DeleteJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	writes := map[string]func() error{
		"StartJob": func() error { _, err := b.store.StartJob(ctx, j.ID); return err },
		"SavePage": func() error {
			return b.store.SavePage(ctx, j.ID, tasks.PageResult{Index: 1, Status: tasks.PageDone})
		},
		"SaveLastPage": func() error {
			_, err := b.store.SaveLastPage(ctx, j.ID, tasks.PageResult{Index: 1, Status: tasks.PageDone})
			return err
		},
		"SetInput":       func() error { return b.store.SetInput(ctx, j.ID, j.BlobKey, 3) },
		"SetPagesTotal":  func() error { return b.store.SetPagesTotal(ctx, j.ID, 3) },
		"SetVideoPlan":   func() error { return b.store.SetVideoPlan(ctx, j.ID, tasks.VideoPlan{Frames: 2}) },
		"SetSummary":     func() error { return b.store.SetSummary(ctx, j.ID, []byte(`{}`)) },
		"SaveAnswer":     func() error { return b.store.SaveAnswer(ctx, j.ID, []byte(`{}`), tasks.Usage{}) },
		"FinishJob":      func() error { _, err := b.store.FinishJob(ctx, j.ID, tasks.StatusFailed, "", ""); return err },
		"EndJob":         func() error { _, err := b.store.EndJob(ctx, j.ID); return err },
		"ReopenJob":      func() error { _, err := b.store.ReopenJob(ctx, j.ID); return err },
		"AppendDelivery": func() error { return b.store.AppendDelivery(ctx, tasks.DeliveryAttempt{JobID: j.ID}) },
	}
	for name, write := range writes {
		if err := write(); tasks.ErrorCode(err) != tasks.CodeNotFound {
			t.Errorf("%s after delete: %v, want not found", name, err)
		}
	}
	if err := b.store.ThrottlePage(ctx, j.ID, 1, time.Second); err != nil {
		t.Errorf("ThrottlePage after delete: %v, want a no-op", err)
	}
	if keys := b.jobKeys(t); len(keys) != 0 {
		t.Errorf("keys after the writes: %v", keys)
	}
}

// Two jobs with the same file: deleting one leaves the other's input; the
// blob goes with the last.
func TestDeleteSharedBlob(t *testing.T) {
	b := setupBlobs(t, 0)
	ctx := context.Background()
	data := []byte("%PDF same")
	one, two := b.submit(t, "one", data, ""), b.submit(t, "two", data, "")
	b.run(t, one.ID)
	if err := b.store.DeleteJob(ctx, one.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := b.blobs.Get(ctx, two.BlobKey); err != nil || string(got) != string(data) {
		t.Fatalf("two's input after one's delete: %q, %v", got, err)
	}
	if n, err := b.store.SweepBlobs(ctx); err != nil || n != 0 {
		t.Fatalf("SweepBlobs = %d, %v; want 0 deleted", n, err)
	}
	b.run(t, two.ID)
	if err := b.store.DeleteJob(ctx, two.ID); err != nil {
		t.Fatal(err)
	}
	if keys, files := b.jobKeys(t), b.files(t); len(keys)+len(files) != 0 {
		t.Errorf("left behind: keys %v, files %v", keys, files)
	}
}

func TestDeleteActiveJobRefused(t *testing.T) {
	b := setupBlobs(t, 0)
	ctx := context.Background()
	j := b.submit(t, "busy", []byte("%PDF busy"), "")
	if _, err := b.store.StartJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	err := b.store.DeleteJob(ctx, j.ID)
	if tasks.ErrorCode(err) != tasks.CodeConflict || !errors.Is(err, store.ErrActive) {
		t.Fatalf("DeleteJob(processing) = %v, want a conflict wrapping ErrActive", err)
	}
	if _, err := b.store.GetJob(ctx, j.ID); err != nil {
		t.Errorf("the job after a refused delete: %v", err)
	}
}

func TestDeleteBatch(t *testing.T) {
	b := setupBlobs(t, 0)
	ctx := context.Background()
	data := []byte("%PDF batch")
	var jobs []*tasks.Job
	for _, id := range []string{"b1", "b2", "b3"} {
		jobs = append(jobs, b.submit(t, id, data, "batch"))
	}
	jobs = append(jobs, b.submit(t, "b4", []byte("%PDF own"), "batch"))
	if err := b.store.CreateBatch(ctx, &tasks.Batch{ID: "batch", Tenant: "acme"}, jobs); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs[:3] {
		b.run(t, j.ID)
	}
	err := b.store.DeleteBatch(ctx, "batch")
	if !errors.Is(err, store.ErrActive) {
		t.Fatalf("DeleteBatch with an active job = %v, want ErrActive", err)
	}
	b.run(t, "b4")
	if err := b.store.DeleteBatch(ctx, "batch"); err != nil {
		t.Fatal(err)
	}
	if keys, files := b.jobKeys(t), b.files(t); len(keys)+len(files) != 0 {
		t.Errorf("left behind: keys %v, files %v", keys, files)
	}
	if _, err := b.store.GetBatch(ctx, "batch"); tasks.ErrorCode(err) != tasks.CodeNotFound {
		t.Errorf("GetBatch after delete: %v", err)
	}
}

// Deleting a job of a batch takes it out of the batch's list and counts.
func TestDeleteJobOfBatch(t *testing.T) {
	b := setupBlobs(t, 0)
	ctx := context.Background()
	jobs := []*tasks.Job{b.submit(t, "x1", []byte("1"), "batch"), b.submit(t, "x2", []byte("2"), "batch")}
	if err := b.store.CreateBatch(ctx, &tasks.Batch{ID: "batch"}, jobs); err != nil {
		t.Fatal(err)
	}
	b.run(t, "x1")
	if err := b.store.DeleteJob(ctx, "x1"); err != nil {
		t.Fatal(err)
	}
	batch, err := b.store.GetBatch(ctx, "batch")
	if err != nil {
		t.Fatal(err)
	}
	if batch.Total != 1 || batch.Ended != 0 || batch.Counts[tasks.StatusSucceeded] != 0 {
		t.Errorf("batch after delete: total %d, ended %d, counts %v; want 1, 0, none", batch.Total, batch.Ended, batch.Counts)
	}
	got, _, err := b.store.BatchJobs(ctx, "batch", 0, 10)
	if err != nil || len(got) != 1 || got[0].ID != "x2" {
		t.Errorf("BatchJobs after delete = %v, %v; want x2", got, err)
	}
}

// After the jobs' retention, a sweep deletes their inputs and leaves no
// key of theirs.
func TestSweepAfterRetention(t *testing.T) {
	b := setupBlobs(t, time.Second)
	ctx := context.Background()
	data := []byte("%PDF expiring")
	for _, id := range []string{"e1", "e2"} {
		b.submit(t, id, data, "")
		b.run(t, id)
	}
	b.submit(t, "e3", []byte("%PDF other"), "")
	b.run(t, "e3")
	if n, err := b.store.SweepBlobs(ctx); err != nil || n != 0 {
		t.Fatalf("SweepBlobs before the retention = %d, %v; want 0", n, err)
	}
	deleted := 0
	testwait.Until(ctx, 10*time.Second, func() bool { // polling the store's own clock
		n, err := b.store.SweepBlobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		deleted += n
		return deleted >= 2
	})
	if deleted != 2 {
		t.Fatalf("sweeps deleted %d blobs, want 2", deleted)
	}
	// The jobs index entries go as they are swept (see ListJobs).
	if _, _, err := b.store.ListJobs(ctx, "acme", "", 10, ""); err != nil {
		t.Fatal(err)
	}
	if keys, files := b.jobKeys(t), b.files(t); len(keys)+len(files) != 0 {
		t.Errorf("left behind: keys %v, files %v", keys, files)
	}
}

// RefBlob waits while the blob is being deleted.
func TestRefBlobWaitsForDeletion(t *testing.T) {
	b := setupBlobs(t, 0)
	ctx := context.Background()
	key := tasks.BlobKey([]byte("x"))
	lock := "mmq:blob:{" + key + "}:lock"
	if err := b.client.Set(ctx, lock, "someone", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.store.RefBlob(ctx, key, "j") }()
	select {
	case err := <-done:
		t.Fatalf("RefBlob returned %v while the blob was locked", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := b.client.Del(ctx, lock).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RefBlob still waiting after the lock went")
	}
	if n, err := b.client.ZCard(ctx, "mmq:blob:{"+key+"}:refs").Result(); err != nil || n != 1 {
		t.Errorf("refs = %d, %v; want 1", n, err)
	}
}

// A job stored before references existed keeps its input.
func TestSweepLeavesUnreferencedOldJobs(t *testing.T) {
	b := setupBlobs(t, time.Second)
	ctx := context.Background()
	key, err := b.blobs.Put(ctx, []byte("old"))
	if err != nil {
		t.Fatal(err)
	}
	j := &tasks.Job{ID: "old", Kind: tasks.KindDocument, BlobKey: key}
	if err := b.store.CreateJob(ctx, j, ""); err != nil {
		t.Fatal(err)
	}
	// What a release without references left: no ref, no index entry.
	if err := b.client.Del(ctx, "mmq:blob:{"+key+"}:refs").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.FinishJob(ctx, j.ID, tasks.StatusSucceeded, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := b.store.DeleteJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := b.store.SweepBlobs(ctx); err != nil || n != 0 {
		t.Fatalf("SweepBlobs = %d, %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(b.dir, key[:2], key[2:4], key)); err != nil {
		t.Errorf("old job's blob: %v", err)
	}
}

// BackfillBlobRefs gives the jobs of a release before references theirs:
// a live one keeps its input until deleted, an ended one loses it after
// its retention, and a second run does nothing.
func TestBackfillBlobRefs(t *testing.T) {
	b := setupBlobs(t, time.Second)
	ctx := context.Background()
	legacy := func(id string, data []byte) string {
		t.Helper()
		key, err := b.blobs.Put(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		j := &tasks.Job{ID: id, Kind: tasks.KindDocument, Tenant: "acme", BlobKey: key, PagesTotal: 1}
		if err := b.store.CreateJob(ctx, j, ""); err != nil {
			t.Fatal(err)
		}
		// What a release without references left: none.
		if err := b.client.Del(ctx, "mmq:blob:{"+key+"}:refs").Err(); err != nil {
			t.Fatal(err)
		}
		return key
	}
	live, ended := legacy("live", []byte("%PDF live")), legacy("ended", []byte("%PDF ended"))
	b.run(t, "ended") // ends it: its record gets the retention's TTL
	b.submit(t, "new", []byte("%PDF new"), "")

	n, err := b.store.BackfillBlobRefs(ctx)
	if err != nil || n != 2 {
		t.Fatalf("BackfillBlobRefs = %d, %v; want 2 (the new job has its reference)", n, err)
	}
	if n, err := b.store.BackfillBlobRefs(ctx); err != nil || n != 0 {
		t.Fatalf("second BackfillBlobRefs = %d, %v; want 0", n, err)
	}
	score := func(key, id string) string {
		s, err := b.client.ZScore(ctx, "mmq:blob:{"+key+"}:refs", id).Result()
		if err != nil {
			t.Fatalf("reference of %s: %v", id, err)
		}
		return strconv.FormatFloat(s, 'f', -1, 64)
	}
	if s := score(live, "live"); s != "+Inf" {
		t.Errorf("live job's reference = %s; want +Inf", s)
	}
	if s := score(ended, "ended"); s == "+Inf" {
		t.Errorf("ended job's reference is +Inf; want its record's end")
	}
	blobFile := func(key string) string { return filepath.Join(b.dir, key[:2], key[2:4], key) }

	// The ended job's input goes after its retention; the live one stays.
	testwait.For(t, 10*time.Second, "the ended legacy job's input to go after its retention", func() bool {
		if _, err := b.store.SweepBlobs(ctx); err != nil {
			t.Fatal(err)
		}
		_, err := os.Stat(blobFile(ended))
		return errors.Is(err, fs.ErrNotExist)
	})
	if _, err := os.Stat(blobFile(live)); err != nil {
		t.Fatalf("the live legacy job's input: %v", err)
	}
	if _, err := b.store.FinishJob(ctx, "live", tasks.StatusCanceled, tasks.CodeCanceled, "canceled"); err != nil {
		t.Fatal(err)
	}
	if err := b.store.DeleteJob(ctx, "live"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(blobFile(live)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the deleted legacy job's input: %v; want it gone", err)
	}
}
