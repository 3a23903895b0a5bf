// Package blobtest is the conformance suite of mmq's input stores: every
// backend (fsblob.Blobs, s3blob.Blobs) must pass Run, so that the API
// and the worker can take any of them.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"sync"
	"testing"

	"github.com/mmq/mmq/tasks"
)

// Blobs is what an input store offers.
type Blobs interface {
	Put(ctx context.Context, data []byte) (key string, err error)
	Get(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
}

// Run runs the suite on the stores open returns, a fresh one per subtest.
func Run(t *testing.T, open func(t *testing.T) Blobs) {
	ctx := context.Background()
	random := func(t *testing.T, n int) []byte {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return b
	}

	t.Run("put and get are content-addressed", func(t *testing.T) {
		b := open(t)
		for _, size := range []int{0, 1, 4 << 10, 5 << 20} {
			data := random(t, size)
			key, err := b.Put(ctx, data)
			if err != nil {
				t.Fatalf("put %d bytes: %v", size, err)
			}
			sum := sha256.Sum256(data)
			if key != hex.EncodeToString(sum[:]) {
				t.Errorf("key %s of %d bytes is not their SHA-256", key, size)
			}
			got, err := b.Get(ctx, key)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("get %d bytes: %d bytes, %v", size, len(got), err)
			}
			again, err := b.Put(ctx, data)
			if err != nil || again != key {
				t.Errorf("second put: %s, %v", again, err)
			}
		}
	})

	t.Run("unknown key is fs.ErrNotExist", func(t *testing.T) {
		b := open(t)
		sum := sha256.Sum256([]byte("never stored"))
		if _, err := b.Get(ctx, hex.EncodeToString(sum[:])); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("get of an unknown key: %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("keys that Put cannot return are refused", func(t *testing.T) {
		b := open(t)
		for _, key := range []string{"", "../../etc/passwd", "ab", "ZZ" + hex.EncodeToString(make([]byte, 31)),
			hex.EncodeToString(make([]byte, 32)) + "/x"} {
			if _, err := b.Get(ctx, key); !errors.Is(err, tasks.ErrInvalidBlobKey) {
				t.Errorf("get %q: %v, want tasks.ErrInvalidBlobKey", key, err)
			}
			if err := b.Delete(ctx, key); !errors.Is(err, tasks.ErrInvalidBlobKey) {
				t.Errorf("delete %q: %v, want tasks.ErrInvalidBlobKey", key, err)
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		b := open(t)
		key, err := b.Put(ctx, []byte("to delete"))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Get(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("get after delete: %v", err)
		}
		if err := b.Delete(ctx, key); err != nil {
			t.Errorf("second delete: %v", err)
		}
	})

	t.Run("concurrent puts of the same data", func(t *testing.T) {
		b := open(t)
		data := random(t, 256<<10)
		var wg sync.WaitGroup
		keys := make([]string, 8)
		errs := make([]error, 8)
		for i := range keys {
			wg.Go(func() { keys[i], errs[i] = b.Put(ctx, data) })
		}
		wg.Wait()
		for i := range keys {
			if errs[i] != nil || keys[i] != keys[0] {
				t.Errorf("put %d: %s, %v", i, keys[i], errs[i])
			}
		}
		if got, err := b.Get(ctx, keys[0]); err != nil || !bytes.Equal(got, data) {
			t.Errorf("get: %d bytes, %v", len(got), err)
		}
	})

	t.Run("canceled context", func(t *testing.T) {
		b := open(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := b.Put(cctx, []byte("late")); err == nil {
			t.Error("put with a canceled context succeeded")
		}
	})
}
