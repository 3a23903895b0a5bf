// Package tasks is mmq's shared vocabulary: task type names, task payloads,
// job and page records, error codes, enqueue options, the retry policy, the
// webhook messages (WebhookMessage, NewEndWebhookTasks) and the blob key
// (BlobKey, CheckBlobKey).
//
// It sits at the bottom of the dependency graph: it imports nothing of mmq's,
// and every other package may import it. The store, media and analyzer
// packages talk to each other only through the types defined here.
package tasks
