// Package metrics exports mmq's Prometheus metrics.
//
// A Registry holds the pipeline metrics that the worker and the API report
// through their Observer interfaces (it implements worker.Observer and
// api.Observer without importing either), the Go runtime and process
// collectors, and whatever collectors the process adds: a QueueCollector for
// the asynq queues in the API process, the worker's page slots in a worker
// process. Handler serves them all at /metrics.
//
// # Metrics
//
// Pipeline (counted by the process that did the work):
//
//	mmq_jobs_total{kind,status}                      jobs a worker ended
//	mmq_job_duration_seconds{kind,status}            submission to end, per job
//	mmq_pages_total{kind,status}                     stored page (frame) results
//	mmq_page_duration_seconds{kind,status}           one page's analysis, its retries included
//	mmq_page_stage_duration_seconds{stage,provider}  preprocess, inference, ttfb, postprocess
//	mmq_tokens_total{provider,model,direction}       input and output tokens
//	mmq_cost_usd_total{provider,model}               cost at the configured prices
//	mmq_page_retries_total{provider}                 provider HTTP retries + page attempts after the first
//	mmq_task_retries_total{kind,error_code}          job task runs that failed and are retried
//	mmq_cache_lookups_total{result}                  result cache hits and misses
//	mmq_rate_limit_wait_seconds{provider}            waits for the shared rate limiter (count = waits)
//	mmq_guardrail_triggers_total{provider}           answers in which the guardrail flagged personal data
//	mmq_webhook_deliveries_total{outcome}            webhook delivery attempts
//	mmq_webhook_delivery_duration_seconds            one delivery attempt
//	mmq_worker_pages_in_flight, mmq_worker_page_slots  the process-wide page semaphore
//	mmq_http_requests_total{method,route,status}     API requests by route pattern
//	mmq_http_request_duration_seconds{method,route}  API request duration
//
// Queues (QueueCollector, read from Redis at each scrape; the names are
// those of asynq's own exporter, which asynqmon's charts query):
//
//	asynq_queue_size{queue}, asynq_queue_latency_seconds{queue},
//	asynq_tasks_enqueued_total{queue,state}, asynq_tasks_processed_total{queue},
//	asynq_tasks_failed_total{queue}, asynq_queue_memory_usage_approx_bytes{queue},
//	asynq_queue_paused_total{queue}
//
// Queue metrics describe the shared Redis, so only the API process exports
// them; every worker process exports its own pipeline metrics on
// metrics.addr.
package metrics
