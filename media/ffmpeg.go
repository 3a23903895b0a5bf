package media

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mmq/mmq/tasks"
)

// ffmpegWaitDelay bounds how long a run waits for ffmpeg's pipes to close
// after the process was killed.
const ffmpegWaitDelay = 5 * time.Second

// maxLineBytes bounds one stderr line kept for parsing; the rest of a longer
// line is dropped.
const maxLineBytes = 4 << 10

// maxErrorLines bounds the distinct error lines kept from one run.
const maxErrorLines = 5

// ffmpegRun is one ffmpeg or ffprobe process. Its stdout is a pipe the
// caller reads; its stderr is read by a goroutine of its own that never
// blocks the process, hands each line to onLine and keeps the error lines.
// The process runs in a process group of its own, killed as a whole when
// the run's context ends or stop is called.
type ffmpegRun struct {
	cmd    *exec.Cmd
	stdout *os.File
	cancel context.CancelFunc
	// ctx is the run's own context: the caller's with the run's timeout.
	ctx context.Context
	// parent is the caller's context, to tell a cancellation from a timeout.
	parent  context.Context
	timeout time.Duration
	// input is replaced by "input" in error messages: clients do not learn
	// the server's paths.
	input string

	stderrDone chan struct{}
	errMu      sync.Mutex
	errLines   []string
	errCount   int

	waitOnce sync.Once
	waitErr  error
}

// startFFmpeg starts bin with args under ctx and timeout. onLine, if not
// nil, sees every stderr line (without its newline) from the stderr
// goroutine; it must not block.
func startFFmpeg(ctx context.Context, bin string, args []string, timeout time.Duration, input string, onLine func(string)) (*ffmpegRun, error) {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	cmd := exec.CommandContext(rctx, bin, args...)
	setProcessGroup(cmd)
	cmd.WaitDelay = ffmpegWaitDelay

	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("media: ffmpeg pipe: %w", err)
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		cancel()
		stdoutR.Close()
		stdoutW.Close()
		return nil, fmt.Errorf("media: ffmpeg pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = stdoutW, stderrW
	err = cmd.Start()
	// The child holds its own copies of the write ends; closing ours makes
	// the reads end when the process does.
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		cancel()
		stdoutR.Close()
		stderrR.Close()
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return nil, tasks.WrapError(tasks.CodeFFmpegUnavailable, err, "ffmpeg is not installed on this worker")
		}
		return nil, fmt.Errorf("media: start %s: %w", bin, err)
	}
	r := &ffmpegRun{
		cmd: cmd, stdout: stdoutR, cancel: cancel, ctx: rctx, parent: ctx,
		timeout: timeout, input: input, stderrDone: make(chan struct{}),
	}
	go r.readStderr(stderrR, onLine)
	return r, nil
}

// readStderr reads stderr to its end, which comes when the process exits.
func (r *ffmpegRun) readStderr(f *os.File, onLine func(string)) {
	defer close(r.stderrDone)
	defer f.Close()
	br := bufio.NewReaderSize(f, maxLineBytes)
	for {
		line, err := readLine(br)
		if line != "" {
			if onLine != nil {
				onLine(line)
			}
			if isErrorLine(line) {
				r.keepError(line)
			}
		}
		if err != nil {
			return
		}
	}
}

// readLine returns the next line of br without its line ending, cut to
// maxLineBytes.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(b) < maxLineBytes {
			b = append(b, chunk[:min(len(chunk), maxLineBytes-len(b))]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return strings.TrimRight(string(b), "\r\n"), err
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
// time, and otherwise the process's exit error.
func (r *ffmpegRun) wait() error {
	r.waitOnce.Do(func() {
		err := r.cmd.Wait()
		<-r.stderrDone
		r.stdout.Close()
		switch {
		case r.parent.Err() != nil:
			err = r.parent.Err()
		case errors.Is(r.ctx.Err(), context.DeadlineExceeded):
			err = tasks.WrapError(tasks.CodeTimeout, r.ctx.Err(), fmt.Sprintf("ffmpeg took longer than %v", r.timeout))
		}
		r.cancel()
		r.waitErr = err
	})
	return r.waitErr
}

// stop kills the process group if it is still running and waits for it.
func (r *ffmpegRun) stop() error {
	r.cancel()
	return r.wait()
}
