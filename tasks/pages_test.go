package tasks_test

import (
	"slices"
	"testing"

	"github.com/mmq/mmq/tasks"
)

func TestParsePages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		total int
		want  []int
		canon string
	}{
		{"", 3, []int{1, 2, 3}, ""},
		{"  ", 2, []int{1, 2}, ""},
		{"1-3,7,10-", 12, []int{1, 2, 3, 7, 10, 11, 12}, "1-3,7,10-"},
		{"40-, 2-3", 45, []int{2, 3, 40, 41, 42, 43, 44, 45}, "40-,2-3"},
		{"2,2,1-2", 5, []int{1, 2}, "2,2,1-2"},
		{" 3 - 4 ", 4, []int{3, 4}, "3-4"},
		{"5", 5, []int{5}, "5"},
		{"1-", 1, []int{1}, "1-"},
		{"007", 9, []int{7}, "7"},
	}
	for _, tt := range tests {
		sel, err := tasks.ParsePages(tt.in)
		if err != nil {
			t.Errorf("ParsePages(%q): %v", tt.in, err)
			continue
		}
		if err := sel.Check(tt.total); err != nil {
			t.Errorf("ParsePages(%q).Check(%d): %v", tt.in, tt.total, err)
		}
		if got := slices.Collect(sel.Pages(tt.total)); !slices.Equal(got, tt.want) {
			t.Errorf("ParsePages(%q).Pages(%d) = %v, want %v", tt.in, tt.total, got, tt.want)
		}
		if got := sel.Count(tt.total); got != len(tt.want) {
			t.Errorf("ParsePages(%q).Count(%d) = %d, want %d", tt.in, tt.total, got, len(tt.want))
		}
		for n := 0; n <= tt.total; n++ {
			if got, want := sel.Contains(n), slices.Contains(tt.want, n); got != want {
				t.Errorf("ParsePages(%q).Contains(%d) = %v, want %v", tt.in, n, got, want)
			}
		}
		if got := sel.String(); got != tt.canon {
			t.Errorf("ParsePages(%q).String() = %q, want %q", tt.in, got, tt.canon)
		}
	}
}

func TestParsePagesRefuses(t *testing.T) {
	t.Parallel()
	for _, in := range []string{",", "1,", "0", "0-3", "-3", "3-2", "a", "1-b", "1--3", "+1", "-", "1.5", "99999999999999999999", "1 2"} {
		if _, err := tasks.ParsePages(in); tasks.ErrorCode(err) != tasks.CodeInvalidRequest {
			t.Errorf("ParsePages(%q): %v, want %s", in, err, tasks.CodeInvalidRequest)
		}
	}
}

func TestPageSelectionCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		total int
		ok    bool
	}{
		{"1-5", 5, true},
		{"1-6", 5, false},
		{"6-", 5, false},
		{"5-", 5, true},
		{"2,9", 5, false},
		{"", 0, true},
	}
	for _, tt := range tests {
		sel, err := tasks.ParsePages(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		err = sel.Check(tt.total)
		if (err == nil) != tt.ok || (err != nil && tasks.ErrorCode(err) != tasks.CodeInvalidRequest) {
			t.Errorf("ParsePages(%q).Check(%d) = %v, want ok %v", tt.in, tt.total, err, tt.ok)
		}
	}
}

func TestSelectPagesMaxPages(t *testing.T) {
	t.Parallel()
	o := tasks.Options{Pages: "1-3", MaxPages: 3}
	if _, n, err := o.SelectPages(1000); err != nil || n != 3 {
		t.Errorf("3 of 1000 pages with max_pages 3: %d, %v", n, err)
	}
	if o.OpenLimit() != 0 {
		t.Errorf("OpenLimit with a selection = %d, want 0", o.OpenLimit())
	}
	o.Pages = "1-4"
	if _, _, err := o.SelectPages(1000); tasks.ErrorCode(err) != tasks.CodeTooManyPages {
		t.Errorf("4 pages with max_pages 3: %v, want %s", err, tasks.CodeTooManyPages)
	}
}

// FuzzParsePages: ParsePages never panics, and what it accepts prints in a
// form that parses to the same pages.
func FuzzParsePages(f *testing.F) {
	for _, s := range []string{"", "1-3,7,10-", "40-, 2-3", "0", "3-2", "1,,2", "9999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := tasks.ParsePages(s)
		if err != nil {
			if tasks.ErrorCode(err) != tasks.CodeInvalidRequest {
				t.Fatalf("ParsePages(%q): %v", s, err)
			}
			return
		}
		again, err := tasks.ParsePages(sel.String())
		if err != nil {
			t.Fatalf("ParsePages(%q) printed %q, which does not parse: %v", s, sel.String(), err)
		}
		const total = 50
		a, b := slices.Collect(sel.Pages(total)), slices.Collect(again.Pages(total))
		if !slices.Equal(a, b) || sel.Count(total) != len(a) {
			t.Fatalf("ParsePages(%q): pages %v, after printing %v, count %d", s, a, b, sel.Count(total))
		}
		for i, n := range a {
			if n < 1 || n > total || (i > 0 && n <= a[i-1]) || !sel.Contains(n) {
				t.Fatalf("ParsePages(%q).Pages(%d) = %v: not ascending within 1..%d", s, total, a, total)
			}
		}
	})
}
