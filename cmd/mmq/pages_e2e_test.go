package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/tasks"
)

// A page selection analyzes only its pages: "40-, 2-3" of a 45-page PDF
// makes 8 model calls, the estimate counts 8 pages, pages_total is 8 and
// the results keep their page numbers in the document. A range past the
// end is refused at submit with 400 invalid_request.
func TestPageSelectionEndToEnd(t *testing.T) {
	srv := fakeAnthropic(t)
	c, _ := startModelApp(t, srv)
	ctx := context.Background()
	const file = "testdata/pdfcpu-read.go.pdf" // 45 pages
	opts := client.SubmitOptions{Pages: "40-, 2-3"}
	want := []int{2, 3, 40, 41, 42, 43, 44, 45}

	est, err := c.Estimate(ctx, file, opts)
	if err != nil {
		t.Fatal(err)
	}
	if est.Pages != len(want) || len(est.PerPage) != len(want) {
		t.Errorf("estimate: %d pages (%d per page), want %d", est.Pages, len(est.PerPage), len(want))
	}
	for i, pe := range est.PerPage {
		if i < len(want) && pe.Index != want[i] {
			t.Errorf("estimate page %d is page %d, want %d", i, pe.Index, want[i])
		}
	}

	calls := srv.Count()
	j := submitAndWait(t, c, file, opts)
	if j.Status != tasks.StatusSucceeded || j.PagesTotal != len(want) || j.PagesDone != len(want) || j.Options.Pages != "40-,2-3" {
		t.Fatalf("job: %s, %d of %d pages, pages %q", j.Status, j.PagesDone, j.PagesTotal, j.Options.Pages)
	}
	if got := srv.Count() - calls; got != len(want) {
		t.Errorf("the job made %d model calls, want %d", got, len(want))
	}
	rs, err := c.AllResults(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, r := range rs {
		got = append(got, r.Index)
	}
	if !slices.Equal(got, want) {
		t.Errorf("result pages %v, want %v", got, want)
	}

	for _, pages := range []string{"46-", "1-46", "0", "3-1", "1,,2"} {
		_, err := c.SubmitFile(ctx, file, client.SubmitOptions{Pages: pages})
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != tasks.CodeInvalidRequest {
			t.Errorf("pages %q: %v, want 400 %s", pages, err, tasks.CodeInvalidRequest)
		}
	}
}

// By URL the page count is known only to the worker: a selection that fits
// is analyzed as for an upload, one past the end fails the job with
// invalid_request at its first attempt.
func TestPageSelectionByURL(t *testing.T) {
	files := httptest.NewServer(http.FileServer(http.Dir("testdata")))
	t.Cleanup(files.Close)
	srv := fakeAnthropic(t)
	c, _ := startModelApp(t, srv, "MMQ_SSRF_ALLOWED_NETWORKS", "127.0.0.1/32")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tt := range []struct {
		pages  string
		status tasks.Status
		total  int
	}{
		{"44-,1", tasks.StatusSucceeded, 3},
		{"46-", tasks.StatusFailed, 0},
	} {
		j, err := c.SubmitURL(ctx, files.URL+"/pdfcpu-read.go.pdf", client.SubmitOptions{Pages: tt.pages})
		if err != nil {
			t.Fatal(err)
		}
		if j, err = c.Wait(ctx, j.ID, 20*time.Millisecond, nil); err != nil {
			t.Fatal(err)
		}
		if j.Status != tt.status || j.PagesDone != tt.total || j.Attempts != 1 ||
			(tt.status == tasks.StatusFailed && j.ErrorCode != tasks.CodeInvalidRequest) {
			t.Errorf("pages %q by URL: %s %s after %d attempts, %d pages done; want %s with %d", tt.pages, j.Status, j.ErrorCode, j.Attempts, j.PagesDone, tt.status, tt.total)
		}
	}
}
