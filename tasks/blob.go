package tasks

import (
	"crypto/sha256"
	"encoding/hex"
)

// BlobKey returns the key under which the blob stores (store.LocalBlobs,
// s3blob.Blobs) keep data: its SHA-256 in lowercase hex. Knowing it before
// the data is stored lets a job take its reference to the blob first (see
// store.Redis.RefBlob), so that no deletion of the same content can run
// between the write and the reference.
func BlobKey(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
