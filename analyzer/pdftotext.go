package analyzer

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	// maxStderrBytes bounds the stderr kept from one pdftotext run.
	maxStderrBytes = 4 << 10
	// maxStderrSummary bounds the stderr summary put into an error.
	maxStderrSummary = 300
	// waitDelay bounds the wait for pdftotext's pipes to close after it was
	// killed, in case something it started still holds them.
	waitDelay = 2 * time.Second
)

// pdfToTextError is a failed pdftotext run.
type pdfToTextError struct {
	// Err is the run's error: an exit status, a start failure, or the
	// per-call timeout (context.DeadlineExceeded).
	Err error
	// Stderr summarizes what pdftotext wrote to stderr.
	Stderr string
}

func (e *pdfToTextError) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("pdftotext: %v", e.Err)
	}
	return fmt.Sprintf("pdftotext: %v: %s", e.Err, e.Stderr)
}

func (e *pdfToTextError) Unwrap() error { return e.Err }

// pdfToText runs `pdftotext -layout -enc UTF-8 - -` at path on pdf, with at
// most timeout per run, and returns its text without the trailing form feed.
// Output beyond maxText bytes is dropped and reported by truncated.
func pdfToText(ctx context.Context, path string, timeout time.Duration, pdf []byte, maxText int) (text string, truncated bool, err error) {
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(runCtx, path, "-layout", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	stdout := &cappedBuffer{max: maxText}
	stderr := &cappedBuffer{max: maxStderrBytes}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = waitDelay

	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			// The caller gave up: that is not pdftotext's failure.
			return "", false, ctx.Err()
		}
		if runCtx.Err() != nil {
			err = fmt.Errorf("timed out after %v: %w", timeout, context.DeadlineExceeded)
		}
		return "", false, &pdfToTextError{Err: err, Stderr: summarize(stderr.String())}
	}
	out := strings.ToValidUTF8(stdout.String(), "\uFFFD")
	return cleanLayoutText(out), stdout.truncated, nil
}

// cleanLayoutText strips the form feeds pdftotext ends pages with and the
// trailing blanks of every line; the leading blanks of -layout stay.
func cleanLayoutText(s string) string {
	s = strings.ReplaceAll(s, "\f", "")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

// summarize reduces stderr to its first distinct lines, short enough for an
// error message.
func summarize(stderr string) string {
	var (
		seen  = map[string]bool{}
		parts []string
		n     int
	)
	for l := range strings.Lines(stderr) {
		l = strings.TrimSpace(l)
		if l == "" || seen[l] {
			continue
		}
		seen[l] = true
		parts = append(parts, l)
		n += len(l) + 2
		if n >= maxStderrSummary {
			break
		}
	}
	s := strings.Join(parts, "; ")
	if len(s) > maxStderrSummary {
		s = s[:maxStderrSummary]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

// cappedBuffer keeps the first max bytes written to it and discards the rest,
// so that a runaway process cannot exhaust memory.
type cappedBuffer struct {
	bytes.Buffer
	max       int
	truncated bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		b.truncated = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
