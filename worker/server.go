package worker

import (
	"context"
	"sync"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/tasks"
)

// Worker runs an asynq server that processes mmq's tasks.
type Worker struct {
	srv       *asynq.Server
	handler   *Handler
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
		Queues:                   tasks.Queues,
		RetryDelayFunc:           cfg.TaskBackoff.RetryDelayFunc(),
		IsFailure:                func(err error) bool { return !isInterruption(err) },
		TaskCheckInterval:        cfg.TaskCheckInterval,
		DelayedTaskCheckInterval: cfg.DelayedTaskCheckInterval,
		ShutdownTimeout:          cfg.ShutdownTimeout,
		Logger:                   asynqLogger{deps.Logger},
		LogLevel:                 asynq.WarnLevel,
	})
	return &Worker{srv: srv, handler: h}, nil
}

// Handler returns the worker's task handler.
func (w *Worker) Handler() *Handler { return w.handler }

// Mux returns the asynq handler routing every task type mmq processes.
func (h *Handler) Mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.Handle(tasks.TypeDocumentAnalyze, h)
	return mux
}

// Start starts processing in the background.
func (w *Worker) Start() error {
	var err error
	w.startOnce.Do(func() { err = w.srv.Start(w.handler.Mux()) })
	return err
}

// Shutdown stops taking tasks, lets in-flight pages finish within
// ShutdownTimeout and returns the unfinished tasks to their queues.
// It is safe to call more than once.
func (w *Worker) Shutdown() {
	w.stopOnce.Do(func() {
		close(w.handler.drain)
		w.srv.Shutdown()
	})
}

// isInterruption reports errors that do not count against the task's
// retries: the worker was stopping.
func isInterruption(err error) bool {
	return err == errDraining || err == context.Canceled
}
