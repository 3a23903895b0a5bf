//go:build !unix

package command

import "os/exec"

// setProcessGroup is a no-op where process groups do not exist; the
// cancellation of the run's context kills the program itself.
func setProcessGroup(*exec.Cmd) {}
