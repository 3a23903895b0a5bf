package worker

import (
	"fmt"

	"github.com/rs/zerolog"

	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/tasks"
)

// publicMessage is the message of err stored on a job or page, where
// clients read it: tasks.ErrorMessage, redacted, since an error without a
// message of its own (a provider's, the store's) shows its text, which may
// name an internal address or a URL with its query string.
func publicMessage(err error) string {
	return ssrf.RedactText(tasks.ErrorMessage(err))
}

// asynqLogger routes asynq's own log lines into zerolog. Its lines repeat
// handlers' errors and the Redis address, so they are redacted.
type asynqLogger struct{ l zerolog.Logger }

func (a asynqLogger) log(ev *zerolog.Event, args []any) {
	ev.Str("component", "asynq").Msg(ssrf.RedactText(fmt.Sprint(args...)))
}

func (a asynqLogger) Debug(args ...any) { a.log(a.l.Debug(), args) }
func (a asynqLogger) Info(args ...any)  { a.log(a.l.Info(), args) }
func (a asynqLogger) Warn(args ...any)  { a.log(a.l.Warn(), args) }
func (a asynqLogger) Error(args ...any) { a.log(a.l.Error(), args) }
func (a asynqLogger) Fatal(args ...any) { a.log(a.l.Fatal(), args) }
