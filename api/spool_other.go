//go:build !unix

package api

import (
	"io"
	"os"
)

// mapFile reads the n bytes of f into memory, where no mapping exists.
func mapFile(f *os.File, n int64) (mapped, error) {
	data := make([]byte, n)
	if _, err := f.ReadAt(data, 0); err != nil && err != io.EOF {
		return mapped{}, err
	}
	return mapped{data: data, release: func() error { return nil }}, nil
}
