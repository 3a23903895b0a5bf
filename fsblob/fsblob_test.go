package fsblob_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/tasks"
)

func TestBlobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "blobs")
	b, err := fsblob.New(dir)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	data := []byte("%PDF-1.7 hello")
	key, err := b.Put(ctx, data)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	// The file is sharded by the first two bytes of its key.
	if _, err := os.Stat(filepath.Join(dir, key[:2], key[2:4], key)); err != nil {
		t.Errorf("blob file: %v", err)
	}
	again, err := b.Put(ctx, data)
	if err != nil || again != key {
		t.Errorf("second Put = %q, %v; want %q", again, err, key)
	}
	got, err := b.Get(ctx, key)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("Get = %q, %v; want %q", got, err, data)
	}
	entries, err := os.ReadDir(filepath.Join(dir, key[:2], key[2:4]))
	if err != nil || len(entries) != 1 {
		t.Errorf("shard directory holds %d entries, %v; want the blob alone", len(entries), err)
	}

	if err := b.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Get(ctx, key); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get after Delete = %v; want fs.ErrNotExist", err)
	}
	if err := b.Delete(ctx, key); err != nil {
		t.Errorf("second Delete = %v; want nil", err)
	}
}

func TestBlobsBadKeys(t *testing.T) {
	t.Parallel()
	b, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	long := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, key := range []string{
		"", "../x", "../../etc/passwd", long[:63], long + "0",
		"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
		"../456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	} {
		if _, err := b.Get(context.Background(), key); !errors.Is(err, tasks.ErrInvalidBlobKey) {
			t.Errorf("Get(%q) = %v; want ErrInvalidBlobKey", key, err)
		}
		if err := b.Delete(context.Background(), key); !errors.Is(err, tasks.ErrInvalidBlobKey) {
			t.Errorf("Delete(%q) = %v; want ErrInvalidBlobKey", key, err)
		}
	}
	if _, err := b.Get(context.Background(), long); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get(unknown key) = %v; want fs.ErrNotExist", err)
	}
}
