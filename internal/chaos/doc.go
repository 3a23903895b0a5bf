// Package chaos holds mmq's crash and restart suite (`make chaos`): real
// worker processes killed with SIGKILL and restarted, a Redis restarted
// under them, and a graceful SIGTERM with work in flight, after which no
// job may be lost and no page result missing or duplicated.
//
// The suite is behind the build tag "chaos"; chaosworker is the worker
// process it runs.
package chaos
