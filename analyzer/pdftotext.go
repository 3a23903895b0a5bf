package analyzer

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mmq/mmq/internal/command"
)

// maxStderrBytes bounds the stderr kept from one pdftotext run.
const maxStderrBytes = 4 << 10

// maxStderrSummary bounds the stderr summary put into an error.
const maxStderrSummary = 300

// pdfToText runs `pdftotext -layout -enc UTF-8 - -` at path on pdf through
// internal/command (at most timeout per run, a memory limit, its process
// group killed at the end) and returns its text without the trailing form
// feed. Output beyond maxText bytes is dropped and reported by truncated.
// A failed run's error is a *command.Error whose stderr is summarized.
func pdfToText(ctx context.Context, path string, timeout time.Duration, pdf []byte, maxText int) (text string, truncated bool, err error) {
	out, truncated, err := runPDFToText(ctx, path, timeout, pdf, 0, 0, maxText)
	if err != nil {
		return "", false, err
	}
	return cleanLayoutText(strings.ToValidUTF8(string(out), "\uFFFD")), truncated, nil
}

// runPDFToText runs pdftotext as pdfToText does, on pages first to last of
// pdf (all of them when first is 0), and returns its raw output: each page's
// text followed by a form feed, cut at maxOut bytes.
func runPDFToText(ctx context.Context, path string, timeout time.Duration, pdf []byte, first, last, maxOut int) (out []byte, truncated bool, err error) {
	args := []string{"-layout", "-enc", "UTF-8"}
	if first > 0 {
		args = append(args, "-f", strconv.Itoa(first), "-l", strconv.Itoa(last))
	}
	res, err := command.Run(ctx, command.Spec{
		Path:           path,
		Args:           append(args, "-", "-"),
		Stdin:          bytes.NewReader(pdf),
		Timeout:        timeout,
		MaxStdout:      int64(maxOut),
		TruncateStdout: true,
		MaxStderr:      maxStderrBytes,
	})
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up: that is not pdftotext's failure.
			return nil, false, ctx.Err()
		}
		var cerr *command.Error
		if errors.As(err, &cerr) {
			cerr.Stderr = summarize(cerr.Stderr)
		}
		return nil, false, err
	}
	return res.Stdout, res.StdoutTruncated, nil
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
