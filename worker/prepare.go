package worker

import (
	"context"

	"github.com/mmq/mmq/tasks"
)

// DocumentPreparer is an Analyzer that can do once per document what it
// would otherwise do once per page: analyzer.Local runs pdftotext over
// chunks of the whole document instead of once per single-page unit. The
// worker prepares a document job's input before fanning its pages out and
// releases it once the pages are done; the analyzer then finds the page's
// share by the unit's JobID and Index.
type DocumentPreparer interface {
	// PrepareDocument readies the analysis of document pdf, of pages pages,
	// for job jobID; release forgets it. Preparing is an optimization: a
	// page the preparation cannot serve is analyzed as without it.
	PrepareDocument(ctx context.Context, jobID string, pdf []byte, pages int) (release func())
}

// prepareDocument prepares the job's document when the analyzer can, and
// returns what releases it. A document read with a password is not: the
// analyzer would need the password too, and the single pages it gets are
// already decrypted.
func (h *Handler) prepareDocument(ctx context.Context, job *tasks.Job, data []byte, password string, pages int) (release func()) {
	p, ok := h.deps.Analyzer.(DocumentPreparer)
	if !ok || password != "" {
		return func() {}
	}
	return p.PrepareDocument(ctx, job.ID, data, pages)
}
