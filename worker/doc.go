// Package worker holds mmq's asynq handlers and the fan-out engine.
//
// A job's task is handled in four steps: load the input (fetching it first
// when the job was submitted by URL), split it into units (pages of a PDF,
// frames of a video), analyze the units in parallel under two semaphores —
// one per job and one shared by every job in the process — and end the job
// with its final state and completion notification.
//
// Each unit's result is written to the store the moment it exists. That
// checkpoint is what makes a retried or recovered task cheap: the handler
// asks the store which units are done and never produces them again.
//
// A job that ends with a callback URL is announced with a webhook:deliver
// task whose id derives from the end itself, so that announcing twice sends
// once. Deliveries run on an asynq server of their own, on the webhooks
// queue, so that they never wait behind long analysis tasks; their retries
// follow the webhook schedule (tasks.Schedule) and a receiver's
// Retry-After, and every attempt is logged in the store.
//
// The worker uses the store, the media splitter and the analyzer through the
// small interfaces in deps.go; cmd/mmq wires the concrete implementations.
package worker
