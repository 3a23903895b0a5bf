// Package fsblob keeps job inputs as files under a local directory,
// content-addressed like s3blob: the key of some data is its SHA-256 in hex
// (tasks.BlobKey). A directory shared by several processes on one host, or
// a shared volume, serves the API and the workers alike.
package fsblob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mmq/mmq/tasks"
)

// Blobs keeps job inputs as files under a directory, content-addressed
// by their SHA-256: the key of some data is its hex digest, and the data of
// key ab12cd... is in ab/12/ab12cd.... It is safe for concurrent use, also by
// several processes sharing the directory.
type Blobs struct {
	dir string
}

// New returns blobs stored under dir, which it creates if needed.
func New(dir string) (*Blobs, error) {
	if dir == "" {
		return nil, errors.New("fsblob: empty blob directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("fsblob: create blob directory: %w", err)
	}
	return &Blobs{dir: dir}, nil
}

// Put stores data and returns its key. Storing the same data again is a
// no-op that returns the same key. A file appears complete or not at all:
// it is written under a temporary name, synced and renamed.
func (b *Blobs) Put(ctx context.Context, data []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	key := tasks.BlobKey(data)
	path := b.path(key)
	if _, err := os.Stat(path); err == nil {
		return key, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", fmt.Errorf("fsblob: put blob %s: %w", key, err)
	}
	if err := writeAtomic(path, data); err != nil {
		return "", fmt.Errorf("fsblob: put blob %s: %w", key, err)
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
func (b *Blobs) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := tasks.CheckBlobKey(key); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(b.path(key))
	if err != nil {
		return nil, fmt.Errorf("fsblob: get blob %s: %w", key, err)
	}
	return data, nil
}

// Delete removes the data stored under key. Deleting an unknown key is not
// an error.
func (b *Blobs) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := tasks.CheckBlobKey(key); err != nil {
		return err
	}
	if err := os.Remove(b.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fsblob: delete blob %s: %w", key, err)
	}
	return nil
}

func (b *Blobs) path(key string) string {
	return filepath.Join(b.dir, key[:2], key[2:4], key)
}
