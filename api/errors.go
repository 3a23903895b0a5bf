package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/mmq/mmq/tasks"
)

// statusOf is the one table from error code to HTTP status. A code missing
// from it is a 500.
var statusOf = map[tasks.Code]int{
	tasks.CodeEmptyFile:        http.StatusBadRequest,
	tasks.CodeInvalidRequest:   http.StatusBadRequest,
	tasks.CodeInvalidURL:       http.StatusBadRequest,
	tasks.CodeInvalidSchema:    http.StatusBadRequest,
	tasks.CodeProviderRequired: http.StatusBadRequest,
	tasks.CodeSchemaMismatch:   http.StatusUnprocessableEntity,
	tasks.CodeNotFound:         http.StatusNotFound,
	tasks.CodeConflict:         http.StatusConflict,
	tasks.CodeFileTooLarge:     http.StatusRequestEntityTooLarge,
	tasks.CodeUnsupportedType:  http.StatusUnsupportedMediaType,
	tasks.CodeInvalidPDF:       http.StatusUnprocessableEntity,
	tasks.CodeEncryptedPDF:     http.StatusUnprocessableEntity,
	tasks.CodeWrongPassword:    http.StatusUnprocessableEntity,
	tasks.CodeTooManyPages:     http.StatusUnprocessableEntity,
	tasks.CodeFetchFailed:      http.StatusUnprocessableEntity,
	tasks.CodeProviderRefused:  http.StatusUnprocessableEntity,
	tasks.CodeProviderFailed:   http.StatusBadGateway,
	tasks.CodeUnavailable:      http.StatusServiceUnavailable,
	tasks.CodeTimeout:          http.StatusGatewayTimeout,
	// The client went away; nobody reads this status but the access log,
	// where nginx's 499 says what happened.
	tasks.CodeCanceled: 499,
	tasks.CodeInternal: http.StatusInternalServerError,

	// API keys and their rate limit.
	tasks.CodeUnauthorized:  http.StatusUnauthorized,
	tasks.CodeForbidden:     http.StatusForbidden,
	tasks.CodeRateLimited:   http.StatusTooManyRequests,
	tasks.CodeQuotaExceeded: http.StatusTooManyRequests,
	// Bounds of one API process.
	tasks.CodeRequestTimeout: http.StatusRequestTimeout,
	tasks.CodeTooManyStreams: http.StatusTooManyRequests,
	tasks.CodeBusy:           http.StatusServiceUnavailable,
	// A page result is never an HTTP answer, but the table lists every code.
	tasks.CodeResultTooLarge: http.StatusUnprocessableEntity,
	// Economy mode (provider batch APIs).
	tasks.CodeModeUnsupported: http.StatusBadRequest,

	// Videos.
	tasks.CodeDecodeTooLarge:    http.StatusUnprocessableEntity,
	tasks.CodeInvalidVideo:      http.StatusUnprocessableEntity,
	tasks.CodeInvalidImage:      http.StatusUnprocessableEntity,
	tasks.CodeImageTooLarge:     http.StatusUnprocessableEntity,
	tasks.CodeNoVideoStream:     http.StatusUnprocessableEntity,
	tasks.CodeVideoTooLong:      http.StatusUnprocessableEntity,
	tasks.CodeTooManyFrames:     http.StatusUnprocessableEntity,
	tasks.CodeUnsupportedCodec:  http.StatusUnsupportedMediaType,
	tasks.CodeFFmpegUnavailable: http.StatusServiceUnavailable,

	// Documents read by the local analyzer.
	tasks.CodePDFToTextUnavailable: http.StatusServiceUnavailable,
}

// httpStatus returns the HTTP status of code.
func httpStatus(code tasks.Code) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// errorBody is the body of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    tasks.Code `json:"code"`
	Message string     `json:"message"`
	// Pointer is, for invalid_schema, the JSON pointer of the problem in
	// the schema.
	Pointer string `json:"pointer,omitempty"`
}

// internalMessage is all a client learns of a 5xx without a message of its own.
const internalMessage = "internal error"

// writeError writes err as an error response. The status comes from err's
// code; a client sees the message of a *tasks.Error, never its cause, and only
// a generic message for an error without a code. The cause goes to the
// request's access log line.
func writeError(w http.ResponseWriter, err error) {
	code := tasks.ErrorCode(err)
	status := httpStatus(code)
	if rec, ok := w.(interface{ recordError(tasks.Code, error) }); ok {
		rec.recordError(code, err)
	}
	if code == tasks.CodeBusy || code == tasks.CodeTooManyStreams {
		w.Header().Set("Retry-After", busyRetryAfter)
	}
	writeJSON(w, status, errorObject(err))
}

// errorObject is what a client learns of err, in an HTTP error response's
// body and in an event stream's "error" event alike: its code, its client
// message and, for invalid_schema, the JSON pointer of the problem.
func errorObject(err error) errorBody {
	code := tasks.ErrorCode(err)
	detail := errorDetail{Code: code, Message: clientMessage(err)}
	if code == tasks.CodeInvalidSchema {
		detail.Pointer = schemaPointer(err)
	}
	return errorBody{Error: detail}
}

// clientMessage is what a client may learn of err: the message of a
// *tasks.Error, never its cause; for an error without one, a generic
// message of its status.
func clientMessage(err error) string {
	status := httpStatus(tasks.ErrorCode(err))
	var te *tasks.Error
	switch {
	case errors.As(err, &te) && te.Message != "":
		return te.Message
	case status == http.StatusInternalServerError || http.StatusText(status) == "":
		return internalMessage
	}
	return strings.ToLower(http.StatusText(status))
}

// writeJSON writes v as the JSON body of a response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// An encoding error here means the client went away mid-write; the
	// status is already sent and the access log has it.
	_ = json.NewEncoder(w).Encode(v)
}
