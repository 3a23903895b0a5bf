package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mmq/mmq/tasks"
)

// ErrInvalidBlobKey is wrapped by the errors for a key that is not 64
// lowercase hex digits, the only form Put returns.
var ErrInvalidBlobKey = errors.New("store: invalid blob key")

// LocalBlobs keeps job inputs as files under a directory, content-addressed
// by their SHA-256: the key of some data is its hex digest, and the data of
// key ab12cd... is in ab/12/ab12cd.... It is safe for concurrent use, also by
// several processes sharing the directory.
type LocalBlobs struct {
	dir string
}

// NewLocalBlobs returns blobs stored under dir, which it creates if needed.
func NewLocalBlobs(dir string) (*LocalBlobs, error) {
	if dir == "" {
		return nil, errors.New("store: empty blob directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: create blob directory: %w", err)
	}
	return &LocalBlobs{dir: dir}, nil
}

// Put stores data and returns its key. Storing the same data again is a
// no-op that returns the same key. A file appears complete or not at all:
// it is written under a temporary name, synced and renamed.
func (b *LocalBlobs) Put(ctx context.Context, data []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	key := tasks.BlobKey(data)
	path := b.path(key)
	if _, err := os.Stat(path); err == nil {
		return key, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", fmt.Errorf("store: put blob %s: %w", key, err)
	}
	if err := writeAtomic(path, data); err != nil {
		return "", fmt.Errorf("store: put blob %s: %w", key, err)
	}
	return key, nil
}

// writeAtomic writes data to path through a temporary file in the same
// directory, so that readers never see a partial file.
func writeAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Get returns the data stored under key. An unknown key gives an error
// wrapping fs.ErrNotExist.
func (b *LocalBlobs) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(b.path(key))
	if err != nil {
		return nil, fmt.Errorf("store: get blob %s: %w", key, err)
	}
	return data, nil
}

// Delete removes the data stored under key. Deleting an unknown key is not
// an error.
func (b *LocalBlobs) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if err := os.Remove(b.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: delete blob %s: %w", key, err)
	}
	return nil
}

func (b *LocalBlobs) path(key string) string {
	return filepath.Join(b.dir, key[:2], key[2:4], key)
}

// checkKey accepts only what Put returns, so that no key can name a path
// outside the directory.
func checkKey(key string) error {
	if len(key) != 2*sha256.Size {
		return fmt.Errorf("%w: %q", ErrInvalidBlobKey, key)
	}
	for _, c := range []byte(key) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("%w: %q", ErrInvalidBlobKey, key)
		}
	}
	return nil
}
