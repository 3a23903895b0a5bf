package store_test

import (
	"testing"

	"github.com/mmq/mmq/internal/blobtest"
	"github.com/mmq/mmq/store"
)

func TestLocalBlobsConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blobtest.Blobs {
		b, err := store.NewLocalBlobs(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}
