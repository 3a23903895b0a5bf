package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/mmq/mmq/tasks"
)

// Economy mode (tasks.ModeEconomy).
//
// A run of an economy job prepares its pages like a realtime run would
// (routing, resolution, schema, cache), but instead of calling the model it
// queues a reference to each page that the cache does not have, one queue
// per provider and model, and ends its task with the job still processing.
// Three kinds of task on tasks.QueueEconomy do the rest, each idempotent,
// so that a worker killed at any point loses nothing and sends nothing
// twice:
//
//   - economy:gather sends a queue's waiting units as one provider batch
//     once it holds a batch's worth or its oldest unit has waited
//     EconomyConfig.MaxWait. It takes the units into an intent (the store
//     writes it before anything is sent), enqueues the intent's poll, then
//     rebuilds each request from the job's input, creates the provider
//     batch and records its id on the intent.
//   - economy:poll follows an intent. Still creating long after it was
//     taken, its gatherer died around the create: the poll finds the batch
//     in the provider's list (by label where the provider keeps one, else
//     as the sole unclaimed batch of the same size created in the window)
//     and claims it, or puts the units back when there is none. Submitted,
//     it polls the batch with backoff until it ends, then imports the
//     results: each page saved once (the store keeps a page's first
//     result), errored and expired requests back in the queue until
//     EconomyConfig.Tries, the job ended by the save of its last page.
//
// The page bytes never wait in Redis: a waiting unit is its reference and
// a ticket of about a hundred bytes.

// Economy is the model side of economy mode; cmd/mmq adapts
// provider.Router to it.
type Economy interface {
	// PrepareEconomy prepares u as one request of a provider batch, or
	// returns its result when the cache has it (EconomyPrep.Hit).
	PrepareEconomy(ctx context.Context, u tasks.Unit) (tasks.EconomyPrep, error)
	// FinishEconomy turns a request's outcome into u's result, as the
	// realtime call would have returned it. u is the unit without Data.
	FinishEconomy(ctx context.Context, u tasks.Unit, ticket json.RawMessage, o tasks.BatchOutcome) (tasks.Analysis, error)
	// Batcher returns a provider's batch API.
	Batcher(provider string) (Batcher, error)
}

// Batcher is one provider's batch API; provider.Batcher's methods, with
// its limits as two numbers.
type Batcher interface {
	// Limits returns the most requests and bytes one batch takes.
	Limits() (requests int, bytes int64)
	// Size returns the bytes lines make as the batch's body.
	Size(lines []tasks.BatchLine) int64
	CreateBatch(ctx context.Context, label string, lines []tasks.BatchLine) (tasks.ProviderBatch, error)
	Batch(ctx context.Context, id string) (tasks.ProviderBatch, error)
	BatchResults(ctx context.Context, id string, fn func(tasks.BatchOutcome) error) error
	CancelBatch(ctx context.Context, id string) (tasks.ProviderBatch, error)
	ListBatches(ctx context.Context, limit int) ([]tasks.ProviderBatch, error)
}

// EconomyStore is what economy mode needs of the store beyond Store;
// store.Redis implements it (see store/economy.go for the guarantees).
type EconomyStore interface {
	QueueUnits(ctx context.Context, queue string, units []tasks.EconomyUnit) (int, error)
	TakeUnits(ctx context.Context, queue, intent string, max int) ([]tasks.EconomyUnit, error)
	Requeue(ctx context.Context, intent string, units []tasks.EconomyUnit) (int, error)
	Unsend(ctx context.Context, intent string) (int, error)
	ClaimBatch(ctx context.Context, intent, batch string) (bool, error)
	BatchIntent(ctx context.Context, batch string) (string, error)
	DoneUnits(ctx context.Context, intent string, units []tasks.EconomyUnit) (int, error)
	GetIntent(ctx context.Context, intent string) (*tasks.EconomyIntent, error)
	IntentUnits(ctx context.Context, intent string, fn func([]tasks.EconomyUnit) error) error
	EconomyQueues(ctx context.Context) ([]tasks.EconomyQueue, error)
}

