//go:build linux

package command_test

// The tests that watch processes in /proc and the memory limit, which is
// applied on Linux only.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/internal/command"
	"github.com/mmq/mmq/internal/testwait"
)

// groupGone waits until no process of group pgid is alive: gone, or a
// zombie that only waits for init to reap it.
func groupGone(t *testing.T, pgid int) bool {
	t.Helper()
	if testwait.Until(t.Context(), 5*time.Second, func() bool { return len(liveMembers(pgid)) == 0 }) {
		return true
	}
	t.Logf("live members of group %d: %v", pgid, liveMembers(pgid))
	return false
}

// liveMembers returns the pids of group pgid that are not zombies.
func liveMembers(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestTimeoutKillsTheGroup runs a shell whose child sleeps: the deadline
// must kill both, and the run must say it timed out.
func TestTimeoutKillsTheGroup(t *testing.T) {
	need(t, "sh", "sleep")
	start := time.Now()
	p, err := command.Start(t.Context(), command.Spec{Path: "sh", Args: []string{"-c", "sleep 30 & sleep 30; wait"}, Timeout: 300 * time.Millisecond, WaitDelay: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Wait()
	if !errors.Is(err, command.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want ErrTimeout and context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timed-out run took %v", d)
	}
	if !groupGone(t, p.Pid()) {
		t.Errorf("process group %d still has members after the timeout", p.Pid())
	}
}

func TestCancelAndStop(t *testing.T) {
	need(t, "sleep")
	ctx, cancel := context.WithCancel(t.Context())
	p, err := command.Start(ctx, command.Spec{Path: "sleep", Args: []string{"30"}})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := p.Wait(); !errors.Is(err, context.Canceled) || errors.Is(err, command.ErrTimeout) {
		t.Errorf("canceled run: %v, want context.Canceled and not ErrTimeout", err)
	}

	p, err = command.Start(t.Context(), command.Spec{Path: "sleep", Args: []string{"30"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("stopped run: %v, want context.Canceled", err)
	}
	if !groupGone(t, p.Pid()) {
		t.Errorf("stopped process %d still exists", p.Pid())
	}
}

// TestMemoryLimitApplied reads the limit back from /proc while the program
// runs.
func TestMemoryLimitApplied(t *testing.T) {
	need(t, "sleep")
	for _, tt := range []struct {
		limit int64
		want  string
	}{{0, strconv.Itoa(command.DefaultMemoryLimit)}, {300 << 20, strconv.Itoa(300 << 20)}, {-1, "unlimited"}} {
		p, err := command.Start(t.Context(), command.Spec{Path: "sleep", Args: []string{"30"}, MemoryLimit: tt.limit})
		if err != nil {
			t.Fatal(err)
		}
		limits, err := os.ReadFile("/proc/" + strconv.Itoa(p.Pid()) + "/limits")
		p.Stop()
		if err != nil {
			t.Fatal(err)
		}
		var line string
		for l := range strings.Lines(string(limits)) {
			if strings.HasPrefix(l, "Max address space") {
				line = l
			}
		}
		if f := strings.Fields(line); len(f) < 5 || f[3] != tt.want || f[4] != tt.want {
			t.Errorf("MemoryLimit %d: %q, want soft and hard %s", tt.limit, line, tt.want)
		}
	}
}

// TestMemoryLimitStopsAnAllocation has Python allocate 384 MiB: refused
// under a 256 MiB limit, granted under the default 1 GiB, which shows that
// the limit and not something else made it fail.
func TestMemoryLimitStopsAnAllocation(t *testing.T) {
	// perl is Essential in Debian (perl-base); a Go program cannot be the
	// allocator, its runtime reserves more than 256 MiB of address space
	// before main.
	need(t, "perl")
	alloc := command.Spec{Path: "perl", Args: []string{"-e", `$x = "a" x $ARGV[0]; print length($x)`, strconv.Itoa(allocBytes)}}
	limited := alloc
	limited.MemoryLimit = 256 << 20
	res, err := command.Run(t.Context(), limited)
	var e *command.Error
	if !errors.Is(err, command.ErrMemoryLimit) || !errors.As(err, &e) || e.Limit != 256<<20 {
		t.Fatalf("under 256 MiB: %v, want ErrMemoryLimit", err)
	}
	if !strings.Contains(string(res.Stderr), "Out of memory") {
		t.Errorf("stderr %q, want perl's Out of memory", res.Stderr)
	}
	res, err = command.Run(t.Context(), alloc)
	if err != nil || strings.TrimSpace(string(res.Stdout)) != strconv.Itoa(allocBytes) {
		t.Errorf("under the default limit: %v, stdout %q; want the allocation to succeed", err, res.Stdout)
	}
}
