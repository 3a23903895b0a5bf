package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mmq/mmq/internal/command"
	"github.com/mmq/mmq/tasks"
)

// ffmpegWaitDelay bounds how long a run waits for ffmpeg's pipes to close
// after the process was killed.
const ffmpegWaitDelay = 5 * time.Second

// maxLineBytes bounds one stderr line kept for parsing; the rest of a longer
// line is dropped.
const maxLineBytes = 4 << 10

// ffmpegMemoryLimit is the address space (RLIMIT_AS) of one ffmpeg or
// ffprobe run. Address space, not resident memory: ffmpeg's threads and
// malloc arenas reserve far more than they touch. Measured on a 2-core
// machine, extracting a frame a second from a 4K H.264 video needs under
// 512 MiB and from an 8K (7680x4320, MaxPixels' default) HEVC video 2 GiB;
// 4 GiB leaves room for the threads of a larger machine and still stops a
// stream that would decode to more.
const ffmpegMemoryLimit = 4 << 30

// maxErrorLines bounds the distinct error lines kept from one run.
const maxErrorLines = 5

// ffmpegRun is one ffmpeg or ffprobe process, run through internal/command:
// a process group of its own killed as a whole when the run's context ends
// or stop is called, a deadline, and the package's address-space limit.
// Its stdout is a pipe the caller reads; its stderr is split into lines as
// it comes, each handed to onLine, the error lines kept.
type ffmpegRun struct {
	proc   *command.Process
	stdout *os.File
	// parent is the caller's context, to tell a cancellation from a timeout.
	parent  context.Context
	timeout time.Duration
	// input is replaced by "input" in error messages: clients do not learn
	// the server's paths.
	input  string
	onLine func(string)

	// stderrDone is closed once stderr is read to its end.
	stderrDone chan struct{}
	// partial is the stderr line being written; only the writer (the
	// process's stderr copier) and wait, after it ended, touch it.
	partial  []byte
	errMu    sync.Mutex
	errLines []string
	errCount int

	waitOnce sync.Once
	waitErr  error
}

// startFFmpeg starts bin with args under ctx and timeout. onLine, if not
// nil, sees every stderr line (without its newline) as it comes; it must
// not block.
func startFFmpeg(ctx context.Context, bin string, args []string, timeout time.Duration, input string, onLine func(string)) (*ffmpegRun, error) {
	r := &ffmpegRun{parent: ctx, timeout: timeout, input: input, onLine: onLine, stderrDone: make(chan struct{})}
	proc, err := command.Start(ctx, command.Spec{
		Path:        bin,
		Args:        args,
		Timeout:     timeout,
		WaitDelay:   ffmpegWaitDelay,
		StdoutPipe:  true,
		MaxStderr:   maxLineBytes,
		MemoryLimit: ffmpegMemoryLimit,
		Stderr:      stderrLines{r},
	})
	if errors.Is(err, command.ErrNotFound) {
		return nil, tasks.WrapError(tasks.CodeFFmpegUnavailable, err, "ffmpeg is not installed on this worker")
	}
	if err != nil {
		return nil, fmt.Errorf("media: start %s: %w", filepath.Base(bin), err)
	}
	r.proc, r.stdout = proc, proc.Stdout
	go func() {
		<-proc.Exited()
		// The copier has stopped writing: the last line needs no newline.
		r.line()
		close(r.stderrDone)
	}()
	return r, nil
}

// stderrLines is the io.Writer that splits a run's stderr into lines.
type stderrLines struct{ r *ffmpegRun }

func (w stderrLines) Write(p []byte) (int, error) {
	r, b := w.r, p
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		if room := maxLineBytes - len(r.partial); room > 0 {
			r.partial = append(r.partial, chunk[:min(len(chunk), room)]...)
		}
		if i < 0 {
			break
		}
		r.line()
		b = b[i+1:]
	}
	return len(p), nil
}

// line hands the complete line in partial on and starts the next.
func (r *ffmpegRun) line() {
	line := strings.TrimRight(string(r.partial), "\r")
	r.partial = r.partial[:0]
	if line == "" {
		return
	}
	if r.onLine != nil {
		r.onLine(line)
	}
	if isErrorLine(line) {
		r.keepError(line)
	}
}

// isErrorLine reports a line ffmpeg logged at level error or worse; with
// -loglevel level+... every line carries its level in brackets.
func isErrorLine(line string) bool {
	return strings.Contains(line, "[error] ") || strings.Contains(line, "[fatal] ") || strings.Contains(line, "[panic] ")
}

// contextPrefix matches ffmpeg's "[h264 @ 0x5583...] " and level tags.
var contextPrefix = regexp.MustCompile(`\[[^\]]* @ 0x[0-9a-f]+\] |\[(?:error|fatal|panic|warning|info)\] `)

func (r *ffmpegRun) keepError(line string) {
	msg := strings.TrimSpace(contextPrefix.ReplaceAllString(line, ""))
	if r.input != "" {
		msg = strings.ReplaceAll(msg, "file:"+r.input, "input")
		msg = strings.ReplaceAll(msg, r.input, "input")
	}
	r.errMu.Lock()
	defer r.errMu.Unlock()
	r.errCount++
	if len(r.errLines) < maxErrorLines && !slices.Contains(r.errLines, msg) {
		r.errLines = append(r.errLines, msg)
	}
}

// errors returns how many error lines the process logged so far and a
// summary of the first distinct ones.
func (r *ffmpegRun) errors() (int, string) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	s := strings.Join(r.errLines, "; ")
	if len(s) > 400 {
		s = s[:397] + "..."
	}
	return r.errCount, s
}

// wait waits for the process and its stderr. It returns the context's
// error when the run was canceled, a CodeTimeout error when it ran out of
// time, and otherwise the run's *command.Error (an exit status, the memory
// limit).
func (r *ffmpegRun) wait() error {
	r.waitOnce.Do(func() {
		_, err := r.proc.Wait()
		<-r.stderrDone
		switch {
		case r.parent.Err() != nil:
			err = r.parent.Err()
		case errors.Is(err, command.ErrTimeout):
			err = tasks.WrapError(tasks.CodeTimeout, err, fmt.Sprintf("ffmpeg took longer than %v", r.timeout))
		}
		r.waitErr = err
	})
	return r.waitErr
}

// stop kills the process group if it is still running and waits for it.
func (r *ffmpegRun) stop() error {
	_, _ = r.proc.Stop()
	return r.wait()
}
