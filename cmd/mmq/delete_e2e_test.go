package main

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/tasks"
)

// blobFiles counts the files under dir.
func blobFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// mmq delete, through the whole program: two jobs of the same file share
// its blob; deleting one leaves the other whole, deleting both leaves no
// file and no key of theirs.
func TestDeleteCLI(t *testing.T) {
	dir := t.TempDir()
	_, url := startApp(t, "MMQ_BLOBS_DIR", dir)
	c := client.New(url, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var jobs []*tasks.Job
	for range 2 {
		j, err := c.SubmitFile(ctx, "testdata/pdfcpu-read.go.pdf", client.SubmitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if j, err = c.Wait(ctx, j.ID, 50*time.Millisecond, nil); err != nil || j.Status != tasks.StatusSucceeded {
			t.Fatalf("job %v, %v", j, err)
		}
		jobs = append(jobs, j)
	}
	if n := blobFiles(t, dir); n != 1 {
		t.Fatalf("%d blob files for two jobs of one file, want 1", n)
	}

	out, code := runCLI(t, "delete", jobs[0].ID, "--server", url)
	if code != 0 || !strings.Contains(out, "deleted job "+jobs[0].ID) {
		t.Fatalf("mmq delete: exit %d, %s", code, out)
	}
	if _, err := c.Job(ctx, jobs[0].ID); err == nil {
		t.Error("the deleted job is still there")
	}
	if rs, _, err := c.Results(ctx, jobs[1].ID, "", 100); err != nil || len(rs) != 45 || blobFiles(t, dir) != 1 {
		t.Errorf("the other job: %d results, %v; %d blob files", len(rs), err, blobFiles(t, dir))
	}
	if out, code := runCLI(t, "delete", jobs[1].ID, "--server", url); code != 0 {
		t.Fatalf("second mmq delete: exit %d, %s", code, out)
	}
	if n := blobFiles(t, dir); n != 0 {
		t.Errorf("%d blob files after both jobs were deleted, want 0", n)
	}
	rdb := redis.NewClient(redistest.Options(t, redistest.DBCmd))
	defer rdb.Close()
	for _, j := range jobs {
		keys, err := rdb.Keys(ctx, "*{"+j.ID+"}*").Result()
		if err != nil || len(keys) != 0 {
			t.Errorf("keys of deleted job %s: %v, %v", j.ID, keys, err)
		}
	}
	if _, code := runCLI(t, "delete", "no-such-id", "--server", url); code == 0 {
		t.Error("mmq delete of an unknown id exited 0")
	}
}
