package worker

import (
	"context"
	"slices"

	"github.com/mmq/mmq/tasks"
)

// documentUnits yields the pages of doc that are not in done, in order,
// extracting each only when the fan-out has a free slot for it.
func documentUnits(ctx context.Context, doc Document, job *tasks.Job, task string, done []int) Source {
	slices.Sort(done)
	return func(yield func(Item, error) bool) {
		for n := 1; n <= doc.PageCount(); n++ {
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
