package tasks_test

import (
	"strings"
	"testing"

	"github.com/mmq/mmq/tasks"
)

func TestParseKeyEntry(t *testing.T) {
	h := strings.Repeat("ab", 32)
	for _, c := range []struct {
		in, want string
	}{
		{h, h + " key-abababababab false"},
		{strings.ToUpper(h), h + " key-abababababab false"},
		{h + ":acme", h + " acme false"},
		{h + ":ops:admin", h + " ops true"},
		{h + ":Acme", "error"},
		{h + ":acme:root", "error"},
		{h + ":acme:admin:x", "error"},
		{h + ":", "error"},
		{"mmq_secretkeypastedbymistake", "error"},
		{h[:62], "error"},
	} {
		e, err := tasks.ParseKeyEntry(c.in)
		got := e.Hash + " " + e.Tenant + " " + map[bool]string{true: "true", false: "false"}[e.Admin]
		if err != nil {
			got = "error"
			if strings.Contains(err.Error(), "secretkeypasted") {
				t.Errorf("ParseKeyEntry(%q) error repeats the entry: %v", c.in, err)
			}
		}
		if got != c.want {
			t.Errorf("ParseKeyEntry(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
