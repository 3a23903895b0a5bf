package tasks_test

import (
	"testing"

	"github.com/mmq/mmq/tasks"
)

func TestModeValid(t *testing.T) {
	for m, want := range map[tasks.Mode]bool{"": true, "realtime": true, "economy": true, "Economy": false, "batch": false} {
		if got := m.Valid(); got != want {
			t.Errorf("Mode(%q).Valid() = %v, want %v", m, got, want)
		}
	}
	if !(tasks.Options{Mode: tasks.ModeEconomy}).Economy() || (tasks.Options{}).Economy() {
		t.Error("Options.Economy: want true only for mode economy")
	}
}

func TestParseEconomyRef(t *testing.T) {
	u := tasks.EconomyUnit{JobID: "0190a8c2-7a1b-7c3d-9e4f-5a6b7c8d9e0f", Page: 7}
	job, page, err := tasks.ParseEconomyRef(u.Ref())
	if err != nil || job != u.JobID || page != 7 {
		t.Fatalf("ParseEconomyRef(%q) = %q, %d, %v", u.Ref(), job, page, err)
	}
	if len(u.Ref()) > 64 {
		t.Errorf("ref %q is longer than a custom_id may be", u.Ref())
	}
	for _, bad := range []string{"", "nopage", "_3", "a_-1", "a_x"} {
		if _, _, err := tasks.ParseEconomyRef(bad); err == nil {
			t.Errorf("ParseEconomyRef(%q): want an error", bad)
		}
	}
}
