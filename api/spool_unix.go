//go:build unix

package api

import (
	"os"
	"syscall"
)

// mapFile maps the n bytes of f into memory, privately: the pages are the
// file's, which the kernel may drop and read again under memory pressure,
// not the heap's; a write (no reader should) copies the page instead of
// faulting.
func mapFile(f *os.File, n int64) (mapped, error) {
	data, err := syscall.Mmap(int(f.Fd()), 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
	if err != nil {
		return mapped{}, err
	}
	return mapped{data: data, release: func() error { return syscall.Munmap(data) }}, nil
}
