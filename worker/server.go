package worker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/tasks"
)

// Worker runs the asynq servers that process mmq's tasks: one for the
// analysis queues and, when Deps.Deliverer is set, one for the webhooks
// queue.
type Worker struct {
	srv *asynq.Server
	// webhooks serves tasks.WebhookQueue; nil without a Deliverer.
	webhooks  *asynq.Server
	handler   *Handler
	sweeper   *sweeper
	startOnce sync.Once
	stopOnce  sync.Once
}

// New returns a Worker that takes tasks from the Redis behind client. It
// does not start until Start is called.
func New(cfg Config, deps Deps, client redis.UniversalClient) (*Worker, error) {
	h, err := NewHandler(cfg, deps)
	if err != nil {
		return nil, err
	}
	cfg = h.cfg
	srv := asynq.NewServerFromRedisClient(client, asynq.Config{
		Concurrency:              cfg.Concurrency,
		Queues:                   h.queues(),
		RetryDelayFunc:           h.retryDelay,
		IsFailure:                func(err error) bool { return !isInterruption(err) },
		TaskCheckInterval:        cfg.TaskCheckInterval,
		DelayedTaskCheckInterval: cfg.DelayedTaskCheckInterval,
		ShutdownTimeout:          cfg.ShutdownTimeout,
		Logger:                   asynqLogger{deps.Logger},
		LogLevel:                 asynq.WarnLevel,
	})
	w := &Worker{srv: srv, handler: h}
	if deps.Sweeper != nil {
		w.sweeper = &sweeper{sweep: deps.Sweeper, interval: cfg.BlobSweepInterval, log: deps.Logger}
	}
	if deps.Deliverer != nil {
		w.webhooks = asynq.NewServerFromRedisClient(client, asynq.Config{
			Concurrency:              cfg.WebhookConcurrency,
			Queues:                   map[string]int{tasks.WebhookQueue: 1},
			RetryDelayFunc:           h.retryDelay,
			IsFailure:                func(err error) bool { return !isInterruption(err) },
			TaskCheckInterval:        max(cfg.TaskCheckInterval, webhookCheckInterval),
			DelayedTaskCheckInterval: cfg.DelayedTaskCheckInterval,
			ShutdownTimeout:          cfg.ShutdownTimeout,
			Logger:                   asynqLogger{deps.Logger},
			LogLevel:                 asynq.WarnLevel,
		})
	}
	return w, nil
}

// webhookCheckInterval is the shortest poll interval of the webhooks
// server: a delivery may wait that long longer, and an idle process does
// not poll twice as often as it would without webhooks.
const webhookCheckInterval = 100 * time.Millisecond

// Handler returns the worker's task handler.
func (w *Worker) Handler() *Handler { return w.handler }

// Mux returns the asynq handler routing every task type mmq processes.
func (h *Handler) Mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.Handle(tasks.TypeDocumentAnalyze, h)
	mux.Handle(tasks.TypeVideoAnalyze, h)
	if h.deps.Deliverer != nil {
		mux.HandleFunc(tasks.TypeWebhookDeliver, h.ProcessWebhook)
	}
	if h.serveEconomy() {
		mux.HandleFunc(tasks.TypeEconomyGather, h.ProcessEconomyGather)
		mux.HandleFunc(tasks.TypeEconomyPoll, h.ProcessEconomyPoll)
	}
	return mux
}

// queues are the analysis server's queues: the priorities', and the
// economy queue when the worker runs economy mode.
func (h *Handler) queues() map[string]int {
	if !h.serveEconomy() {
		return tasks.Queues
	}
	qs := map[string]int{tasks.QueueEconomy: 1}
	for q, w := range tasks.Queues {
		qs[q] = w
	}
	return qs
}

func (h *Handler) serveEconomy() bool {
	_, err := h.economyStore()
	return err == nil
}

// Start starts processing in the background.
func (w *Worker) Start() error {
	var err error
	w.startOnce.Do(func() {
		if err = w.srv.Start(w.handler.Mux()); err != nil {
			return
		}
		if w.sweeper != nil {
			w.sweeper.start()
		}
		if w.webhooks == nil {
			return
		}
		if err = w.webhooks.Start(w.handler.Mux()); err != nil {
			w.srv.Shutdown()
		}
	})
	return err
}

// Shutdown stops taking tasks, lets in-flight pages finish within
// ShutdownTimeout and returns the unfinished tasks to their queues.
// It is safe to call more than once.
func (w *Worker) Shutdown() {
	w.stopOnce.Do(func() {
		close(w.handler.drain)
		var wg sync.WaitGroup
		if w.webhooks != nil {
			// In-flight deliveries end within their timeout, alongside the
			// pages of the analysis server.
			wg.Go(w.webhooks.Shutdown)
		}
		if w.sweeper != nil {
			wg.Go(w.sweeper.shutdown)
		}
		w.srv.Shutdown()
		wg.Wait()
	})
}

// isInterruption reports errors that do not count against the task's
// retries: the worker was stopping. They may come wrapped.
func isInterruption(err error) bool {
	return errors.Is(err, errDraining) || errors.Is(err, context.Canceled)
}
