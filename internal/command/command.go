package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults of a Spec's zero fields.
const (
	// DefaultTimeout bounds one run.
	DefaultTimeout = time.Minute
	// DefaultWaitDelay bounds the wait for the program's pipes after it
	// exited or was killed.
	DefaultWaitDelay = 5 * time.Second
	// DefaultMaxStdout caps stdout.
	DefaultMaxStdout = 64 << 20
	// DefaultMaxStderr caps the stderr kept.
	DefaultMaxStderr = 64 << 10
	// DefaultMemoryLimit is the address space (RLIMIT_AS) a program may
	// map: 1 GiB.
	DefaultMemoryLimit = 1 << 30
)

// Spec is one run of an external program.
type Spec struct {
	// Path is the program: a name looked up in PATH or a path. Required.
	Path string
	// Args are the arguments after the program name.
	Args []string
	// Stdin is the program's input. Defaults to none (/dev/null).
	Stdin io.Reader
	// Env is the program's environment. Defaults to the server's.
	Env []string
	// Timeout bounds the run; past it the process group is killed and the
	// run fails with ErrTimeout. Defaults to 1 minute.
	Timeout time.Duration
	// WaitDelay bounds the wait for the program's pipes to close once it
	// exited or was killed (a grandchild may hold them). Defaults to 5 s.
	WaitDelay time.Duration
	// MaxStdout caps what the program may write to stdout, collected or
	// streamed to Stdout. Over it the process group is killed and the run
	// fails with ErrOutputLimit, unless TruncateStdout is set. Negative
	// means no cap, which only a streamed stdout may have. Defaults to
	// 64 MiB. Not applied to StdoutPipe, whose reader bounds what it keeps.
	MaxStdout int64
	// TruncateStdout keeps the first MaxStdout bytes and drops the rest
	// (Result.StdoutTruncated) instead of killing the program. Defaults to
	// false.
	TruncateStdout bool
	// Stdout, if set, receives stdout as it comes instead of Result.Stdout.
	// Defaults to nil: stdout is collected.
	Stdout io.Writer
	// StdoutPipe hands stdout over as Process.Stdout, a pipe the caller
	// reads while the program runs; the program blocks while it is not
	// read. Only with Start. Defaults to false.
	StdoutPipe bool
	// MaxStderr is how much of stderr is kept in Result.Stderr and
	// Error.Stderr; the rest is dropped. Defaults to 64 KiB.
	MaxStderr int
	// Stderr, if set, also sees every byte of stderr as it comes, uncapped;
	// it must not block. Defaults to nil.
	Stderr io.Writer
	// MemoryLimit is the address space the program may map (RLIMIT_AS, on
	// Linux). Negative means no limit. Defaults to DefaultMemoryLimit
	// (1 GiB).
	MemoryLimit int64
}

func (s *Spec) setDefaults() {
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.WaitDelay == 0 {
		s.WaitDelay = DefaultWaitDelay
	}
	if s.MaxStdout == 0 {
		s.MaxStdout = DefaultMaxStdout
	}
	if s.MaxStderr == 0 {
		s.MaxStderr = DefaultMaxStderr
	}
	if s.MemoryLimit == 0 {
		s.MemoryLimit = DefaultMemoryLimit
	}
}

// Validate reports specs that make no sense.
func (s Spec) Validate() error {
	switch {
	case s.Path == "":
		return errors.New("command: Spec.Path is empty")
	case s.Timeout < 0:
		return fmt.Errorf("command: Spec.Timeout is %v, want >= 0", s.Timeout)
	case s.WaitDelay < 0:
		return fmt.Errorf("command: Spec.WaitDelay is %v, want >= 0", s.WaitDelay)
	case s.MaxStderr < 0:
		return fmt.Errorf("command: Spec.MaxStderr is %d, want >= 0", s.MaxStderr)
	case s.StdoutPipe && s.Stdout != nil:
		return errors.New("command: Spec.StdoutPipe and Spec.Stdout are both set")
	case s.MaxStdout < 0 && s.Stdout == nil && !s.StdoutPipe:
		return errors.New("command: a collected stdout needs a cap (Spec.MaxStdout >= 0)")
	}
	return nil
}

// Result is what a run that started left.
type Result struct {
	// Stdout is the collected stdout; nil when it was streamed.
	Stdout []byte
	// StdoutTruncated reports output dropped past MaxStdout
	// (TruncateStdout).
	StdoutTruncated bool
	// Stderr is the first MaxStderr bytes of stderr.
	Stderr []byte
	// ExitCode is the exit status, or -1 when the program was killed.
	ExitCode int
	// Duration is the wall time from start to exit.
	Duration time.Duration
}

