// Package proctest finds the processes a test started, through /proc, to
// check that they are killed and reaped.
package proctest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// FFmpegReading returns the pids of the ffmpeg processes that stream frames
// (image2pipe) from a file whose path starts with path, zombies included: a
// killed ffmpeg must be reaped too. Without /proc the test is skipped.
func FFmpegReading(tb testing.TB, path string) []int {
	tb.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		tb.Skipf("no /proc: %v", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte("image2pipe")) && bytes.Contains(cmdline, []byte("file:"+path)) {
			pids = append(pids, pid)
		}
	}
	return pids
}
