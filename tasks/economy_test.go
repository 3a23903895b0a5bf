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
