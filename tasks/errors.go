package tasks

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
)

// Code is a stable, machine-readable error code. Clients may switch on it.
type Code string

// Error codes. The api package maps each to an HTTP status in one table.
const (
	// Input errors: permanent, the job fails without retries.
	CodeEmptyFile       Code = "empty_file"
	CodeUnsupportedType Code = "unsupported_type"
	CodeInvalidPDF      Code = "invalid_pdf"
	// CodeInvalidImage: an image (PNG, JPEG, WebP, TIFF) is truncated,
	// corrupt or of a kind the decoders do not read (BigTIFF, say).
	CodeInvalidImage Code = "invalid_image"
	// CodeImageTooLarge: an image, or a page of a TIFF, declares more
	// pixels (width times height) than the server's limits.max_image_pixels;
	// it is refused before anything is decoded.
	CodeImageTooLarge   Code = "image_too_large"
	CodeEncryptedPDF    Code = "encrypted_pdf"
	CodeWrongPassword   Code = "wrong_password"
	CodeTooManyPages    Code = "too_many_pages"
	CodeFileTooLarge    Code = "file_too_large"
	CodeInvalidRequest  Code = "invalid_request"
	CodeInvalidURL      Code = "invalid_url"
	CodeFetchFailed     Code = "fetch_failed"
	CodeNotFound        Code = "not_found"
	CodeConflict        Code = "conflict"
	CodeProviderRefused Code = "provider_refused"
	// CodeInvalidSchema: a job's schema is not a valid JSON Schema (draft
	// 2020-12) with an object at the top.
	CodeInvalidSchema Code = "invalid_schema"
	// CodeProviderRequired: instructions or a schema were sent for an
	// analyzer that cannot follow them (the local one).
	CodeProviderRequired Code = "provider_required"
	// CodeSchemaMismatch ends a page whose model answers did not validate
	// against the job's schema after the re-asks.
	CodeSchemaMismatch Code = "schema_mismatch"
	// CodeDecodeTooLarge: decoding the frames a video job selects would
	// cost more than the server's decode budget, counted before anything
	// is decoded as picture pixels times frames (an animated GIF's canvas
	// times the frames drawn from it, a video's width times height times
	// the frames extracted). The message gives the figures; ask for fewer
	// frames (max_frames, a lower rate, start and end) or send a smaller
	// picture.
	CodeDecodeTooLarge Code = "decode_too_large"
	// CodePDFToTextUnavailable: pdftotext (poppler-utils), which the local
	// analyzer reads page text with, is not installed on the worker that
	// took the page. Videos and model providers are not affected.
	CodePDFToTextUnavailable Code = "pdftotext_unavailable"

	// Transient errors: retried.
	CodeUnavailable    Code = "unavailable"
	CodeProviderFailed Code = "provider_failed"
	CodeTimeout        Code = "timeout"

	// CodeCanceled ends a job canceled by its client.
	CodeCanceled Code = "canceled"
	// CodePagesFailed ends a job some of whose pages failed after their retries.
	CodePagesFailed Code = "pages_failed"
	// CodeBudgetExceeded ends a job that reached its max_cost_usd before all
	// its pages were analyzed.
	CodeBudgetExceeded Code = "budget_exceeded"
	// CodeInternal is a bug or an unclassified failure.
	CodeInternal Code = "internal"

	// API access: the request was refused before it was looked at.
	//
	// CodeUnauthorized: no API key, or one the server does not know.
	CodeUnauthorized Code = "unauthorized"
	// CodeForbidden: the key is known but may not do this (a tenant's key
	// at /monitoring, a change while it is read-only, a cross-origin
	// change).
	CodeForbidden Code = "forbidden"
	// CodeRateLimited: the key's request rate is used up; retry after the
	// response's Retry-After.
	CodeRateLimited Code = "rate_limited"
	// CodeRequestTimeout: the request body arrived slower than the
	// server's minimum rate and was cut off; send it again.
	CodeRequestTimeout Code = "request_timeout"
	// CodeTooManyStreams: the key, or the server, holds as many event
	// streams open as it allows; close one or retry later.
	CodeTooManyStreams Code = "too_many_streams"
	// CodeBusy: the server holds as many upload bytes as it allows at
	// once; retry after the response's Retry-After.
	CodeBusy Code = "busy"
	// CodeQuotaExceeded: the tenant is at one of its quotas (quotas in the
	// configuration); the message says which and when it frees. A job
	// whose pages, learned in the worker, would pass the day's quota fails
	// with it.
	CodeQuotaExceeded Code = "quota_exceeded"
	// CodeResultTooLarge: one page's result is over the store's cap
	// (store.max_page_result_bytes); the page is stored failed with it.
	CodeResultTooLarge Code = "result_too_large"
	// CodeModeUnsupported: the job asks for economy mode, and no provider
	// it may use has a batch API (and config names no fallback).
	CodeModeUnsupported Code = "mode_unsupported"
)

// permanentCodes lists the codes that no retry can fix.
var permanentCodes = map[Code]bool{
	CodeEmptyFile: true, CodeUnsupportedType: true, CodeInvalidPDF: true,
	CodeEncryptedPDF: true, CodeWrongPassword: true, CodeTooManyPages: true,
	CodeFileTooLarge: true, CodeInvalidRequest: true, CodeInvalidURL: true,
	CodeNotFound: true, CodeConflict: true, CodeProviderRefused: true, CodeFetchFailed: true,
	CodeCanceled: true, CodeFFmpegUnavailable: true, CodeInvalidVideo: true, CodeNoVideoStream: true,
	CodeUnsupportedCodec: true, CodeVideoTooLong: true, CodeTooManyFrames: true, CodeDecodeTooLarge: true,
	CodeInvalidSchema: true, CodeProviderRequired: true, CodeSchemaMismatch: true,
	CodeResultTooLarge: true, CodeQuotaExceeded: true, CodeModeUnsupported: true,
	CodePDFToTextUnavailable: true, CodeInvalidImage: true, CodeImageTooLarge: true,
}

// Error is an error with a code and a message meant for the client.
type Error struct {
	Code    Code
	Message string
	// Err is the underlying cause, kept for logs; it is not shown to clients.
	Err error
}

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with code and message that wraps cause.
func WrapError(code Code, cause error, message string) *Error {
	return &Error{Code: code, Message: message, Err: cause}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether retrying can never make the operation succeed.
func (e *Error) Permanent() bool { return permanentCodes[e.Code] }

// ErrorCode returns the code of the first *Error in err's chain. A context
// error becomes CodeCanceled or CodeTimeout, anything else CodeInternal.
func ErrorCode(err error) Code {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	}
	return CodeInternal
}

// ErrorMessage returns the client-facing message of err: the message of the
// first *Error in its chain, else err's text.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

// IsPermanent reports whether err can never be fixed by a retry: bad input,
// unsupported content, a provider's 4xx, or an error that already wraps
// asynq.SkipRetry. Everything else (network, Redis, 5xx, timeouts) is transient.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, asynq.SkipRetry) {
		return true
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Permanent()
	}
	return false
}

// ForAsynq returns err in the form asynq should see: a permanent error is
// wrapped with asynq.SkipRetry so that no retry is burned on it.
func ForAsynq(err error) error {
	if err == nil || errors.Is(err, asynq.SkipRetry) || !IsPermanent(err) {
		return err
	}
	return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
}
