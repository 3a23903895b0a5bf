package tasks

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// BlobKey returns the key under which the blob stores (fsblob.Blobs,
// s3blob.Blobs) keep data: its SHA-256 in lowercase hex. Knowing it before
// the data is stored lets a job take its reference to the blob first (see
// store.Redis.RefBlob), so that no deletion of the same content can run
// between the write and the reference.
func BlobKey(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ErrInvalidBlobKey is wrapped by the errors for a key that is not 64
// lowercase hex digits, the only form BlobKey returns.
var ErrInvalidBlobKey = errors.New("invalid blob key")

// CheckBlobKey accepts only what BlobKey returns, so that no key can name a
// path outside a blob directory or another object of a bucket. Every blob
// backend and the store's references check keys with it.
func CheckBlobKey(key string) error {
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