// Run runs the program to its end. It returns a Result whenever the program
// started, also along with an error; the error is an *Error (see its Kind)
// or the caller's context error wrapped in one.
func Run(ctx context.Context, s Spec) (*Result, error) {
	if s.StdoutPipe {
		return nil, errors.New("command: Run with Spec.StdoutPipe; use Start")
	}
	p, err := Start(ctx, s)
	if err != nil {
		return nil, err
	}
	return p.Wait()
}

// Process is a running program, from Start.
type Process struct {
	// Stdout is the read end of the program's stdout with Spec.StdoutPipe,
	// nil otherwise. Wait closes it.
	Stdout *os.File

	spec    Spec
	program string
	cmd     *exec.Cmd
	parent  context.Context
	ctx     context.Context
	cancel  context.CancelFunc
	stdout  *capWriter
	stderr  *keepWriter
	started time.Time
	// exited is closed when the program has exited and its stderr has been
	// copied; werr is then exec's Wait error.
	exited chan struct{}
	werr   error

	waitOnce sync.Once
	res      *Result
	err      error
}

// Start starts the program and returns while it runs. The caller must call
// Wait or Stop.
func Start(ctx context.Context, s Spec) (*Process, error) {
	s.setDefaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	program := filepath.Base(s.Path)
	path, err := exec.LookPath(s.Path)
	if err != nil {
		return nil, &Error{Program: program, Kind: ErrNotFound, Err: err, ExitCode: -1}
	}
	rctx, cancel := context.WithTimeout(ctx, s.Timeout)
	cmd := exec.CommandContext(rctx, path, s.Args...)
	cmd.Env = s.Env
	cmd.WaitDelay = s.WaitDelay
	setProcessGroup(cmd)
	p := &Process{spec: s, program: program, cmd: cmd, parent: ctx, ctx: rctx, cancel: cancel}

	limited := s.MemoryLimit > 0 && memoryLimitSupported
	var gate chan struct{}
	if s.Stdin != nil {
		if limited {
			gate = make(chan struct{})
			cmd.Stdin = &gatedReader{gate: gate, r: s.Stdin}
		} else {
			cmd.Stdin = s.Stdin
		}
	}
	var pipeW *os.File
	switch {
	case s.StdoutPipe:
		r, w, err := os.Pipe()
		if err != nil {
			cancel()
			return nil, fmt.Errorf("command: %s: stdout pipe: %w", program, err)
		}
		p.Stdout, pipeW, cmd.Stdout = r, w, w
	default:
		dst := s.Stdout
		if dst == nil {
			dst = &bytes.Buffer{}
		}
		p.stdout = &capWriter{w: dst, max: s.MaxStdout, truncate: s.TruncateStdout, over: cancel}
		cmd.Stdout = p.stdout
	}
	p.stderr = &keepWriter{max: s.MaxStderr, tee: s.Stderr}
	cmd.Stderr = p.stderr

	err = cmd.Start()
	if pipeW != nil {
		// The child holds its own copy; closing ours ends the reader's
		// reads when the program exits.
		pipeW.Close()
	}
	if err != nil {
		cancel()
		if p.Stdout != nil {
			p.Stdout.Close()
		}
		kind := error(ErrExit)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			kind = ErrNotFound
		}
		return nil, &Error{Program: program, Kind: kind, Err: err, ExitCode: -1}
	}
	p.started = time.Now()
	if limited {
		if err := limitMemory(cmd.Process.Pid, s.MemoryLimit); err != nil {
			cancel()
			_ = cmd.Wait()
			if p.Stdout != nil {
				p.Stdout.Close()
			}
			return nil, fmt.Errorf("command: %s: set memory limit: %w", program, err)
		}
	}
	if gate != nil {
		close(gate)
	}
	// Reaping the program at once, not in Wait, lets Exited tell a reader
	// of stdout that no more stderr is coming. exec's Wait neither reads
	// nor closes the stdout pipe's read end, so nothing is lost.
	p.exited = make(chan struct{})
	go func() {
		p.werr = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Exited is closed once the program has exited and everything it wrote to
// stderr has been passed on to Spec.Stderr; stdout may still hold data
// for the reader of a pipe.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Pid returns the program's process id, which is also its process group's.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop kills the process group if it still runs and waits for it. The
// error of a run stopped this way is the one Wait gives, whose Kind is
// context.Canceled when the program had not ended by itself.
func (p *Process) Stop() (*Result, error) {
	p.cancel()
	return p.Wait()
}

// Wait waits for the program to exit and its output to be copied, then
// classifies the run. It may be called more than once.
func (p *Process) Wait() (*Result, error) {
	p.waitOnce.Do(func() {
		<-p.exited
		werr := p.werr
		if p.Stdout != nil {
			p.Stdout.Close()
		}
		p.res = &Result{
			Stderr:   p.stderr.buf.Bytes(),
			ExitCode: p.cmd.ProcessState.ExitCode(),
			Duration: time.Since(p.started),
		}
		if p.stdout != nil {
			if b, ok := p.stdout.w.(*bytes.Buffer); ok && p.spec.Stdout == nil {
				p.res.Stdout = b.Bytes()
			}
			p.res.StdoutTruncated = p.stdout.dropped
		}
		// Read before the cancel below, which only releases the context.
		runErr := p.ctx.Err()
		p.cancel()
		p.err = p.classify(werr, runErr)
	})
	return p.res, p.err
}

// classify turns the end of the run into its error, nil for a clean exit.
// runErr is the run context's error when the program ended.
func (p *Process) classify(werr, runErr error) error {
	e := &Error{Program: p.program, Err: werr, ExitCode: p.res.ExitCode,
		Stderr: strings.TrimSpace(string(p.res.Stderr))}
	switch {
	case p.stdout != nil && p.stdout.exceeded():
		e.Kind, e.Limit, e.Err = ErrOutputLimit, p.spec.MaxStdout, nil
	case p.parent.Err() != nil:
		e.Kind, e.Err = p.parent.Err(), nil
	case errors.Is(runErr, context.DeadlineExceeded):
		e.Kind, e.Err = ErrTimeout, fmt.Errorf("after %v: %w", p.spec.Timeout, context.DeadlineExceeded)
	case errors.Is(runErr, context.Canceled):
		// Stop: the caller ended the run.
		e.Kind, e.Err = context.Canceled, nil
	case werr == nil:
		return nil
	case p.spec.MemoryLimit > 0 && memoryLimitSupported && outOfMemory(p.cmd.ProcessState, p.res.Stderr):
		e.Kind, e.Limit = ErrMemoryLimit, p.spec.MemoryLimit
	default:
		e.Kind = ErrExit
	}
	return e
}

// memoryWords are what programs print when an allocation failed, in lower
// case: glibc's strerror(ENOMEM), C++'s std::bad_alloc, Python's
// MemoryError, Go's runtime, poppler and ffmpeg.
var memoryWords = []string{
	"cannot allocate memory", "bad_alloc", "out of memory", "memoryerror",
	"memory exhausted", "failed to allocate", "allocation failed", "not enough memory",
}

// outOfMemory reports whether a program that failed under a memory limit
// failed for want of memory: it died of a signal a failed allocation
// brings (abort, or a fault on the NULL an unchecked malloc returned), or
// it said so.
func outOfMemory(st *os.ProcessState, stderr []byte) bool {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		switch ws.Signal() {
		case syscall.SIGABRT, syscall.SIGSEGV, syscall.SIGBUS:
			return true
		}
	}
	low := bytes.ToLower(stderr)
	for _, w := range memoryWords {
		if bytes.Contains(low, []byte(w)) {
			return true
		}
	}
	return false
}

