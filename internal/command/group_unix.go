//go:build unix

package command

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts cmd in a process group of its own and makes the
// cancellation of its context kill the whole group, so that nothing the
// program started outlives it.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group id is the pid of its leader, the program.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
