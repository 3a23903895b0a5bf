package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/tasks"
)

// stubModels estimates a cent a page and lets jobs choose "openai" and
// "local", which cannot follow instructions.
type stubModels struct{}

func (stubModels) Estimate(ctx context.Context, data []byte, password string, opts tasks.Options) (*tasks.Estimate, error) {
	n, err := inspectPDF(ctx, data, password, opts.MaxPages)
	if err != nil {
		return nil, err
	}
	e := &tasks.Estimate{Provider: "anthropic", Task: opts.Task}
	for i := 1; i <= n; i++ {
		e.Add(tasks.PageEstimate{Index: i, Model: "m", InputTokens: 1000, OutputTokens: 100, CostUSD: 0.01})
	}
	return e, nil
}

func (stubModels) FollowsInstructions(p string) (bool, error) { return p != "local", nil }

func (stubModels) SupportsEconomy(p string) error {
	if p == "local" {
		return tasks.Errorf(tasks.CodeModeUnsupported, "the local analyzer has no batch API")
	}
	return nil
}

func (stubModels) CheckProvider(p string) error {
	if p != "openai" && p != "local" {
		return tasks.Errorf(tasks.CodeInvalidRequest, "provider %q is not allowed", p)
	}
	return nil
}

func TestEstimate(t *testing.T) {
	b := setup(t, func(_ *api.Config, d *api.Deps) { d.Models = stubModels{} })
	ctx := context.Background()
	est, err := b.client.Estimate(ctx, testdata("linearized-30p.pdf"), client.SubmitOptions{Task: "classification"})
	if err != nil {
		t.Fatal(err)
	}
	if est.Pages != 30 || est.Task != "classification" || est.InputTokens != 30000 || len(est.PerPage) != 30 || est.CostUSD < 0.2999 {
		t.Errorf("estimate %+v", est)
	}
	_, err = b.client.Estimate(ctx, testdata("corrupt-no-startxref.pdf"), client.SubmitOptions{})
	wantAPIError(t, err, http.StatusUnprocessableEntity, tasks.CodeInvalidPDF)
	_, err = b.client.Estimate(ctx, testdata("video-1x1.mp4"), client.SubmitOptions{})
	wantAPIError(t, err, http.StatusUnsupportedMediaType, tasks.CodeUnsupportedType)
	if b.queuedTasks(t) != 0 {
		t.Error("an estimate queued a task")
	}
}

func TestEstimateWithoutModels(t *testing.T) {
	b := setup(t)
	_, err := b.client.Estimate(context.Background(), testdata("linearized-30p.pdf"), client.SubmitOptions{})
	wantAPIError(t, err, http.StatusNotFound, tasks.CodeNotFound)
	_, err = b.client.SubmitFile(context.Background(), testdata("linearized-30p.pdf"), client.SubmitOptions{Provider: "openai"})
	wantAPIError(t, err, http.StatusBadRequest, tasks.CodeInvalidRequest)
}

func TestSubmitModelOptions(t *testing.T) {
	b := setup(t, func(_ *api.Config, d *api.Deps) { d.Models = stubModels{} })
	ctx := context.Background()
	job, err := b.client.SubmitFile(ctx, testdata("linearized-30p.pdf"), client.SubmitOptions{Provider: "openai", MaxCostUSD: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJob(t, b, job.ID).Options; got.Provider != "openai" || got.MaxCostUSD != 0.25 {
		t.Errorf("options %+v", got)
	}
	p, _ := b.taskPayload(t, "default", job.ID)
	if p.Options.Provider != "openai" || p.Options.MaxCostUSD != 0.25 {
		t.Errorf("payload options %+v", p.Options)
	}
	for _, opts := range []client.SubmitOptions{{Provider: "gemini"}, {MaxCostUSD: -1}} {
		_, err := b.client.SubmitFile(ctx, testdata("linearized-30p.pdf"), opts)
		wantAPIError(t, err, http.StatusBadRequest, tasks.CodeInvalidRequest)
	}
	_, err = b.client.SubmitURL(ctx, "https://example.com/a.pdf", client.SubmitOptions{Provider: "openai", MaxCostUSD: 1})
	if err != nil {
		t.Errorf("JSON submit with model options: %v", err)
	}
}
