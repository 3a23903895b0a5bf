// Package store keeps mmq's job records, page results and completion
// notifications in Redis, and job inputs on the local disk.
//
// # Redis layout
//
// Every key starts with Config.Prefix ("mmq" below). The keys of one job
// carry the job id as a Redis Cluster hash tag, {ID}, so they share a slot
// and one Lua script can update them atomically:
//
//	mmq:job:{ID}          hash    the job record, one scalar field per tasks.Job
//	                              field; options and metadata as JSON, times as
//	                              RFC 3339 in UTC, counters as integers; a job
//	                              of a batch whose metadata is the batch's has
//	                              none of its own but metadata_batch = 1, and
//	                              readers fill it in from the batch record
//	mmq:job:{ID}:results  hash    page index -> tasks.PageResult JSON, each at
//	                              most Config.MaxPageResultBytes
//	mmq:job:{ID}:idx      zset    page indexes scored by themselves, for paging
//	                              results in order
//	mmq:job:{ID}:done     set     indexes of the pages done
//	mmq:job:{ID}:failed   set     indexes of the pages failed (never also done)
//	mmq:job:{ID}:secret   string  the job's password, with a TTL of
//	                              Config.PasswordTTL; deleted when the job ends
//	mmq:job:{ID}:events   stream  the job's events (JobEvents); rewritten
//	                              compactly when the job ends, through the
//	                              scratch key mmq:job:{ID}:events:compact,
//	                              which exists only inside that script
//	mmq:job:{ID}:deliveries list  webhook delivery attempts, tasks.DeliveryAttempt
//	                              JSON, oldest first, the last 200; each append
//	                              gives it the TTL the record has left
//	                              (mmq:batch:{ID}:deliveries: the same for a batch)
//
// Two keys are global:
//
//	mmq:jobs              zset    job ids scored by creation time (unix ms)
//	mmq:notifications     stream  one entry per ended job: the fields of its
//	                              record a notification shows, as they were
//	                              when it ended, which Notifications turns into
//	                              tasks.Notification; capped with MAXLEN ~
//	                              Config.NotificationsMaxLen and trimmed with
//	                              MINID ~ to Config.NotificationsMaxAge
//
// When a job ends, all its keys get a TTL of Config.Retention. Its entry in
// mmq:jobs has none; ListJobs drops entries whose record has expired as it
// walks past them, and every FinishJob drops up to two more among those
// older than the retention, which keeps the index bounded.
//
// # Atomicity
//
// Every write is one Lua script, so one atomic step and one round trip:
// counters move with the sets they count, and a job's notification is
// appended in the same step that ends it. SaveLastPage saves a job's last
// page and ends the job in one step: a run of a 1-page job takes two round
// trips of the store, StartJob and SaveLastPage.
//
// # Redis Cluster
//
// A script may only touch keys of one cluster slot. Most touch one job's
// (or one batch's) keys alone, which their {ID} tag keeps together:
// StartJob, SavePage, SetPagesTotal, SetInput, ThrottlePage, ReopenJob,
// Results, AppendDelivery, CreateBatch's record (its jobs go in a
// pipeline, one job per command). Three do not:
//
//   - CreateJob adds the job to the jobs index, mmq:jobs;
//   - FinishJob and EndJob (and SaveLastPage when it ends the job) append
//     to mmq:notifications, sweep mmq:jobs by
//     checking other jobs' records, and move the counters of the job's
//     batch, mmq:batch:{BATCH}, whose key the script builds from the
//     record (an undeclared key, which a cluster refuses in another slot);
//   - ListJobs' pruning checks other jobs' records beside mmq:jobs.
//
// So on a Redis Cluster every key of the store goes into one slot: the
// prefix is then a whole hash tag, "{mmq}", and since Redis hashes the first
// tag of a key, "{mmq}:job:{ID}" lands in the slot of "mmq" like every other
// key of the store. Scripts keep their atomicity; the price is that the
// store (and the model cache and rate limiter, under the same prefix) lives
// on one shard, which the cluster fails over but does not spread. asynq's
// own keys carry their queue's name as a tag and spread over four slots.
// cmd/mmq refuses redis.cluster without such a prefix. Spreading the store
// would mean splitting each cross-slot script into a per-job script and a
// global write made idempotent, which it is not today.
//
// # Blobs
//
// The inputs themselves live in a blob backend beside this package (fsblob,
// a local directory, or s3blob, a bucket), content-addressed by their
// SHA-256 (tasks.BlobKey). Each job holds a reference to its input in Redis
// (mmq:blob:{KEY}:refs, see RefBlob), so that DeleteJob and SweepBlobs
// delete an input (through Config.Blobs) once no job uses it: nothing the
// store keeps outlives its jobs.
package store