// EconomyConfig tunes economy mode.
type EconomyConfig struct {
	// MaxWait is how long a unit waits for others before its queue is sent
	// anyway. Defaults to 1 minute.
	MaxWait time.Duration
	// MaxRequests caps one provider batch below the provider's own limit.
	// 0 means the provider's limit.
	MaxRequests int
	// Poll is the backoff between polls of a provider batch: Base the
	// first wait (defaults to 30 s), Cap the longest (defaults to 10 min).
	Poll tasks.Backoff
	// Tries is how many provider batches a unit may be sent in before an
	// errored or expired request fails its page. Defaults to 3.
	Tries int
	// CreateTimeout bounds creating one provider batch; an intent still
	// creating twice that long after it was taken is reconciled with the
	// provider's list of batches. Defaults to 5 minutes.
	CreateTimeout time.Duration
}

// Economy defaults.
const (
	DefaultEconomyMaxWait       = time.Minute
	DefaultEconomyTries         = 3
	DefaultEconomyCreateTimeout = 5 * time.Minute
	DefaultEconomyPollBase      = 30 * time.Second
	DefaultEconomyPollCap       = 10 * time.Minute
)

func (c *EconomyConfig) setDefaults() {
	if c.MaxWait <= 0 {
		c.MaxWait = DefaultEconomyMaxWait
	}
	if c.Tries <= 0 {
		c.Tries = DefaultEconomyTries
	}
	if c.CreateTimeout <= 0 {
		c.CreateTimeout = DefaultEconomyCreateTimeout
	}
	if c.Poll.Base <= 0 {
		c.Poll.Base = DefaultEconomyPollBase
	}
	if c.Poll.Cap <= 0 {
		c.Poll.Cap = DefaultEconomyPollCap
	}
}

// takeChunk is how many units one TakeUnits moves, so that no script
// holds Redis long.
const takeChunk = 2000

// errEconomyWaiting ends the run of a job whose pages wait for provider
// batches: the job stays processing, the task is done.
var errEconomyWaiting = errors.New("worker: the job's pages wait for provider batches")

func (h *Handler) economyStore() (EconomyStore, error) {
	es, ok := h.deps.Store.(EconomyStore)
	if h.deps.Economy == nil || !ok || h.deps.Queue == nil {
		return nil, tasks.Errorf(tasks.CodeModeUnsupported, "this deployment does not run economy mode")
	}
	return es, nil
}

// documentUnit is page n of job as a unit, without its data.
func documentUnit(job *tasks.Job, task string, n int) tasks.Unit {
	// The extraction options ride on the unit from here, so that the
	// budget's estimate counts them too.
	return tasks.Unit{JobID: job.ID, Kind: tasks.KindDocument, Index: n, MIME: "application/pdf", Task: task,
		Instructions: job.Options.Instructions, Schema: job.Options.Schema, Provider: job.Options.Provider}
}

// runEconomy prepares the pages of src and queues those the cache does not
// answer. It returns nil when every page has its result already, else
// errEconomyWaiting.
func (h *Handler) runEconomy(ctx context.Context, job *tasks.Job, src Source) error {
	es, err := h.economyStore()
	if err != nil {
		return err
	}
	var (
		mu     sync.Mutex
		queued = map[string][]tasks.EconomyUnit{}
		fail   error
		// spent and reserved hold max_cost_usd: what earlier runs spent,
		// and the estimates of the pages queued.
		spent, reserved float64
	)
	if job.Usage != nil {
		spent = job.Usage.CostUSD
	}
	// The realtime budget waits for each page's call to settle its cost;
	// economy mode holds the cap on the estimates below instead.
	ctx = context.WithValue(ctx, budgetKey{}, (*budget)(nil))
	lim := Limits{PerJob: h.cfg.PageConcurrency, Process: h.process}
	err = fanOut(ctx, src, lim, h.drain, func(ctx context.Context, it Item) {
		u := it.Unit
		prep, err := tasks.EconomyPrep{}, it.Err
		if err == nil {
			prep, err = h.deps.Economy.PrepareEconomy(ctx, u)
		}
		switch {
		case err != nil && !tasks.IsPermanent(err):
			mu.Lock()
			fail = errors.Join(fail, err)
			mu.Unlock()
		case err != nil || prep.Hit != nil:
			// A page that cannot be prepared fails like a page that
			// cannot be analyzed; a cache hit is its result at once.
			var an tasks.Analysis
			if prep.Hit != nil {
				an = *prep.Hit
			}
			if serr := h.saveEconomyResult(ctx, job, u.Index, an, err, 1, false); serr != nil {
				mu.Lock()
				fail = errors.Join(fail, serr)
				mu.Unlock()
			}
		default:
			q := tasks.EconomyQueueName(prep.Provider, prep.Model)
			mu.Lock()
			over := job.Options.MaxCostUSD > 0 && spent+reserved+prep.EstimateUSD > job.Options.MaxCostUSD
			if !over {
				reserved += prep.EstimateUSD
				queued[q] = append(queued[q], tasks.EconomyUnit{JobID: job.ID, Page: u.Index, Ticket: prep.Ticket})
			}
			mu.Unlock()
			if over {
				// The pages are sent at once, so the cap holds on their
				// estimates: a page that would pass it is not sent.
				berr := tasks.Errorf(tasks.CodeBudgetExceeded, "the job's max_cost_usd of $%.4f would be exceeded", job.Options.MaxCostUSD)
				if serr := h.saveEconomyResult(ctx, job, u.Index, tasks.Analysis{}, berr, 0, false); serr != nil {
					mu.Lock()
					fail = errors.Join(fail, serr)
					mu.Unlock()
				}
			}
		}
	})
	if err == nil {
		err = fail
	}
	if err != nil {
		return err
	}
	if len(queued) == 0 {
		return nil
	}
	for q, units := range queued {
		for len(units) > 0 {
			n := min(len(units), 1000)
			if _, err := es.QueueUnits(ctx, q, units[:n]); err != nil {
				return err
			}
			units = units[n:]
		}
		if err := h.scheduleGather(ctx, q, time.Now()); err != nil {
			return err
		}
	}
	zerolog.Ctx(ctx).Info().Int("queues", len(queued)).Msg("pages queued for provider batches")
	return errEconomyWaiting
}

