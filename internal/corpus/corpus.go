// Package corpus finds the corpus of public real-world test files: the
// directory $MMQ_CORPUS names; else the shared corpus beside the
// repository (../shared/corpus, or shared/corpus in a directory above it);
// else the repository's own subset, testdata/corpus, which holds the few
// files the end-to-end tests name (with their MANIFEST.tsv rows), so that
// a clone anywhere runs them. Tests read the files in place.
package corpus

import (
	"os"
	"path/filepath"
	"runtime"
)

// Dir returns the corpus directory.
func Dir() string {
	if d := os.Getenv("MMQ_CORPUS"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	// file is <repo>/internal/corpus/corpus.go.
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	for dir := filepath.Dir(repo); ; dir = filepath.Dir(dir) {
		shared := filepath.Join(dir, "shared", "corpus")
		if _, err := os.Stat(filepath.Join(shared, "MANIFEST.tsv")); err == nil {
			return shared
		}
		if parent := filepath.Dir(dir); parent == dir {
			break
		}
	}
	return filepath.Join(repo, "testdata", "corpus")
}

// Path returns the path of a corpus file, given relative to the corpus
// ("pdf", "x.pdf").
func Path(elem ...string) string {
	return filepath.Join(append([]string{Dir()}, elem...)...)
}
