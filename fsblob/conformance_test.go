package fsblob_test

import (
	"testing"

	"github.com/mmq/mmq/fsblob"
	"github.com/mmq/mmq/internal/blobtest"
)

func TestBlobsConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blobtest.Blobs {
		b, err := fsblob.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}
