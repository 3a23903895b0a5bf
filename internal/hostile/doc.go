// Package hostile is mmq's hostile-client regression suite: the attacks of
// the security review, each run against real mmq processes and held to a
// loose bound (the machine is a noisy 2-core one), with the exact figure
// logged (go test -v).
//
// The tests build cmd/mmq once per run and start `mmq api` (or `mmq run`
// for the bomb, which needs a worker) as a child process on a free
// loopback port, configured through MMQ_* variables: Redis DB
// redistest.DBHostile (flushed first, never DB 0), store prefix "hostile",
// two API keys (A, the attacker's, and B, a bystander's; the server gets
// their SHA-256 digests) and no rate limit. Memory is the server
// process's: /proc/PID/status VmRSS before an attack, with VmHWM reset by
// writing 5 to /proc/PID/clear_refs, and VmHWM after. Without /proc the
// tests skip. The processes are stopped when their test ends. The tests
// run one after another: they share the DB and measure memory and
// latency.
//
// The attacks:
//
//   - TestManyStreams: key A opens 2,000 event streams (GET
//     /v1/jobs/{id}/events on raw connections; api.max_streams and
//     api.max_streams_per_key at 2000); 200 sequential GET /v1/jobs/{id}
//     with key B keep a p99 ≤ 50 ms, /readyz stays 200, the 2,001st
//     stream of either key gets 429 too_many_streams, and closed streams
//     give their places back.
//   - TestSlowHugeChunkedUploads: 16 concurrent chunked multipart uploads of
//     1 GiB (made as they are sent) to POST /v1/jobs each get 413
//     file_too_large once past limits.max_upload_bytes (100 MiB), the
//     client is cut off long before 1 GiB, and the API's RSS grows at most
//     256 MiB.
//   - TestSlowLargeBatchUpload: a multipart batch of ten 100 MiB files (POST
//     /v1/batches) under limits.max_batch_upload_bytes. The files are a PDF
//     header and filler: the API spools all ten, then refuses the first
//     with 422 invalid_pdf after inspecting it. Bound: 256 MiB of RSS.
//     A batch of ten valid 100 MiB PDFs is not tried: it would measure
//     pdfcpu's hold on a 100 MiB document, not the upload path.
//   - TestAttackSlowloris: with api.body_grace 2 s and api.body_min_rate 16 KiB/s,
//     a body sent at 1 byte per 5 s gets 408 request_timeout after the
//     grace; headers sent at 1 byte a second are cut off by
//     api.read_header_timeout (2 s); an idle keep-alive connection is
//     closed after api.idle_timeout (2 s). The API has no overall read
//     timeout (it would cut off event streams and slow large uploads), so
//     the body bound is the minimum rate.
//   - TestRandomMethodsKeepMetricsSmall: 5,000 requests with random
//     methods, a quarter of them to random paths, leave at most 20
//     mmq_http_requests_total series and a /metrics of at most 200 KB.
//   - TestSlowRepairBomb: testdata/bad/bomb-objstm-string-512m-repair.pdf
//     uploaded to `mmq run` (local analyzer) ends within 60 s with at most
//     256 MiB of RSS growth of the process; its children (qpdf, pdftotext)
//     are polled every 10 ms and logged apart. It found that pdfcpu
//     (v0.15.0, filter.copyDecoded) reads a capped stream into a
//     bytes.Buffer through a LimitedReader of cap+1 bytes: the object
//     stream, cut at the cap, grows the buffer to twice the cap for its
//     last byte. At a 64 MiB cap the process grew 355 MiB (the API's
//     inspection and the worker's open, each about 180); the cap
//     (tasks.MaxDecodedBytes) is now 32 MiB and the growth about 180 MiB.
//   - TestBatchRedisBytes: a JSON batch of 10,000 URLs with 16 KiB of
//     shared metadata, accepted by an API with no worker (nothing is
//     fetched), takes at most 40 MiB of Redis: the sum of MEMORY USAGE over
//     the keys of the suite's DB (store and asynq keys, logged apart), with
//     INFO used_memory logged as a second, server-wide, opinion.
package hostile
