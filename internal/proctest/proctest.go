// Package proctest helps tests that run external programs: Need checks that
// they are installed, and the /proc readers find the processes a test
// started, to check that they are killed and reaped.
package proctest

import (
	"bytes"
	"os"
	"os/exec"
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

// Need skips the test when one of the external programs tools is not on
// PATH, and fails it instead when CI is set: .ci/run installs every program
// the tests use, so a missing one there is a broken setup, not a reason to
// skip.
func Need(tb testing.TB, tools ...string) {
	tb.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				tb.Fatalf("%s is required in CI: %v", tool, err)
			}
			tb.Skipf("%s is not installed: %v", tool, err)
		}
	}
}