// saveEconomyResult stores the result of one page of an economy job and,
// with end, when it was the job's last, ends the job and announces it. The
// run that queues the pages does not end the job (its conclusion does).
func (h *Handler) saveEconomyResult(ctx context.Context, job *tasks.Job, page int, an tasks.Analysis, err error, attempts int, end bool) error {
	res := tasks.PageResult{Index: page, Attempts: attempts, FinishedAt: time.Now().UTC()}
	m := an.PageMetrics()
	res.Metrics = &m
	res.Output = an.Output
	if err != nil {
		res.Status = tasks.PageFailed
		res.ErrorCode = tasks.ErrorCode(err)
		res.ErrorMessage = publicMessage(err)
		m.Error = res.ErrorCode
	} else {
		res.Status = tasks.PageDone
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if !end {
		if serr := h.deps.Store.SavePage(wctx, job.ID, res); serr != nil {
			return serr
		}
		h.deps.Observer.PageDone(job, res)
		return nil
	}
	// Every page of an economy job is in exactly one place (waiting, sent
	// or done), so the save that gives the last page its outcome may end
	// the job; the store ends a job once.
	ended, serr := h.deps.Store.SaveLastPage(wctx, job.ID, res)
	if serr != nil {
		return serr
	}
	h.deps.Observer.PageDone(job, res)
	if ended != nil {
		logEnd(zerolog.Ctx(ctx), ended, job.CreatedAt).Msg("job end")
		h.deps.Observer.JobEnded(ended, time.Since(ended.CreatedAt))
		return h.announce(wctx, ended, true)
	}
	return nil
}

// scheduleGather makes sure a gather of queue runs soon after MaxWait
// from at: one task per queue and window of a quarter of MaxWait, so the
// jobs of the same window share it. asynq moves a scheduled task to its
// queue up to a second early (it scores them in whole seconds), hence the
// second added. A gather that reschedules itself never reuses its own id,
// which asynq would refuse while it runs.
func (h *Handler) scheduleGather(ctx context.Context, queue string, at time.Time) error {
	wait := h.cfg.Economy.MaxWait
	window := max(wait/4, time.Second)
	due := at.Add(wait).Truncate(window).Add(window + time.Second)
	id := fmt.Sprintf("economy:gather:%s:%d", queue, due.Unix())
	if self, _ := asynq.GetTaskID(ctx); self == id {
		due = due.Add(window)
		id = fmt.Sprintf("economy:gather:%s:%d", queue, due.Unix())
	}
	return h.enqueueEconomy(ctx, tasks.TypeEconomyGather, tasks.EconomyGatherPayload{Queue: queue}, id, due)
}

func (h *Handler) enqueueEconomy(ctx context.Context, typ string, payload any, id string, at time.Time) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	t := asynq.NewTask(typ, b)
	_, err = h.deps.Queue.EnqueueContext(ctx, t, asynq.Queue(tasks.QueueEconomy), asynq.TaskID(id),
		asynq.ProcessAt(at), asynq.MaxRetry(25), asynq.Timeout(h.cfg.Economy.CreateTimeout+time.Minute))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("worker: enqueue %s: %w", typ, err)
	}
	return nil
}

