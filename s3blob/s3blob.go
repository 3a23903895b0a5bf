// Package s3blob keeps job inputs in an S3-compatible object store (AWS S3,
// MinIO, Ceph RGW, Versity, ...), content-addressed like fsblob.Blobs:
// the key of some data is its SHA-256 in hex. Workers on other hosts than
// the API read inputs from it, where a local directory would have to be a
// shared volume.
package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mmq/mmq/tasks"
)

// Config locates a bucket.
type Config struct {
	// Endpoint is the server's host[:port], without a scheme:
	// "s3.amazonaws.com", "minio:9000". Required.
	Endpoint string
	// Bucket holds the blobs; it must exist. Required.
	Bucket string
	// Region is the bucket's region; empty lets the client ask the server.
	Region string
	// AccessKey and SecretKey sign requests. When both are empty the
	// credentials come from the environment (AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY, or MINIO_ROOT_USER and MINIO_ROOT_PASSWORD)
	// or the host's IAM role.
	AccessKey string
	SecretKey string
	// UseSSL speaks HTTPS. Defaults to false here; the config file turns
	// it on.
	UseSSL bool
	// Prefix starts every object name, so that a bucket can be shared.
	// Defaults to "blobs/".
	Prefix string
	// Timeout bounds the check of the bucket in New. Defaults to 10 s.
	Timeout time.Duration
}

// Defaults of Config.
const (
	DefaultPrefix  = "blobs/"
	DefaultTimeout = 10 * time.Second
)

func (c *Config) setDefaults() {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
}

// Validate reports a Config that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.Endpoint == "":
		return errors.New("s3blob: Endpoint is required")
	case strings.Contains(c.Endpoint, "://"):
		return fmt.Errorf("s3blob: Endpoint %q: give host[:port] without a scheme; UseSSL chooses https", c.Endpoint)
	case c.Bucket == "":
		return errors.New("s3blob: Bucket is required")
	case (c.AccessKey == "") != (c.SecretKey == ""):
		return errors.New("s3blob: AccessKey and SecretKey go together")
	}
	return nil
}

// Blobs keeps inputs in one bucket. It is safe for concurrent use, also by
// several processes.
type Blobs struct {
	client *minio.Client
	cfg    Config
}

// New returns the blobs of cfg's bucket, after checking that the bucket
// exists and the credentials can see it.
func New(ctx context.Context, cfg Config) (*Blobs, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	creds := credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	if cfg.AccessKey == "" {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{}, &credentials.EnvMinio{}, &credentials.IAM{},
		})
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{Creds: creds, Secure: cfg.UseSSL, Region: cfg.Region})
	if err != nil {
		return nil, fmt.Errorf("s3blob: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3blob: bucket %s at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3blob: bucket %s does not exist at %s; create it first", cfg.Bucket, cfg.Endpoint)
	}
	return &Blobs{client: client, cfg: cfg}, nil
}

// object returns the object name of key: the prefix, the key's first two
// digits as a "directory" (listings stay browsable), the key.
func (b *Blobs) object(key string) string {
	return b.cfg.Prefix + key[:2] + "/" + key
}

// Put stores data and returns its key. Storing the same data again is a
// no-op that returns the same key. S3 makes an object visible whole or not
// at all, and two processes putting the same key write the same bytes.
func (b *Blobs) Put(ctx context.Context, data []byte) (string, error) {
	key := tasks.BlobKey(data)
	name := b.object(key)
	if _, err := b.client.StatObject(ctx, b.cfg.Bucket, name, minio.StatObjectOptions{}); err == nil {
		return key, nil
	} else if !isNotFound(err) {
		return "", fmt.Errorf("s3blob: put blob %s: %w", key, err)
	}
	_, err := b.client.PutObject(ctx, b.cfg.Bucket, name, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", SendContentMd5: true})
	if err != nil {
		return "", fmt.Errorf("s3blob: put blob %s: %w", key, err)
	}
	return key, nil
}

// Get returns the data stored under key. An unknown key gives an error
// wrapping fs.ErrNotExist, as fsblob.Blobs does. The data is checked
// against its key, so a damaged object is an error, not a wrong input.
func (b *Blobs) Get(ctx context.Context, key string) ([]byte, error) {
	if err := tasks.CheckBlobKey(key); err != nil {
		return nil, err
	}
	obj, err := b.client.GetObject(ctx, b.cfg.Bucket, b.object(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, b.getErr(key, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, b.getErr(key, err)
	}
	if tasks.BlobKey(data) != key {
		return nil, fmt.Errorf("s3blob: get blob %s: content does not match its key", key)
	}
	return data, nil
}

func (b *Blobs) getErr(key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("s3blob: get blob %s: %w", key, fs.ErrNotExist)
	}
	return fmt.Errorf("s3blob: get blob %s: %w", key, err)
}

// Delete removes the data stored under key. Deleting an unknown key is not
// an error.
func (b *Blobs) Delete(ctx context.Context, key string) error {
	if err := tasks.CheckBlobKey(key); err != nil {
		return err
	}
	if err := b.client.RemoveObject(ctx, b.cfg.Bucket, b.object(key), minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return fmt.Errorf("s3blob: delete blob %s: %w", key, err)
	}
	return nil
}

// Ping checks that the bucket answers, for readiness checks.
func (b *Blobs) Ping(ctx context.Context) error {
	if _, err := b.client.BucketExists(ctx, b.cfg.Bucket); err != nil {
		return fmt.Errorf("s3blob: %w", err)
	}
	return nil
}

func isNotFound(err error) bool {
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey, "NotFound":
		return true
	}
	return false
}
