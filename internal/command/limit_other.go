//go:build !linux

package command

// memoryLimitSupported reports whether Spec.MemoryLimit is applied here:
// prlimit(2) is Linux's.
const memoryLimitSupported = false

func limitMemory(int, int64) error { return nil }