func newIntentID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "ei" + hex.EncodeToString(b[:])
}

// ProcessEconomyGather handles economy:gather tasks.
func (h *Handler) ProcessEconomyGather(ctx context.Context, t *asynq.Task) error {
	var p tasks.EconomyGatherPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.Queue == "" {
		return fmt.Errorf("worker: bad economy:gather payload: %w", asynq.SkipRetry)
	}
	ctx = h.log.With().Str("type", t.Type()).Str("queue", p.Queue).Logger().WithContext(ctx)
	es, err := h.economyStore()
	if err != nil {
		return tasks.ForAsynq(err)
	}
	provider, _, _ := strings.Cut(p.Queue, "/")
	b, err := h.deps.Economy.Batcher(provider)
	if err != nil {
		return tasks.ForAsynq(err)
	}
	maxReq, _ := b.Limits()
	if h.cfg.Economy.MaxRequests > 0 {
		maxReq = min(maxReq, h.cfg.Economy.MaxRequests)
	}
	for {
		q, err := queueInfo(ctx, es, p.Queue)
		if err != nil {
			return err
		}
		if q.Waiting == 0 {
			return nil
		}
		if q.Waiting < maxReq && time.Since(q.Oldest) < h.cfg.Economy.MaxWait {
			return h.scheduleGather(ctx, p.Queue, q.Oldest)
		}
		if err := h.gatherOnce(ctx, es, b, p.Queue, maxReq); err != nil {
			return err
		}
	}
}

func queueInfo(ctx context.Context, es EconomyStore, name string) (tasks.EconomyQueue, error) {
	qs, err := es.EconomyQueues(ctx)
	if err != nil {
		return tasks.EconomyQueue{}, err
	}
	for _, q := range qs {
		if q.Name == name {
			return q, nil
		}
	}
	return tasks.EconomyQueue{Name: name}, nil
}

// gatherOnce sends up to maxReq waiting units of queue as one provider
// batch.
func (h *Handler) gatherOnce(ctx context.Context, es EconomyStore, b Batcher, queue string, maxReq int) error {
	log := zerolog.Ctx(ctx)
	intent := newIntentID()
	// The poll first: it reconciles the intent should this worker die
	// anywhere below. A poll of an intent never taken finds nothing.
	if err := h.schedulePoll(ctx, intent, 0, 2*h.cfg.Economy.CreateTimeout); err != nil {
		return err
	}
	_, maxBytes := b.Limits()
	budget := maxBytes - maxBytes/20 // the body's own framing
	var (
		lines []tasks.BatchLine
		size  int64
		full  bool
	)
	for !full && len(lines) < maxReq {
		units, err := es.TakeUnits(ctx, queue, intent, min(takeChunk, maxReq-len(lines)))
		if err != nil {
			return err
		}
		if len(units) == 0 {
			break
		}
		built, skipped, back, err := h.buildLines(ctx, units, b, budget-size)
		if err != nil {
			// Back in the queue; the task is retried.
			_, _ = es.Unsend(context.WithoutCancel(ctx), intent)
			return err
		}
		if len(skipped) > 0 {
			if _, err := es.DoneUnits(ctx, intent, skipped); err != nil {
				return err
			}
		}
		if len(back) > 0 {
			full = true
			if _, err := es.Requeue(ctx, intent, back); err != nil {
				return err
			}
		}
		for _, l := range built {
			size += b.Size([]tasks.BatchLine{l})
		}
		lines = append(lines, built...)
	}
	if len(lines) == 0 {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, h.cfg.Economy.CreateTimeout)
	defer cancel()
	pb, err := b.CreateBatch(cctx, intent, lines)
	lines = nil
	if err != nil {
		if tasks.ErrorCode(err) == tasks.CodeProviderRefused {
			// The provider refused the batch as a whole: its units fail
			// rather than being sent again and again.
			return h.failIntent(ctx, es, intent, err)
		}
		// It may exist anyway: the intent's poll reconciles.
		log.Warn().Err(err).Str("intent", intent).Msg("creating the provider batch failed; its poll will reconcile")
		return nil
	}
	if _, err := es.ClaimBatch(context.WithoutCancel(ctx), intent, pb.ID); err != nil {
		return err
	}
	log.Info().Str("intent", intent).Str("provider_batch", pb.ID).Int("requests", pb.Counts.Processing).Msg("provider batch created")
	return h.schedulePoll(ctx, intent, 1, h.cfg.Economy.Poll.Base)
}

