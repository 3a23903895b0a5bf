// Package corpus finds the shared corpus of public real-world test files:
// $MMQ_CORPUS when it is set, else ../shared/corpus beside the repository
// (the layout of a workspace that holds the repository and shared/ side
// by side). Tests read its files in place rather than copying them.
package corpus

import (
	"cmp"
	"os"
	"path/filepath"
	"runtime"
)

// Dir returns the corpus directory; it may not exist.
func Dir() string {
	if d := os.Getenv("MMQ_CORPUS"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	// file is <repo>/internal/corpus/corpus.go.
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus")
}

// Path returns the path of a corpus file, given relative to the corpus
// ("pdf/x.pdf").
func Path(elem ...string) string {
	return filepath.Join(append([]string{cmp.Or(Dir(), ".")}, elem...)...)
}
