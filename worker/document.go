package worker

import (
	"context"
	"slices"

	"github.com/mmq/mmq/tasks"
)

// countSelected returns how many of the pages in done are among the
// selected pages of a document of n pages.
func countSelected(done []int, sel tasks.PageSelection, n int) int {
	c := 0
	for _, d := range done {
		if d <= n && sel.Contains(d) {
			c++
		}
	}
	return c
}

// documentUnits yields the selected pages of doc that are not in done, in
// order, extracting each only when the fan-out has a free slot for it.
// A unit's Index is its page number in the document.
func documentUnits(ctx context.Context, doc Document, sel tasks.PageSelection, job *tasks.Job, task string, done []int) Source {
	slices.Sort(done)
	return func(yield func(Item, error) bool) {
		for n := range sel.Pages(doc.PageCount()) {
			if _, ok := slices.BinarySearch(done, n); ok {
				continue
			}
			if err := ctx.Err(); err != nil {
				yield(Item{}, err)
				return
			}
			u := documentUnit(job, task, n)
			data, err := doc.Page(ctx, n)
			u.Data = data
			if !yield(Item{Unit: u, Err: err}, nil) {
				return
			}
		}
	}
}
