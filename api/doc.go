// Package api is mmq's HTTP interface: clients submit files or URLs, read the
// state of their jobs, page through per-page results and long-poll the
// notification stream.
//
// Routes:
//
//	POST /v1/jobs                  submit a job (multipart upload or JSON with a URL)
//	GET  /v1/jobs                  list jobs, optionally by status
//	GET  /v1/jobs/{id}             one job
//	GET  /v1/jobs/{id}/results     the job's page results, in index order, paged
//	GET  /v1/notifications         completion notifications, long-polled
//	GET  /healthz                  liveness: the process serves HTTP
//	GET  /readyz                   readiness: Redis and every extra check answer
//
// A submitted upload is checked before it is accepted: its type is sniffed and,
// for a PDF, the document is opened once to refuse corrupt, encrypted or
// oversized files with a 4xx instead of a job that fails later. A job submitted
// by URL is accepted on the URL's form alone: the worker fetches it, sniffs it
// and runs those checks, so a bad URL target ends as a failed job, not as a 4xx.
//
// Every error has the body {"error":{"code":"...","message":"..."}}; the code is
// a tasks.Code, and the one table in errors.go maps it to the HTTP status.
//
// The package knows the store, the blob store, the queue and the PDF reader
// only through the small interfaces in deps.go; cmd/mmq wires the concrete
// implementations.
package api
