// Package webhook signs and delivers mmq's webhooks, following the Standard
// Webhooks specification (https://www.standardwebhooks.com). The messages
// themselves are vocabulary, built in package tasks, so that the API and
// the worker build them without this package.
//
// # Messages
//
// A job with a callback_url gets one message when it ends: job.succeeded,
// job.partially_succeeded, job.failed or job.canceled; a batch with one gets
// batch.completed. The body is the specification's envelope,
//
//	{"type": "job.succeeded", "timestamp": "2026-01-02T15:04:05Z",
//	 "data": {"job_id": "...", "status": "succeeded", "pages_total": 12, ...,
//	          "links": {"job": "/v1/jobs/ID", "results": "/v1/jobs/ID/results"}}}
//
// with counts, metadata and links to the results, never the results
// themselves. tasks.JobWebhookPayload and tasks.BatchWebhookPayload make
// it; the message id derives from what ended and when, so building it twice
// gives the same id.
//
// # Signatures
//
// Every request carries webhook-id, webhook-timestamp (Unix seconds of the
// attempt) and webhook-signature: "v1," + base64(HMAC-SHA256(key,
// id + "." + timestamp + "." + body)) for each configured secret, separated
// by spaces, so that during a rotation a receiver holding either the new or
// the old secret accepts the request. Secrets are "whsec_" + base64 of the
// key. The signing is the standard-webhooks Go library's.
//
// # Tenants' secrets
//
// A tenant may have secrets of its own (Config.TenantSecrets: the current
// one first, then those being rotated out). Its messages are signed with
// those alone: not with the deployment's Secret and PreviousSecrets, which
// every tenant without secrets of its own shares, nor with another
// tenant's; so a receiver holding the deployment's secret, or another
// tenant's, cannot make a request that this tenant's receiver accepts.
// The messages of every other tenant are signed with the deployment's.
// tasks.JobWebhookPayload and tasks.BatchWebhookPayload copy the job's or
// batch's tenant into the webhook:deliver payload
// (tasks.WebhookPayload.Tenant), so every attempt and a redelivery choose the same secret (Deliverer.SignerFor) without
// reading the job. A task queued without a tenant is signed with the
// deployment's secret. Tenant names are exact: "ACME" is not "acme".
//
// # Delivery
//
// Deliverer.Deliver makes one attempt, with a timeout (15 s by default) and
// through the ssrf package's guarded client; it follows no redirect. A 2xx
// answer is a delivery. 410 Gone asks for no more attempts: the error wraps
// ErrGone and asynq.SkipRetry. Every other outcome — another status, a
// timeout, a network error — is a failure to retry, as the specification
// says, with the receiver's Retry-After, when given, in a
// *tasks.RetryAfterError. A URL whose address the guard refuses is a
// permanent failure. The schedule of the retries is the worker's business:
// a webhook:deliver task's RetryDelayFunc, see tasks.Schedule.
package webhook
