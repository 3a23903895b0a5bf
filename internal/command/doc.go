// Package command runs the external programs mmq depends on (qpdf,
// pdftotext, pdftoppm, ffmpeg, ffprobe, and any added later) with every
// resource bounded by construction. Each run gets:
//
//   - a deadline ([Spec.Timeout]) on top of the caller's context;
//   - a process group of its own, killed as a whole (SIGKILL to the group)
//     on the deadline, on cancellation and when an output cap is hit, so
//     that nothing the program started outlives it; [Spec.WaitDelay] then
//     bounds the wait for pipes that a stray grandchild still holds;
//   - capped output: stdout is collected up to [Spec.MaxStdout] (over it the
//     run is killed and fails with [ErrOutputLimit], or with
//     [Spec.TruncateStdout] the rest is dropped and reported), streamed to
//     a writer under the same cap, or handed over as a pipe whose reader
//     bounds what it keeps; only the first [Spec.MaxStderr] bytes of stderr
//     are kept;
//   - an address-space limit ([Spec.MemoryLimit], RLIMIT_AS, 1 GiB by
//     default), so that a decompression bomb makes the program fail its
//     allocations instead of taking the machine's memory.
//
// # How the memory limit is applied
//
// Go's os/exec cannot set a resource limit between fork and exec, and the
// limit must not be set on the server itself (the Go runtime reserves far
// more address space than it uses). The choices were a wrapper program
// (util-linux's `prlimit --as=N -- prog`, or `sh -c 'ulimit -v'`), a re-exec
// of the server binary as a launcher, a cgroup, or prlimit(2) on the child's
// pid right after it started. A wrapper adds a binary the image must carry
// and an exec per run; a re-exec needs a hook in every main and test
// binary; cgroups are rarely delegated to a container (not on the machines
// this was written on). On Linux the package therefore calls prlimit(2) on
// the child as soon as Start returns, which is race-free in practice:
// Start returns once the kernel has loaded the new image, and the limit is
// in place within microseconds, while the dynamic loader is still mapping
// libraries, long before the program reads its input. To make that
// ordering certain for programs fed through stdin (pdftotext, pdftoppm,
// qpdf's password), nothing is written to stdin before the limit holds.
// Memory the program mapped in that window stays mapped; any growth past
// the limit fails. If prlimit(2) fails the program is killed and the run
// fails: a run is never unbounded by accident. On other systems no limit
// is applied.
//
// A program that reaches the limit sees its allocations fail. What it does
// then is its own: most print an allocation error and exit, C++ programs may
// abort. The run reports [ErrMemoryLimit] when a limit was set and the
// program died of SIGABRT, SIGSEGV or SIGBUS, or said on stderr that it ran
// out of memory; otherwise its failure is an [ErrExit].
package command