// gatedReader blocks reads until gate is closed: stdin reaches the program
// only once its memory limit holds.
type gatedReader struct {
	gate chan struct{}
	r    io.Reader
}

func (g *gatedReader) Read(p []byte) (int, error) {
	<-g.gate
	return g.r.Read(p)
}

// capWriter passes at most max bytes to w (max < 0: all). Past it, it
// drops the rest when truncate is set, else it calls over, which kills the
// program, and fails the write.
type capWriter struct {
	w        io.Writer
	max      int64
	truncate bool
	over     func()

	mu      sync.Mutex
	n       int64
	dropped bool
	hit     bool
}

var errCapped = errors.New("command: stdout cap reached")

func (c *capWriter) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hit {
		return 0, errCapped
	}
	if c.max < 0 || c.n+int64(len(b)) <= c.max {
		n, err := c.w.Write(b)
		c.n += int64(n)
		return n, err
	}
	room := c.max - c.n
	if room > 0 {
		n, err := c.w.Write(b[:room])
		c.n += int64(n)
		if err != nil {
			return n, err
		}
	}
	if c.truncate {
		c.dropped = true
		return len(b), nil
	}
	c.hit = true
	c.over()
	return int(max(room, 0)), errCapped
}

func (c *capWriter) exceeded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hit
}

// keepWriter keeps the first max bytes written to it and passes every byte
// to tee, if set.
type keepWriter struct {
	max int
	tee io.Writer
	buf bytes.Buffer
}

func (k *keepWriter) Write(b []byte) (int, error) {
	if room := k.max - k.buf.Len(); room > 0 {
		k.buf.Write(b[:min(len(b), room)])
	}
	if k.tee != nil {
		_, _ = k.tee.Write(b)
	}
	return len(b), nil
}
