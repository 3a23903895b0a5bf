package store

import (
	"fmt"
	"os"
)

// Path returns the file that holds the data stored under key, so that a
// program such as ffmpeg can read an input in place instead of a copy. The
// file must not be modified. An unknown key gives an error wrapping
// fs.ErrNotExist.
func (b *LocalBlobs) Path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	p := b.path(key)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("store: blob %s: %w", key, err)
	}
	return p, nil
}