// buildLines rebuilds the requests of units from their jobs' inputs. It
// returns the lines, the units whose jobs ended (skipped: nothing to
// send) and the units that did not fit in room bytes (back).
func (h *Handler) buildLines(ctx context.Context, units []tasks.EconomyUnit, b Batcher, room int64) (lines []tasks.BatchLine, skipped, back []tasks.EconomyUnit, err error) {
	byJob := map[string][]tasks.EconomyUnit{}
	var order []string
	for _, u := range units {
		if _, ok := byJob[u.JobID]; !ok {
			order = append(order, u.JobID)
		}
		byJob[u.JobID] = append(byJob[u.JobID], u)
	}
	for i, id := range order {
		us := byJob[id]
		if room <= 0 {
			for _, rest := range order[i:] {
				back = append(back, byJob[rest]...)
			}
			return lines, skipped, back, nil
		}
		job, err := h.deps.Store.GetJob(ctx, id)
		if tasks.ErrorCode(err) == tasks.CodeNotFound || (err == nil && job.Status.Final()) {
			skipped = append(skipped, us...)
			continue
		}
		if err != nil {
			return nil, nil, nil, err
		}
		doc, err := h.openJobDocument(ctx, job)
		if err != nil {
			// The job's input went bad since it was split: its pages fail.
			for _, u := range us {
				if serr := h.saveEconomyResult(ctx, job, u.Page, tasks.Analysis{}, err, u.Tries+1, true); serr != nil {
					return nil, nil, nil, serr
				}
			}
			skipped = append(skipped, us...)
			continue
		}
		for k, u := range us {
			if room <= 0 {
				back = append(back, us[k:]...)
				break
			}
			unit := documentUnit(job, job.Options.Task, u.Page)
			if unit.Data, err = doc.Page(ctx, u.Page); err == nil {
				var prep tasks.EconomyPrep
				prep, err = h.deps.Economy.PrepareEconomy(ctx, unit)
				if err == nil && prep.Hit == nil {
					l := tasks.BatchLine{CustomID: u.Ref(), Body: prep.Body}
					room -= b.Size([]tasks.BatchLine{l})
					lines = append(lines, l)
					continue
				}
				if err == nil {
					if serr := h.saveEconomyResult(ctx, job, u.Page, *prep.Hit, nil, u.Tries+1, true); serr != nil {
						return nil, nil, nil, serr
					}
					skipped = append(skipped, u)
					continue
				}
			}
			if !tasks.IsPermanent(err) {
				return nil, nil, nil, err
			}
			if serr := h.saveEconomyResult(ctx, job, u.Page, tasks.Analysis{}, err, u.Tries+1, true); serr != nil {
				return nil, nil, nil, serr
			}
			skipped = append(skipped, u)
		}
	}
	return lines, skipped, back, nil
}

// openJobDocument reads a job's stored input again.
func (h *Handler) openJobDocument(ctx context.Context, job *tasks.Job) (Document, error) {
	if job.BlobKey == "" {
		return nil, tasks.Errorf(tasks.CodeInternal, "the job's input is not stored")
	}
	data, err := h.deps.Blobs.Get(ctx, job.BlobKey)
	if err != nil {
		return nil, err
	}
	var password string
	if job.HasPassword {
		if password, err = h.deps.Store.Password(ctx, job.ID); err != nil {
			return nil, err
		}
	}
	return h.deps.OpenPDF(ctx, data, password)
}

// failIntent fails every unit of an intent with err.
func (h *Handler) failIntent(ctx context.Context, es EconomyStore, intent string, err error) error {
	return es.IntentUnits(ctx, intent, func(us []tasks.EconomyUnit) error {
		for _, u := range us {
			job, gerr := h.deps.Store.GetJob(ctx, u.JobID)
			if gerr == nil && !job.Status.Final() {
				if serr := h.saveEconomyResult(ctx, job, u.Page, tasks.Analysis{}, err, u.Tries+1, true); serr != nil {
					return serr
				}
			}
		}
		_, derr := es.DoneUnits(ctx, intent, us)
		return derr
	})
}

