package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/internal/imagetest"
	"github.com/mmq/mmq/tasks"
)

// Images are documents: a PNG and a JPEG are jobs of one page, a 3-page
// TIFF of three, each page sent to the model as a one-page PDF and done;
// a page selection works on a TIFF as on a PDF.
func TestImagesEndToEnd(t *testing.T) {
	srv := fakeAnthropic(t)
	c, _ := startModelApp(t, srv)
	dir := t.TempDir()
	tests := []struct {
		name  string
		data  []byte
		pages string
		want  []int
	}{
		{"photo.png", imagetest.PNG(120, 80), "", []int{1}},
		{"receipt.jpg", imagetest.JPEG(90, 160, 6), "", []int{1}},
		{"fax.tiff", imagetest.TIFF(imagetest.Gray(40, 60, 10), imagetest.Gray(40, 60, 128), imagetest.Gray(60, 40, 250)), "", []int{1, 2, 3}},
		{"fax-2-3.tiff", imagetest.TIFF(imagetest.Gray(40, 60, 20), imagetest.Gray(40, 60, 138), imagetest.Gray(60, 40, 240)), "2-", []int{2, 3}},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name)
		if err := os.WriteFile(path, tt.data, 0o600); err != nil {
			t.Fatal(err)
		}
		est, err := c.Estimate(context.Background(), path, client.SubmitOptions{Pages: tt.pages})
		if err != nil || est.Pages != len(tt.want) {
			t.Errorf("%s: estimate %+v, %v; want %d pages", tt.name, est, err, len(tt.want))
		}
		calls := srv.Count()
		j := submitAndWait(t, c, path, client.SubmitOptions{Pages: tt.pages})
		if j.Kind != tasks.KindDocument || j.Status != tasks.StatusSucceeded || j.PagesTotal != len(tt.want) || j.PagesDone != len(tt.want) {
			t.Errorf("%s: %s job %s, %d of %d pages (%s %s)", tt.name, j.Kind, j.Status, j.PagesDone, j.PagesTotal, j.ErrorCode, j.ErrorMessage)
			continue
		}
		if got := srv.Count() - calls; got != len(tt.want) {
			t.Errorf("%s: %d model calls, want %d", tt.name, got, len(tt.want))
		}
		rs, err := c.AllResults(context.Background(), j.ID)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rs {
			if i >= len(tt.want) || r.Index != tt.want[i] || r.Status != tasks.PageDone {
				t.Errorf("%s: result %d is page %d, %s; want page %d done", tt.name, i, r.Index, r.Status, tt.want[min(i, len(tt.want)-1)])
			}
		}
		if len(rs) != len(tt.want) {
			t.Errorf("%s: %d results, want %d", tt.name, len(rs), len(tt.want))
		}
	}
}
