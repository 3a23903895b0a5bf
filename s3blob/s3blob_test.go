package s3blob_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mmq/mmq/internal/blobtest"
	"github.com/mmq/mmq/s3blob"
)

// testBucket is created on the test server when missing.
const testBucket = "mmq-test"

// server returns the config of the S3-compatible server the tests use:
// MMQ_TEST_S3_ENDPOINT (host:port, plain HTTP), MMQ_TEST_S3_ACCESS_KEY and
// MMQ_TEST_S3_SECRET_KEY; `make test` starts one with
// scripts/s3-test-server.sh. Without it the tests skip, or fail when CI
// is set.
func server(t *testing.T) s3blob.Config {
	t.Helper()
	cfg := s3blob.Config{
		Endpoint:  os.Getenv("MMQ_TEST_S3_ENDPOINT"),
		AccessKey: os.Getenv("MMQ_TEST_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("MMQ_TEST_S3_SECRET_KEY"),
		Bucket:    testBucket,
	}
	if cfg.Endpoint == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("MMQ_TEST_S3_ENDPOINT is not set and CI is: .ci/run starts scripts/s3-test-server.sh")
		}
		t.Skip("MMQ_TEST_S3_ENDPOINT is not set: no S3-compatible server to test against (scripts/s3-test-server.sh starts one)")
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ok, err := c.BucketExists(ctx, testBucket)
	if err != nil {
		t.Fatalf("S3 server at %s: %v", cfg.Endpoint, err)
	}
	if !ok {
		if err := c.MakeBucket(ctx, testBucket, minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

// prefix returns a prefix no other test uses, so that each store is empty.
func prefix(t *testing.T) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "test-" + hex.EncodeToString(b) + "/"
}

func TestConformance(t *testing.T) {
	cfg := server(t)
	blobtest.Run(t, func(t *testing.T) blobtest.Blobs {
		c := cfg
		c.Prefix = prefix(t)
		b, err := s3blob.New(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestNew(t *testing.T) {
	cfg := server(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		edit    func(*s3blob.Config)
		wantErr string
	}{
		{"works", func(*s3blob.Config) {}, ""},
		{"missing bucket", func(c *s3blob.Config) { c.Bucket = "mmq-no-such-bucket" }, "does not exist"},
		{"wrong secret", func(c *s3blob.Config) { c.SecretKey = "wrong" }, "bucket"},
		{"scheme in endpoint", func(c *s3blob.Config) { c.Endpoint = "http://" + c.Endpoint }, "without a scheme"},
		{"no bucket", func(c *s3blob.Config) { c.Bucket = "" }, "Bucket is required"},
		{"half the credentials", func(c *s3blob.Config) { c.SecretKey = "" }, "go together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			tt.edit(&c)
			b, err := s3blob.New(ctx, c)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			case tt.wantErr == "":
				if err := b.Ping(ctx); err != nil {
					t.Errorf("ping: %v", err)
				}
			case err == nil || !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("New: %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}

// A damaged object is an error, never a wrong input.
func TestGetChecksContent(t *testing.T) {
	cfg := server(t)
	cfg.Prefix = prefix(t)
	ctx := context.Background()
	b, err := s3blob.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	key, err := b.Put(ctx, []byte("the real input"))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := minio.New(cfg.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")})
	bad := strings.NewReader("something else")
	if _, err := c.PutObject(ctx, cfg.Bucket, cfg.Prefix+key[:2]+"/"+key, bad, bad.Size(), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, key); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("get of a damaged object: %v", err)
	}
}