func (h *Handler) schedulePoll(ctx context.Context, intent string, n int, in time.Duration) error {
	return h.enqueueEconomy(ctx, tasks.TypeEconomyPoll, tasks.EconomyPollPayload{Intent: intent, Poll: n},
		fmt.Sprintf("economy:poll:%s:%d", intent, n), time.Now().Add(in))
}

// ProcessEconomyPoll handles economy:poll tasks.
func (h *Handler) ProcessEconomyPoll(ctx context.Context, t *asynq.Task) error {
	var p tasks.EconomyPollPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.Intent == "" {
		return fmt.Errorf("worker: bad economy:poll payload: %w", asynq.SkipRetry)
	}
	es, err := h.economyStore()
	if err != nil {
		return tasks.ForAsynq(err)
	}
	in, err := es.GetIntent(ctx, p.Intent)
	if err != nil {
		if tasks.ErrorCode(err) == tasks.CodeNotFound {
			return nil // done, or never taken
		}
		return err
	}
	provider, _, _ := strings.Cut(in.Queue, "/")
	b, err := h.deps.Economy.Batcher(provider)
	if err != nil {
		return tasks.ForAsynq(err)
	}
	log := h.log.With().Str("type", t.Type()).Str("intent", in.ID).Str("provider_batch", in.Batch).Logger()
	ctx = log.WithContext(ctx)
	if in.State == tasks.IntentCreating {
		if age := time.Since(in.Taken); age < 2*h.cfg.Economy.CreateTimeout {
			return h.schedulePoll(ctx, in.ID, p.Poll+1, 2*h.cfg.Economy.CreateTimeout-age)
		}
		claimed, err := h.reconcile(ctx, es, b, in)
		if err != nil || !claimed {
			return err
		}
		if in, err = es.GetIntent(ctx, p.Intent); err != nil {
			return err
		}
	}
	pb, err := b.Batch(ctx, in.Batch)
	if err != nil {
		return err
	}
	if pb.Status != tasks.ProviderBatchEnded {
		if pb.Status == tasks.ProviderBatchInProgress {
			if err := h.cancelIfAbandoned(ctx, es, b, in); err != nil {
				return err
			}
		}
		return h.schedulePoll(ctx, in.ID, p.Poll+1, h.cfg.Economy.Poll.Delay(p.Poll))
	}
	return h.importResults(ctx, es, b, in)
}

// reconcile finds the provider batch of an intent whose gatherer died
// around the create, and claims it; with none, it puts the units back.
func (h *Handler) reconcile(ctx context.Context, es EconomyStore, b Batcher, in *tasks.EconomyIntent) (bool, error) {
	log := zerolog.Ctx(ctx)
	recent, err := b.ListBatches(ctx, 100)
	if err != nil {
		return false, err
	}
	var found []tasks.ProviderBatch
	for _, pb := range recent {
		if pb.Label == in.ID {
			found = []tasks.ProviderBatch{pb}
			break
		}
		if pb.Label != "" {
			continue
		}
		// No label kept (Anthropic): the sole unclaimed batch of the same
		// size created while the intent could have created it.
		total := pb.Counts.Processing + pb.Counts.Succeeded + pb.Counts.Errored + pb.Counts.Canceled + pb.Counts.Expired
		if total != in.Units || pb.CreatedAt.Before(in.Taken.Add(-time.Minute)) ||
			pb.CreatedAt.After(in.Taken.Add(h.cfg.Economy.CreateTimeout+time.Minute)) {
			continue
		}
		if owner, err := es.BatchIntent(ctx, pb.ID); err != nil {
			return false, err
		} else if owner == "" {
			found = append(found, pb)
		}
	}
	switch len(found) {
	case 0:
		n, err := es.Unsend(ctx, in.ID)
		if err != nil {
			return false, err
		}
		log.Warn().Int("units", n).Msg("no provider batch was created for the intent; its units wait again")
		return false, h.scheduleGather(ctx, in.Queue, time.Now().Add(-h.cfg.Economy.MaxWait))
	case 1:
		if _, err := es.ClaimBatch(ctx, in.ID, found[0].ID); err != nil {
			return false, err
		}
		log.Warn().Str("provider_batch", found[0].ID).Msg("found the provider batch of an intent whose gatherer died")
		return true, nil
	}
	// Sending again could bill twice: leave it to an operator.
	return false, fmt.Errorf("worker: intent %s matches %d provider batches; not sending again", in.ID, len(found))
}

