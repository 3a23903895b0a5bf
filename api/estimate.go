package api

import (
	"context"
	"fmt"
	"math"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/mmq/mmq/tasks"
)

// Models is what the API needs of the model providers. cmd/mmq builds it
// from the provider router.
type Models interface {
	// Estimate returns the expected tokens and cost of analyzing a document
	// with opts. Its errors are those of InspectPDFFunc, or a
	// CodeInvalidRequest for options no provider takes.
	Estimate(ctx context.Context, data []byte, password string, opts tasks.Options) (*tasks.Estimate, error)
	// CheckProvider returns a CodeInvalidRequest error if a job may not
	// choose provider.
	CheckProvider(provider string) error
	// FollowsInstructions reports whether the provider a job choosing
	// provider ("" for the default) starts with can follow instructions
	// and a schema: a model provider can, the local analyzer cannot.
	FollowsInstructions(provider string) (bool, error)
	// SupportsEconomy returns a CodeModeUnsupported error when the
	// provider a job choosing provider starts with has no batch API (the
	// local analyzer, a compatible server without one, a provider whose
	// batch mode config turns off).
	SupportsEconomy(provider string) error
}

// modeOption checks a request's mode and sets it on opts.
func (s *Server) modeOption(req *submitRequest, opts *tasks.Options) error {
	m := tasks.Mode(req.Mode)
	if !m.Valid() {
		return tasks.Errorf(tasks.CodeInvalidRequest, `mode must be "realtime" or "economy"`)
	}
	if m == tasks.ModeRealtime {
		m = ""
	}
	opts.Mode = m
	if m != tasks.ModeEconomy {
		return nil
	}
	if s.deps.Models == nil {
		return tasks.Errorf(tasks.CodeModeUnsupported, "economy mode needs a model provider with a batch API; this server has none")
	}
	return s.deps.Models.SupportsEconomy(opts.Provider)
}

// modelOptions checks a request's provider and max_cost_usd.
func (s *Server) modelOptions(req *submitRequest, opts *tasks.Options) error {
	if req.MaxCostUSD < 0 || math.IsNaN(req.MaxCostUSD) || math.IsInf(req.MaxCostUSD, 0) {
		return tasks.Errorf(tasks.CodeInvalidRequest, "max_cost_usd must be a non-negative number")
	}
	opts.MaxCostUSD = req.MaxCostUSD
	if req.Provider == "" {
		return nil
	}
	if s.deps.Models == nil {
		return tasks.Errorf(tasks.CodeInvalidRequest, "this server does not let jobs choose a provider")
	}
	if err := s.deps.Models.CheckProvider(req.Provider); err != nil {
		return err
	}
	opts.Provider = req.Provider
	return nil
}

// handleEstimate estimates a document's analysis before it is submitted:
// POST /v1/estimate, a multipart form like POST /v1/jobs (file, task,
// provider, password, max_pages). It answers 200 with a tasks.Estimate.
func (s *Server) handleEstimate(w http.ResponseWriter, r *http.Request) {
	if s.deps.Models == nil {
		writeError(w, tasks.Errorf(tasks.CodeNotFound, "this server makes no estimates: its analyzer is not a model provider"))
		return
	}
	req, err := s.readSubmit(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	if !req.hasFile {
		writeError(w, tasks.Errorf(tasks.CodeInvalidRequest, "an estimate needs the file: send it as multipart/form-data"))
		return
	}
	opts, _, err := s.options(req)
	if err != nil {
		writeError(w, err)
		return
	}
	if len(req.file) == 0 {
		writeError(w, tasks.Errorf(tasks.CodeEmptyFile, "the uploaded file is empty"))
		return
	}
	kind, err := s.deps.Sniff(req.file)
	if err != nil {
		writeError(w, err)
		return
	}
	if kind != tasks.KindDocument {
		writeError(w, tasks.Errorf(tasks.CodeUnsupportedType, "estimates are made for documents (PDFs and images) only"))
		return
	}
	est, err := s.estimate(r.Context(), req.file, req.Password, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, est)
}

// estimate runs Models.Estimate among the bounded PDF inspections, turning
// a PDF reader's panic into invalid_pdf.
func (s *Server) estimate(ctx context.Context, data []byte, password string, opts tasks.Options) (est *tasks.Estimate, err error) {
	select {
	case s.inspections <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.inspections }()
	defer func() {
		if p := recover(); p != nil {
			zerolog.Ctx(ctx).Warn().Interface("panic", p).Msg("PDF reader panicked during an estimate")
			est, err = nil, tasks.WrapError(tasks.CodeInvalidPDF, fmt.Errorf("panic: %v", p), "the PDF could not be read")
		}
	}()
	return s.deps.Models.Estimate(ctx, data, password, opts)
}
