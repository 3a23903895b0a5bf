package webhook

import (
	"github.com/hibiken/asynq"

	"github.com/mmq/mmq/tasks"
)

// EndTasks returns the webhook:deliver tasks that announce the end of job j
// to its callback URL and, when b is not nil and completed, the end of
// batch b to its own: none for what has no callback URL. Each task's id is
// its message id, so enqueueing the tasks of one end twice — a task run
// again, the API and a worker both — sends it once while asynq retains the
// first (cfg.Retention); asynq.ErrTaskIDConflict then means "already
// announced".
func EndTasks(j *tasks.Job, b *tasks.Batch, cfg tasks.WebhookTaskConfig) ([]*asynq.Task, error) {
	var ps []tasks.WebhookPayload
	if j != nil && j.CallbackURL != "" {
		p, err := JobPayload(j)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	if b != nil && b.CallbackURL != "" && b.Status == tasks.BatchCompleted {
		p, err := BatchPayload(b)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	ts := make([]*asynq.Task, 0, len(ps))
	for _, p := range ps {
		t, err := tasks.NewWebhookTask(p, p.WebhookID, cfg)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}