// cancelIfAbandoned cancels a provider batch every job of which has ended
// (canceled or deleted).
func (h *Handler) cancelIfAbandoned(ctx context.Context, es EconomyStore, b Batcher, in *tasks.EconomyIntent) error {
	live := false
	seen := map[string]bool{}
	errStop := errors.New("stop")
	err := es.IntentUnits(ctx, in.ID, func(us []tasks.EconomyUnit) error {
		for _, u := range us {
			if seen[u.JobID] {
				continue
			}
			seen[u.JobID] = true
			j, err := h.deps.Store.GetJob(ctx, u.JobID)
			if err == nil && !j.Status.Final() {
				live = true
				return errStop
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	if live || len(seen) == 0 {
		return nil
	}
	_, err = b.CancelBatch(ctx, in.Batch)
	zerolog.Ctx(ctx).Info().Err(err).Msg("every job of the provider batch ended; canceled it")
	return err
}

// importResults saves the results of an ended provider batch and puts
// the units without one back in their queue.
func (h *Handler) importResults(ctx context.Context, es EconomyStore, b Batcher, in *tasks.EconomyIntent) error {
	units := map[string]tasks.EconomyUnit{}
	if err := es.IntentUnits(ctx, in.ID, func(us []tasks.EconomyUnit) error {
		for _, u := range us {
			units[u.Ref()] = u
		}
		return nil
	}); err != nil {
		return err
	}
	jobs := map[string]*tasks.Job{}
	// The pages already saved: a retried import saves none twice (a save
	// adds the page's usage to the job's).
	saved := map[string]map[int]bool{}
	var done, again []tasks.EconomyUnit
	flush := func() error {
		if len(done) > 0 {
			if _, err := es.DoneUnits(ctx, in.ID, done); err != nil {
				return err
			}
			done = done[:0]
		}
		return nil
	}
	err := b.BatchResults(ctx, in.Batch, func(o tasks.BatchOutcome) error {
		u, ok := units[o.CustomID]
		if !ok {
			return nil // imported before (a retried import), or not ours
		}
		delete(units, o.CustomID)
		job, ok := jobs[u.JobID]
		if !ok {
			j, err := h.deps.Store.GetJob(ctx, u.JobID)
			if err != nil && tasks.ErrorCode(err) != tasks.CodeNotFound {
				return err
			}
			job, jobs[u.JobID] = j, j
			if j != nil && j.PagesDone > 0 {
				pages, err := h.deps.Store.DonePages(ctx, j.ID)
				if err != nil {
					return err
				}
				saved[j.ID] = map[int]bool{}
				for _, p := range pages {
					saved[j.ID][p] = true
				}
			}
		}
		if job == nil || job.Status.Final() || saved[u.JobID][u.Page] {
			done = append(done, u)
			return nil
		}
		unit := documentUnit(job, job.Options.Task, u.Page)
		an, err := h.deps.Economy.FinishEconomy(ctx, unit, u.Ticket, o)
		if o.Result == tasks.BatchExpired || o.Result == tasks.BatchCanceled ||
			(err != nil && !tasks.IsPermanent(err)) {
			if u.Tries+1 < h.cfg.Economy.Tries {
				again = append(again, u)
				return nil
			}
		}
		if err := h.saveEconomyResult(ctx, job, u.Page, an, err, u.Tries+1, true); err != nil {
			return err
		}
		done = append(done, u)
		if len(done) >= 500 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err // the next run imports again; saved pages stay saved
	}
	if err := flush(); err != nil {
		return err
	}
	// Units the results did not mention are sent again.
	for _, u := range units {
		again = append(again, u)
	}
	if len(again) > 0 {
		if _, err := es.Requeue(ctx, in.ID, again); err != nil {
			return err
		}
		if err := h.scheduleGather(ctx, in.Queue, time.Now().Add(-h.cfg.Economy.MaxWait)); err != nil {
			return err
		}
	}
	zerolog.Ctx(ctx).Info().Int("again", len(again)).Msg("provider batch imported")
	return nil
}
