package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mmq/mmq/tasks"
)

// EndJob refuses to end a job whose pages do not all have an outcome: the
// worker may believe it saved a page that Redis lost (a crash and a
// restart from the AOF can drop the last acknowledged writes), and ending
// the job from the counts would report it succeeded with a page missing.
// The chaos suite found this.
func TestEndJobWithPagesMissing(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	if err := b.store.CreateJob(ctx, &tasks.Job{ID: "j", Kind: tasks.KindDocument}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.StartJob(ctx, "j"); err != nil {
		t.Fatal(err)
	}
	if err := b.store.SetPagesTotal(ctx, "j", 3); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		if err := b.store.SavePage(ctx, "j", page(i, tasks.PageDone)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := b.store.EndJob(ctx, "j")
	if err == nil || !strings.Contains(err.Error(), "1 of 3 pages have no stored result") {
		t.Fatalf("EndJob with page 3 missing: %v; want an error naming the missing page", err)
	}
	if tasks.IsPermanent(err) {
		t.Errorf("EndJob's error is permanent: %v; the task must be retried", err)
	}
	if j := b.getJob(t, "j"); j.Status != tasks.StatusProcessing || j.FinishedAt != nil {
		t.Fatalf("job after the refused EndJob: %+v; want it still processing", j)
	}
	if ns, err := b.store.Notifications(ctx, "", "", 10, 0); err != nil || len(ns) != 0 {
		t.Fatalf("notifications after the refused EndJob: %d, %v; want none", len(ns), err)
	}
	// The next run saves the page, and the job ends.
	if err := b.store.SavePage(ctx, "j", page(3, tasks.PageDone)); err != nil {
		t.Fatal(err)
	}
	j, err := b.store.EndJob(ctx, "j")
	if err != nil || j.Status != tasks.StatusSucceeded || j.PagesDone != 3 {
		t.Fatalf("EndJob after the page is saved: %+v, %v", j, err)
	}
	// An explicit final state is not held back: a failed or canceled job
	// ends with pages missing.
	if err := b.store.CreateJob(ctx, &tasks.Job{ID: "k", Kind: tasks.KindDocument, PagesTotal: 5}, ""); err != nil {
		t.Fatal(err)
	}
	if j, err := b.store.FinishJob(ctx, "k", tasks.StatusFailed, tasks.CodeInvalidPDF, "bad"); err != nil || j.Status != tasks.StatusFailed {
		t.Fatalf("FinishJob failed with pages missing: %+v, %v", j, err)
	}
}
