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
//	                              RFC 3339 in UTC, counters as integers
//	mmq:job:{ID}:results  hash    page index -> tasks.PageResult JSON
//	mmq:job:{ID}:idx      zset    page indexes scored by themselves, for paging
//	                              results in order
//	mmq:job:{ID}:done     set     indexes of the pages done
//	mmq:job:{ID}:failed   set     indexes of the pages failed (never also done)
//	mmq:job:{ID}:secret   string  the job's password; deleted when the job ends
//
// Two keys are global:
//
//	mmq:jobs              zset    job ids scored by creation time (unix ms)
//	mmq:notifications     stream  one entry per ended job: its record's fields
//	                              as they were when it ended, which
//	                              Notifications turns into tasks.Notification;
//	                              capped with MAXLEN ~ Config.NotificationsMaxLen
//
// When a job ends, all its keys get a TTL of Config.Retention. Its entry in
// mmq:jobs has none; ListJobs drops entries whose record has expired as it
// walks past them.
//
// # Atomicity
//
// Every write is one Lua script, so one atomic step and one round trip:
// counters move with the sets they count, and a job's notification is
// appended in the same step that ends it. CreateJob and FinishJob also
// write a global key (the jobs index, the stream), which in Redis Cluster
// lives in another slot than the job's keys: there each would have to be
// split into a per-job script followed by the global write. mmq runs on a
// single Redis (or a primary with replicas) today.
//
// # Blobs
//
// LocalBlobs stores job inputs under a directory, content-addressed by their
// SHA-256.
package store
