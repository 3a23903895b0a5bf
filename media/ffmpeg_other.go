//go:build !unix

package media

import "os/exec"

// setProcessGroup is a no-op where process groups do not exist; the
// cancellation of the run's context kills ffmpeg itself.
func setProcessGroup(*exec.Cmd) {}
