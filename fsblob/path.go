package fsblob

import (
	"fmt"
	"os"

	"github.com/mmq/mmq/tasks"
)

// Path returns the file that holds the data stored under key, so that a
// program such as ffmpeg can read an input in place instead of a copy. The
// file must not be modified. An unknown key gives an error wrapping
// fs.ErrNotExist.
func (b *Blobs) Path(key string) (string, error) {
	if err := tasks.CheckBlobKey(key); err != nil {
		return "", err
	}
	p := b.path(key)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("fsblob: blob %s: %w", key, err)
	}
	return p, nil
}
