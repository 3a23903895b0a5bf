package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/config"
	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/s3blob"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/worker"
)

// blobStore is what the API and the worker need of the input store.
type blobStore interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, data []byte) (key string, err error)
	Delete(ctx context.Context, key string) error
}

// Both backends serve the API and the worker.
var (
	_ blobStore         = (*fsblob.Blobs)(nil)
	_ blobStore         = (*s3blob.Blobs)(nil)
	_ api.Blobs         = blobStore(nil)
	_ worker.Blobs      = blobStore(nil)
	_ store.BlobDeleter = blobStore(nil)
)

// openBlobs opens the input store blobs.backend names.
func (a *App) openBlobs(ctx context.Context) (blobStore, error) {
	c := a.Config.Blobs
	if c.Backend != config.BlobsS3 {
		return fsblob.New(c.Dir)
	}
	b, err := s3blob.New(ctx, s3blob.Config{
		Endpoint: c.S3.Endpoint, Bucket: c.S3.Bucket, Region: c.S3.Region,
		AccessKey: c.S3.AccessKey, SecretKey: c.S3.SecretKey, UseSSL: c.S3.UseSSL, Prefix: c.S3.Prefix,
	})
	if err != nil {
		return nil, fmt.Errorf("blobs.s3: %w", err)
	}
	return b, nil
}

// blobsCheck is the readiness check of the input store: a bucket must
// answer; a local directory has nothing to check that opening it did not.
func blobsCheck(b blobStore) func(context.Context) error {
	p, ok := b.(interface{ Ping(context.Context) error })
	if !ok {
		return func(context.Context) error { return nil }
	}
	return p.Ping
}

// spoolDir is where the API spools uploads: api.spool_dir, else a .spool
// directory beside the local blobs (the same disk, which must hold them
// anyway), else the system's temporary directory. Spooled files are
// unlinked as soon as they are created, so none outlives its request.
func (a *App) spoolDir() string {
	if d := a.Config.API.SpoolDir; d != "" {
		return d
	}
	if a.Config.Blobs.Backend != config.BlobsS3 {
		d := filepath.Join(a.Config.Blobs.Dir, ".spool")
		if err := os.MkdirAll(d, 0o700); err == nil {
			return d
		}
	}
	return os.TempDir()
}
