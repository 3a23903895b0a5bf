package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/tasks"
)

// An upload's page selection is checked against its page count at submit:
// pages_total counts the selected pages, a range past the end or a
// malformed one is 400 invalid_request, and max_pages bounds the selected
// pages rather than the document's.
func TestSubmitPages(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	file := testdata("linearized-30p.pdf") // 30 pages
	tests := []struct {
		opts  client.SubmitOptions
		total int
		code  tasks.Code
	}{
		{client.SubmitOptions{Pages: "1-3,7,10-"}, 25, ""},
		{client.SubmitOptions{Pages: "30"}, 1, ""},
		{client.SubmitOptions{Pages: "2-3", MaxPages: 2}, 2, ""},
		{client.SubmitOptions{Pages: "2-4", MaxPages: 2}, 0, tasks.CodeTooManyPages},
		{client.SubmitOptions{Pages: "31-"}, 0, tasks.CodeInvalidRequest},
		{client.SubmitOptions{Pages: "29-31"}, 0, tasks.CodeInvalidRequest},
		{client.SubmitOptions{Pages: "x"}, 0, tasks.CodeInvalidRequest},
		{client.SubmitOptions{Pages: "3-2"}, 0, tasks.CodeInvalidRequest},
	}
	for _, tt := range tests {
		j, err := b.client.SubmitFile(ctx, file, tt.opts)
		if tt.code != "" {
			status := 400
			if tt.code == tasks.CodeTooManyPages {
				status = 422
			}
			wantAPIError(t, err, status, tt.code)
			continue
		}
		if err != nil {
			t.Errorf("pages %q: %v", tt.opts.Pages, err)
			continue
		}
		if j.PagesTotal != tt.total || j.Options.Pages != strings.ReplaceAll(tt.opts.Pages, " ", "") {
			t.Errorf("pages %q: pages_total %d, options.pages %q; want %d", tt.opts.Pages, j.PagesTotal, j.Options.Pages, tt.total)
		}
	}
}

// A batch's shared page selection applies to its items, an item's own
// replaces it, and a bad one is refused before any job is made.
func TestBatchPages(t *testing.T) {
	b := setup(t)
	body := `{"pages":"2-3","items":[{"url":"https://example.com/a.pdf"},{"url":"https://example.com/b.pdf","pages":"5-"}]}`
	jobs := b.batchJobs(t, body, 2)
	got := map[string]bool{}
	for _, j := range jobs {
		got[j.Options.Pages] = true
	}
	if !got["2-3"] || !got["5-"] {
		t.Errorf("batch jobs' pages %v, want 2-3 and 5-", got)
	}
	bad := `{"pages":"0-2","urls":["https://example.com/a.pdf"]}`
	resp, data := b.do(t, http.MethodPost, "/v1/batches", "application/json", strings.NewReader(bad))
	if resp.StatusCode != 400 || !strings.Contains(string(data), "invalid_request") {
		t.Errorf("batch with bad pages: %d %s", resp.StatusCode, data)
	}
}

// batchJobs submits a JSON batch and returns its jobs, of which there must
// be n.
func (b *testBundle) batchJobs(t *testing.T, body string, n int) []*tasks.Job {
	t.Helper()
	resp, data := b.do(t, http.MethodPost, "/v1/batches", "application/json", strings.NewReader(body))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("batch: %d %s", resp.StatusCode, data)
	}
	var reply client.BatchReply
	if err := json.Unmarshal(data, &reply); err != nil {
		t.Fatal(err)
	}
	jobs, _, err := b.client.BatchJobs(context.Background(), reply.Batch.ID, "", 10)
	if err != nil || len(jobs) != n {
		t.Fatalf("batch jobs: %d, %v", len(jobs), err)
	}
	return jobs
}
