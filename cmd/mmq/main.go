// Command mmq analyzes PDF documents page by page on asynq workers.
//
//	mmq run                  API, worker and asynqmon in one process
//	mmq api | mmq worker     the parts alone, for scaling out
//	mmq submit FILE --wait   submit a document and follow it
//	mmq status JOB | mmq results JOB
//	mmq watch JOB            a job's live events; the exit code says how it ended
//	mmq cancel JOB | mmq retry JOB
//	mmq stats --since 1h     success rate, latency, cost against the targets
//	mmq keys create          a new API key and the hash for auth.keys
//
// See README.md and configs/config.yaml.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mmq/mmq/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mmq:", err)
		os.Exit(exitCode(err))
	}
}

// Exit codes, documented in README.md.
const (
	exitFailure     = 1 // anything else
	exitUsage       = 2 // bad flags or arguments
	exitRejected    = 3 // the API refused the request (bad input)
	exitJobFailed   = 4 // the job ended failed or canceled
	exitJobPartial  = 5 // the job ended partially_succeeded
	exitUnavailable = 6 // the API could not be reached
)

// usageError marks errors in the command line.
type usageError struct{ error }

// jobEndError reports a job that ended badly under --wait.
type jobEndError struct {
	code int
	msg  string
}

func (e *jobEndError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue usageError
	var je *jobEndError
	var ae *client.APIError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &je):
		return je.code
	case errors.As(err, &ae):
		if ae.Status >= 500 {
			return exitUnavailable
		}
		return exitRejected
	case isConnError(err):
		return exitUnavailable
	}
	return exitFailure
}
