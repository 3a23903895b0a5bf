package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/store"
	"github.com/mmq/mmq/tasks"
)

func quotaStore(t *testing.T, q map[string]tasks.Quota) *store.Redis {
	t.Helper()
	s, err := store.New(redistest.New(t, redistest.DBStore), store.Config{Quotas: q})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Concurrent jobs: two stores (two processes) creating at once accept
// exactly the quota; ending a job frees a place.
func TestQuotaConcurrentJobs(t *testing.T) {
	one := quotaStore(t, map[string]tasks.Quota{"acme": {ConcurrentJobs: 5}})
	two, _ := store.New(redistest.New(t, redistest.DBStore), store.Config{Quotas: map[string]tasks.Quota{"acme": {ConcurrentJobs: 5}}})
	ctx := context.Background()
	var (
		mu       sync.Mutex
		accepted []string
		refused  int
		wg       sync.WaitGroup
	)
	for i := range 40 {
		s := one
		if i%2 == 1 {
			s = two
		}
		wg.Go(func() {
			id := fmt.Sprintf("q%02d", i)
			err := s.CreateJob(ctx, &tasks.Job{ID: id, Kind: tasks.KindDocument, Tenant: "acme"}, "")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				accepted = append(accepted, id)
			case tasks.ErrorCode(err) == tasks.CodeQuotaExceeded && strings.Contains(err.Error(), "concurrent_jobs"):
				refused++
			default:
				t.Errorf("CreateJob(%s): %v", id, err)
			}
		})
	}
	wg.Wait()
	if len(accepted) != 5 || refused != 35 {
		t.Fatalf("%d accepted, %d refused; want 5 and 35", len(accepted), refused)
	}
	// Another tenant has no quota.
	if err := one.CreateJob(ctx, &tasks.Job{ID: "beta-1", Kind: tasks.KindDocument, Tenant: "beta"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := two.FinishJob(ctx, accepted[0], tasks.StatusCanceled, tasks.CodeCanceled, ""); err != nil {
		t.Fatal(err)
	}
	if err := one.CreateJob(ctx, &tasks.Job{ID: "again", Kind: tasks.KindDocument, Tenant: "acme"}, ""); err != nil {
		t.Errorf("after a job ended: %v", err)
	}
	// A batch is taken whole or refused.
	jobs := []*tasks.Job{{ID: "b1", Kind: tasks.KindDocument}, {ID: "b2", Kind: tasks.KindDocument}}
	if err := one.CreateBatch(ctx, &tasks.Batch{ID: "b", Tenant: "acme"}, jobs); tasks.ErrorCode(err) != tasks.CodeQuotaExceeded {
		t.Errorf("a batch of 2 over the quota: %v", err)
	}
}

// Pages a day: known pages count at submission, others when the worker
// learns them, and the job that would pass the quota is refused or fails.
func TestQuotaPagesPerDay(t *testing.T) {
	s := quotaStore(t, map[string]tasks.Quota{tasks.DefaultQuotaTenant: {PagesPerDay: 50}})
	ctx := context.Background()
	if err := s.CreateJob(ctx, &tasks.Job{ID: "upload", Kind: tasks.KindDocument, Tenant: "acme", PagesTotal: 30}, ""); err != nil {
		t.Fatal(err)
	}
	err := s.CreateJob(ctx, &tasks.Job{ID: "too-many", Kind: tasks.KindDocument, Tenant: "acme", PagesTotal: 30}, "")
	if tasks.ErrorCode(err) != tasks.CodeQuotaExceeded || !strings.Contains(err.Error(), "resets at") {
		t.Fatalf("30 more pages: %v", err)
	}
	if err := s.CreateJob(ctx, &tasks.Job{ID: "url", Kind: tasks.KindDocument, Tenant: "acme"}, ""); err != nil {
		t.Fatal(err)
	}
	err = s.SetPagesTotal(ctx, "url", 25)
	var te *tasks.Error
	if tasks.ErrorCode(err) != tasks.CodeQuotaExceeded || !asTaskError(err, &te) || !te.Permanent() {
		t.Fatalf("25 pages learned in the worker over the quota: %v", err)
	}
	if err := s.SetPagesTotal(ctx, "url", 20); err != nil {
		t.Fatalf("20 pages, within it: %v", err)
	}
	// Counted once: setting the count again takes nothing more.
	if err := s.SetPagesTotal(ctx, "url", 20); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateJob(ctx, &tasks.Job{ID: "other-tenant", Kind: tasks.KindDocument, Tenant: "beta", PagesTotal: 50}, ""); err != nil {
		t.Errorf("beta's own quota of the day: %v", err)
	}
}

// USD a month: at or over the month's spending, new jobs are refused.
func TestQuotaUSDPerMonth(t *testing.T) {
	s := quotaStore(t, map[string]tasks.Quota{"acme": {USDPerMonth: 1}})
	ctx := context.Background()
	if err := s.CreateJob(ctx, &tasks.Job{ID: "j", Kind: tasks.KindDocument, Tenant: "acme"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartJob(ctx, "j"); err != nil {
		t.Fatal(err)
	}
	if err := s.SavePage(ctx, "j", tasks.PageResult{Index: 1, Status: tasks.PageDone, Metrics: &tasks.Metrics{CostUSD: 1.25}}); err != nil {
		t.Fatal(err)
	}
	err := s.CreateJob(ctx, &tasks.Job{ID: "k", Kind: tasks.KindDocument, Tenant: "acme"}, "")
	if tasks.ErrorCode(err) != tasks.CodeQuotaExceeded || !strings.Contains(err.Error(), "usd_per_month") {
		t.Errorf("after $1.25 of a $1 quota: %v", err)
	}
}

func asTaskError(err error, te **tasks.Error) bool { return errors.As(err, te) }
