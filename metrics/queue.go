package metrics

import (
	"errors"
	"fmt"
	"slices"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// QueueInspector is what a QueueCollector reads. *asynq.Inspector
// implements it.
type QueueInspector interface {
	Queues() ([]string, error)
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
}

// QueueCollector exports the state of asynq's queues, read from Redis at
// each scrape: the metrics of asynq's own exporter (github.com/hibiken/asynq/x/metrics),
// under the same names, so that asynqmon's Prometheus charts find them.
//
// It is written here rather than imported because that exporter is a
// separate, 2021 module that logs through the standard logger and, lacking
// module graph pruning, would add its whole old dependency graph to go.sum.
type QueueCollector struct {
	insp QueueInspector
	// queues are always reported, even before their first task: asynq only
	// learns a queue's name when a task is enqueued on it.
	queues []string
	onErr  func(error)
}

// NewQueueCollector returns a collector of the queues insp knows and of
// queues, which are reported even when still unknown to asynq. onErr, if
// not nil, hears of a failed scrape (Redis down); the scrape then reports
// the error and the queues it could read.
func NewQueueCollector(insp QueueInspector, queues []string, onErr func(error)) *QueueCollector {
	return &QueueCollector{insp: insp, queues: slices.Clone(queues), onErr: onErr}
}

var (
	queueSizeDesc = prometheus.NewDesc("asynq_queue_size",
		"Number of tasks in a queue: pending, active, scheduled, retry, aggregating and archived.", []string{"queue"}, nil)
	queueLatencyDesc = prometheus.NewDesc("asynq_queue_latency_seconds",
		"How long the oldest pending task of a queue has waited.", []string{"queue"}, nil)
	queueMemoryDesc = prometheus.NewDesc("asynq_queue_memory_usage_approx_bytes",
		"Approximate memory a queue and its tasks take in Redis (sampled).", []string{"queue"}, nil)
	tasksByStateDesc = prometheus.NewDesc("asynq_tasks_enqueued_total",
		"Number of tasks in a queue, by state.", []string{"queue", "state"}, nil)
	tasksProcessedDesc = prometheus.NewDesc("asynq_tasks_processed_total",
		"Tasks processed (succeeded or failed), cumulative.", []string{"queue"}, nil)
	tasksFailedDesc = prometheus.NewDesc("asynq_tasks_failed_total",
		"Tasks that failed, cumulative.", []string{"queue"}, nil)
	queuePausedDesc = prometheus.NewDesc("asynq_queue_paused_total",
		"1 if the queue is paused, else 0.", []string{"queue"}, nil)
)

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueSizeDesc, queueLatencyDesc, queueMemoryDesc,
		tasksByStateDesc, tasksProcessedDesc, tasksFailedDesc, queuePausedDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	names, err := c.insp.Queues()
	if err != nil {
		c.fail(ch, fmt.Errorf("metrics: list asynq queues: %w", err))
		return
	}
	known := len(names)
	for _, q := range c.queues {
		if !slices.Contains(names[:known], q) {
			names = append(names, q)
		}
	}
	var errs []error
	for i, q := range names {
		// One of ours that has had no task yet is empty.
		info := &asynq.QueueInfo{Queue: q}
		if i < known {
			if info, err = c.insp.GetQueueInfo(q); err != nil {
				errs = append(errs, fmt.Errorf("queue %s: %w", q, err))
				continue
			}
		}
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{q}, labels...)...)
		}
		gauge(queueSizeDesc, float64(info.Size))
		gauge(queueLatencyDesc, info.Latency.Seconds())
		gauge(queueMemoryDesc, float64(info.MemoryUsage))
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived, "completed": info.Completed, "aggregating": info.Aggregating} {
			gauge(tasksByStateDesc, float64(n), state)
		}
		ch <- prometheus.MustNewConstMetric(tasksProcessedDesc, prometheus.CounterValue, float64(info.ProcessedTotal), q)
		ch <- prometheus.MustNewConstMetric(tasksFailedDesc, prometheus.CounterValue, float64(info.FailedTotal), q)
		paused := 0.0
		if info.Paused {
			paused = 1
		}
		gauge(queuePausedDesc, paused)
	}
	if len(errs) > 0 {
		c.fail(ch, fmt.Errorf("metrics: read asynq queues: %w", errors.Join(errs...)))
	}
}

// fail reports err in the scrape and to onErr.
func (c *QueueCollector) fail(ch chan<- prometheus.Metric, err error) {
	if c.onErr != nil {
		c.onErr(err)
	}
	ch <- prometheus.NewInvalidMetric(queueSizeDesc, err)
}
