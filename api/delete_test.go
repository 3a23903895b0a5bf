package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
)

// deleteSetup is tenantSetup with a store that deletes from its blob
// directory, which it returns.
func deleteSetup(t *testing.T) (*testBundle, tenantKeys, string) {
	t.Helper()
	var keys tenantKeys
	for _, k := range []*string{&keys.acme, &keys.beta} {
		var err error
		if *k, err = api.NewKey(); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	blobs, err := fsblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, func(c *api.Config, d *api.Deps) {
		c.Auth = api.AuthConfig{Enabled: true, Keys: []string{
			api.HashKey(keys.acme) + ":acme", api.HashKey(keys.beta) + ":beta",
		}}
		st, err := store.New(redistest.New(t, redistest.DBAPI), store.Config{Blobs: blobs})
		if err != nil {
			t.Fatal(err)
		}
		d.Store, d.Blobs = st, blobs
	})
	return b, keys, dir
}

// upload submits the PDF of testdata with key, in a batch of n when n > 0,
// and returns the job ids and the batch's.
func (b *testBundle) upload(t *testing.T, key string, n int) (ids []string, batch string) {
	t.Helper()
	pdf, err := os.ReadFile(testdata("linearized-30p.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for range max(n, 1) {
		fw, _ := mw.CreateFormFile("file", "doc.pdf")
		fw.Write(pdf)
	}
	mw.Close()
	path := "/v1/jobs"
	if n > 0 {
		path = "/v1/batches"
	}
	resp, data := b.do(t, http.MethodPost, path, mw.FormDataContentType(), &body, bearer(key)...)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST %s: %s %s", path, resp.Status, data)
	}
	var got struct {
		ID     string   `json:"id"`
		JobIDs []string `json:"job_ids"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		return []string{got.ID}, ""
	}
	return got.JobIDs, got.ID
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(p, ".spool") {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeleteJob(t *testing.T) {
	b, keys, dir := deleteSetup(t)
	ctx := context.Background()
	ids, _ := b.upload(t, keys.acme, 0)
	other, _ := b.upload(t, keys.acme, 0) // the same file
	id := ids[0]

	missing := strings.Repeat("0", len(id))
	resp, wantBody := b.do(t, http.MethodDelete, "/v1/jobs/"+missing, "", nil, bearer(keys.beta)...)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("DELETE of a missing job: %s", resp.Status)
	}
	resp, body := b.do(t, http.MethodDelete, "/v1/jobs/"+id, "", nil, bearer(keys.beta)...)
	if resp.StatusCode != http.StatusNotFound || string(body) != strings.ReplaceAll(string(wantBody), missing, id) {
		t.Errorf("beta's DELETE: %s %s, want what a missing id gets", resp.Status, body)
	}
	if _, err := b.store.GetJob(ctx, id); err != nil {
		t.Fatalf("the job after beta's DELETE: %v", err)
	}

	// The job is queued: it is canceled, then deleted.
	resp, body = b.do(t, http.MethodDelete, "/v1/jobs/"+id, "", nil, bearer(keys.acme)...)
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("acme's DELETE: %s %s, want 204", resp.Status, body)
	}
	if resp, _ := b.do(t, http.MethodGet, "/v1/jobs/"+id, "", nil, bearer(keys.acme)...); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET after DELETE: %s", resp.Status)
	}
	if resp, _ := b.do(t, http.MethodDelete, "/v1/jobs/"+id, "", nil, bearer(keys.acme)...); resp.StatusCode != http.StatusNotFound {
		t.Errorf("second DELETE: %s", resp.Status)
	}
	if n := countFiles(t, dir); n != 1 {
		t.Errorf("%d blob files after deleting one of two jobs with the same file, want 1", n)
	}

	// A running job.
	if _, err := b.store.StartJob(ctx, other[0]); err != nil {
		t.Fatal(err)
	}
	if resp, body := b.do(t, http.MethodDelete, "/v1/jobs/"+other[0], "", nil, bearer(keys.acme)...); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE of a running job: %s %s", resp.Status, body)
	}
	if n := countFiles(t, dir); n != 0 {
		t.Errorf("%d blob files after deleting both jobs, want 0", n)
	}
}

func TestDeleteBatch(t *testing.T) {
	b, keys, dir := deleteSetup(t)
	ctx := context.Background()
	ids, batch := b.upload(t, keys.acme, 3)
	if resp, _ := b.do(t, http.MethodDelete, "/v1/batches/"+batch, "", nil, bearer(keys.beta)...); resp.StatusCode != http.StatusNotFound {
		t.Errorf("beta's DELETE of acme's batch: %s", resp.Status)
	}
	if _, err := b.store.StartJob(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if resp, body := b.do(t, http.MethodDelete, "/v1/batches/"+batch, "", nil, bearer(keys.acme)...); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE batch: %s %s", resp.Status, body)
	}
	if resp, _ := b.do(t, http.MethodGet, "/v1/batches/"+batch, "", nil, bearer(keys.acme)...); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET batch after DELETE: %s", resp.Status)
	}
	for _, id := range ids {
		if _, err := b.store.GetJob(ctx, id); tasks.ErrorCode(err) != tasks.CodeNotFound {
			t.Errorf("job %s after its batch's DELETE: %v", id, err)
		}
	}
	if n := countFiles(t, dir); n != 0 {
		t.Errorf("%d blob files after DELETE batch, want 0", n)
	}
}
