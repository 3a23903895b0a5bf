package command_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/internal/command"
)

// need fails the test when a program it runs is not installed: every
// one of them is part of a Debian base system.
func need(t *testing.T, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is not installed", p)
		}
	}
}

// allocBytes is what the memory-limit test allocates: over a 256 MiB
// limit, under the default 1 GiB.
const allocBytes = 384 << 20

func TestRunOutputs(t *testing.T) {
	need(t, "sh", "cat", "head")
	big := bytes.Repeat([]byte("0123456789"), 100_000)
	tests := []struct {
		name          string
		spec          command.Spec
		stdout        string
		stdoutLen     int
		truncated     bool
		stderr        string
		stderrLen     int
		wantExitCode  int
		wantErrorKind error
	}{
		{name: "both streams", spec: command.Spec{Path: "sh", Args: []string{"-c", "printf out; printf err >&2"}},
			stdout: "out", stderr: "err"},
		{name: "stdin to stdout", spec: command.Spec{Path: "cat", Stdin: bytes.NewReader(big)},
			stdout: string(big)},
		{name: "exit status kept", spec: command.Spec{Path: "sh", Args: []string{"-c", "printf partial; echo broken >&2; exit 3"}},
			stdout: "partial", stderr: "broken\n", wantExitCode: 3, wantErrorKind: command.ErrExit},
		{name: "stdout truncated", spec: command.Spec{Path: "head", Args: []string{"-c", "3000000", "/dev/zero"}, MaxStdout: 1000, TruncateStdout: true},
			stdoutLen: 1000, truncated: true},
		{name: "stderr kept up to its cap", spec: command.Spec{Path: "sh", Args: []string{"-c", "head -c 1000000 /dev/zero >&2"}, MaxStderr: 100},
			stderrLen: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := command.Run(t.Context(), tt.spec)
			if tt.wantErrorKind == nil && err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tt.wantErrorKind != nil {
				var e *command.Error
				if !errors.Is(err, tt.wantErrorKind) || !errors.As(err, &e) {
					t.Fatalf("Run error = %v, want an *Error of kind %v", err, tt.wantErrorKind)
				}
				if e.ExitCode != tt.wantExitCode || e.Stderr != strings.TrimSpace(tt.stderr) {
					t.Errorf("Error exit code %d stderr %q, want %d %q", e.ExitCode, e.Stderr, tt.wantExitCode, tt.stderr)
				}
			}
			if res == nil {
				t.Fatal("no Result for a program that ran")
			}
			if tt.stdout != "" && string(res.Stdout) != tt.stdout {
				t.Errorf("stdout = %.40q (%d bytes), want %.40q (%d bytes)", res.Stdout, len(res.Stdout), tt.stdout, len(tt.stdout))
			}
			if tt.stdoutLen != 0 && len(res.Stdout) != tt.stdoutLen {
				t.Errorf("stdout has %d bytes, want %d", len(res.Stdout), tt.stdoutLen)
			}
			if res.StdoutTruncated != tt.truncated {
				t.Errorf("StdoutTruncated = %v, want %v", res.StdoutTruncated, tt.truncated)
			}
			if tt.stderr != "" && string(res.Stderr) != tt.stderr {
				t.Errorf("stderr = %q, want %q", res.Stderr, tt.stderr)
			}
			if tt.stderrLen != 0 && len(res.Stderr) != tt.stderrLen {
				t.Errorf("stderr has %d bytes, want %d", len(res.Stderr), tt.stderrLen)
			}
			if res.ExitCode != tt.wantExitCode {
				t.Errorf("ExitCode = %d, want %d", res.ExitCode, tt.wantExitCode)
			}
		})
	}
}

func TestRunNotFound(t *testing.T) {
	for _, path := range []string{"mmq-no-such-program", filepath.Join(t.TempDir(), "missing")} {
		_, err := command.Run(t.Context(), command.Spec{Path: path})
		var e *command.Error
		if !errors.Is(err, command.ErrNotFound) || !errors.As(err, &e) || e.Program != filepath.Base(path) {
			t.Errorf("Run(%s) = %v, want ErrNotFound naming %s", path, err, filepath.Base(path))
		}
	}
}

// TestStdoutOverCapKillsTheProgram runs `yes`, which writes forever: the
// run must end at the cap, quickly, with the first bytes kept.
func TestStdoutOverCapKillsTheProgram(t *testing.T) {
	need(t, "yes")
	start := time.Now()
	res, err := command.Run(t.Context(), command.Spec{Path: "yes", MaxStdout: 1 << 20})
	var e *command.Error
	if !errors.Is(err, command.ErrOutputLimit) || !errors.As(err, &e) || e.Limit != 1<<20 {
		t.Fatalf("Run = %v, want ErrOutputLimit at 1 MiB", err)
	}
	if len(res.Stdout) != 1<<20 || !bytes.HasPrefix(res.Stdout, []byte("y\ny\n")) {
		t.Errorf("kept %d bytes starting %.8q, want 1 MiB of y lines", len(res.Stdout), res.Stdout)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the run took %v, want it killed at once", d)
	}
}

// TestStdoutStreamedUnderTheCap streams stdout into a file, the way a
// large output is kept off the heap, with the same cap.
func TestStdoutStreamedUnderTheCap(t *testing.T) {
	need(t, "head")
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := command.Run(t.Context(), command.Spec{Path: "head", Args: []string{"-c", "200000", "/dev/zero"}, Stdout: f, MaxStdout: 300000})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := f.Stat(); st.Size() != 200000 || res.Stdout != nil {
		t.Errorf("file has %d bytes and Result.Stdout %d, want 200000 and nil", st.Size(), len(res.Stdout))
	}
	_, err = command.Run(t.Context(), command.Spec{Path: "head", Args: []string{"-c", "200000", "/dev/zero"}, Stdout: io.Discard, MaxStdout: 100000})
	if !errors.Is(err, command.ErrOutputLimit) {
		t.Errorf("streamed over the cap: %v, want ErrOutputLimit", err)
	}
}

func TestStdoutPipe(t *testing.T) {
	need(t, "head")
	p, err := command.Start(t.Context(), command.Spec{Path: "head", Args: []string{"-c", "300000", "/dev/zero"}, StdoutPipe: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(p.Stdout)
	if err != nil || len(b) != 300000 {
		t.Errorf("read %d bytes (%v), want 300000", len(b), err)
	}
	if _, err := p.Wait(); err != nil {
		t.Errorf("Wait: %v", err)
	}
}

func TestSpecValidate(t *testing.T) {
	for _, s := range []command.Spec{
		{},
		{Path: "sh", Timeout: -1},
		{Path: "sh", MaxStdout: -1},
		{Path: "sh", StdoutPipe: true, Stdout: io.Discard},
	} {
		if _, err := command.Start(t.Context(), s); err == nil || errors.Is(err, command.ErrNotFound) {
			t.Errorf("Start(%+v) = %v, want a Validate error", s, err)
		}
	}
	if _, err := command.Run(t.Context(), command.Spec{Path: "sh", StdoutPipe: true}); err == nil {
		t.Error("Run with StdoutPipe succeeded")
	}
}
