package command

import (
	"errors"
	"fmt"
	"strings"
)

// The kinds of failure of a run. Every error of Run and Wait is an *Error
// that matches one of them with errors.Is, or the caller's context error.
var (
	// ErrNotFound: the program is not installed (not in PATH, or no such
	// file).
	ErrNotFound = errors.New("command: program not found")
	// ErrTimeout: the run took longer than its Spec.Timeout and was
	// killed. It also matches context.DeadlineExceeded.
	ErrTimeout = errors.New("command: deadline exceeded")
	// ErrOutputLimit: the program wrote more than Spec.MaxStdout to stdout
	// and was killed.
	ErrOutputLimit = errors.New("command: output over its cap")
	// ErrMemoryLimit: the program failed after reaching its address-space
	// limit (see the package documentation for how that is told).
	ErrMemoryLimit = errors.New("command: memory limit reached")
	// ErrExit: the program exited with a non-zero status or died of a
	// signal the package did not send.
	ErrExit = errors.New("command: program failed")
)

// Error is a failed run.
type Error struct {
	// Program is the program's base name, never its arguments (which may
	// name server paths).
	Program string
	// Kind is one of the Err* values of this package, or the caller's
	// context error when the caller gave up.
	Kind error
	// Err is the underlying error: an *exec.ExitError, a start error, or a
	// context error. It may be nil.
	Err error
	// ExitCode is the program's exit status, or -1 when it did not exit
	// by itself (killed, not started).
	ExitCode int
	// Limit is the cap that was hit: bytes for ErrOutputLimit and
	// ErrMemoryLimit. Zero otherwise.
	Limit int64
	// Stderr is what the program wrote to stderr, up to Spec.MaxStderr,
	// trimmed.
	Stderr string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Program)
	switch {
	case errors.Is(e.Kind, ErrOutputLimit):
		fmt.Fprintf(&b, ": stdout over %d bytes", e.Limit)
	case errors.Is(e.Kind, ErrMemoryLimit):
		fmt.Fprintf(&b, ": memory limit of %d bytes reached", e.Limit)
	case errors.Is(e.Kind, ErrTimeout), errors.Is(e.Kind, ErrNotFound):
		b.WriteString(": " + strings.TrimPrefix(e.Kind.Error(), "command: "))
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Stderr != "" {
		s := e.Stderr
		if len(s) > 300 {
			s = s[:300] + "..."
		}
		fmt.Fprintf(&b, ": %s", s)
	}
	return b.String()
}

// Unwrap returns the kind and the underlying error, so that errors.Is and
// errors.As see both.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}
