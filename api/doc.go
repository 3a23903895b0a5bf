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
//	GET  /v1/jobs/{id}/deliveries  the attempts to deliver the job's webhook
//	POST /v1/jobs/{id}/deliveries/redeliver  send an ended job's webhook again
//	GET  /v1/batches/{id}/deliveries  the attempts to deliver a batch's webhook
//	GET  /v1/notifications         completion notifications, long-polled
//	GET  /v1/stats                 recent jobs against the service's targets
//	GET  /healthz                  liveness: the process serves HTTP
//	GET  /readyz                   readiness: Redis and every extra check answer
//	GET  /openapi.json             the OpenAPI 3.1 description, openapi.yaml
//
// openapi.yaml describes every route (Server.Routes lists them); the tests
// hold the routes and every response they get to it.
//
// A submitted upload is checked before it is accepted: its type is sniffed and,
// for a PDF, the document is opened once to refuse corrupt, encrypted or
// oversized files with a 4xx instead of a job that fails later; a video is
// probed (Deps.InspectVideo) to refuse damaged headers, audio-only files,
// absurd dimensions, videos over the length limit and sampling that selects
// more than max_frames frames, and its job records the video's facts and
// its planned frames. A job submitted
// by URL is accepted on the URL's form alone: the worker fetches it, sniffs it
// and runs those checks, so a bad URL target ends as a failed job, not as a 4xx.
//
// A URL given as input or as callback_url must be http or https, with a host
// and without credentials; a host that is a private, loopback or link-local
// IP literal, or localhost, is refused unless Config.SSRF allows it. The
// worker checks resolved addresses again when it connects.
//
// With Config.Auth enabled every /v1 route needs an API key (auth.go):
// "Authorization: Bearer <key>", "X-API-Key: <key>", or the password of Basic
// auth, which is how a browser answers the login prompt of a handler wrapped
// with Server.Protect or Server.Monitoring (asynqmon). Unknown keys get 401
// unauthorized, a key over its rate 429 rate_limited. The health checks stay
// open. Server.Monitoring (monitoring.go) lets only admin keys in, refuses
// every change when read-only and a change from another origin otherwise
// (403 forbidden), and forbids framing.
//
// Every error has the body {"error":{"code":"...","message":"..."}}; the code is
// a tasks.Code, and the one table in errors.go maps it to the HTTP status.
//
// The package knows the store, the blob store, the queue and the PDF reader
// only through the small interfaces in deps.go; cmd/mmq wires the concrete
// implementations.
package api
