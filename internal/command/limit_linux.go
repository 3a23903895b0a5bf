package command

import "golang.org/x/sys/unix"

// memoryLimitSupported reports whether Spec.MemoryLimit is applied here.
const memoryLimitSupported = true

// limitMemory sets the soft and hard RLIMIT_AS of process pid to n bytes
// (see the package documentation for why after the start).
func limitMemory(pid int, n int64) error {
	lim := unix.Rlimit{Cur: uint64(n), Max: uint64(n)}
	return unix.Prlimit(pid, unix.RLIMIT_AS, &lim, nil)
}
