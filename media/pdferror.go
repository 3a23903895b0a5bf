package media

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"

	"github.com/mmq/mmq/tasks"
)

// Client-facing messages. They never contain the password nor pdfcpu's
// wording, which is kept in the wrapped cause for the logs.
const (
	msgEmpty         = "the file is empty"
	msgNotPDF        = "the file is not a PDF"
	msgEncrypted     = "PDF is encrypted; submit it with its password"
	msgWrongPassword = "the password does not open this PDF"
	msgInvalid       = "the PDF could not be parsed; it is damaged or not a valid PDF"
	msgNoPages       = "the PDF has no pages"
	msgBadPage       = "the PDF page could not be extracted; it is damaged"
)

// ErrPageRange is returned by [PDF.Page] for a page number outside
// 1..PageCount, a caller's bug rather than bad input.
var ErrPageRange = errors.New("media: page number out of range")

// PanicError is the cause recorded when pdfcpu (or the page copier working
// on pdfcpu's objects) panicked. It is wrapped in a tasks.Error with
// CodeInvalidPDF; Stack is kept for the logs.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("media: pdfcpu panicked: %v", e.Value) }

// catchPanic turns a panic in the deferring function into a *PanicError in
// *err. Use it as `defer catchPanic(&err)` around every call into pdfcpu.
func catchPanic(err *error) {
	if r := recover(); r != nil {
		*err = &PanicError{Value: r, Stack: debug.Stack()}
	}
}

// classifyReadError maps an error of reading a PDF to the error the client
// sees. A context error is returned as is, so that the worker reports a
// cancellation or a timeout rather than a bad file.
func classifyReadError(err error, password string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("media: open PDF: %w", err)
	case errors.Is(err, pdfcpu.ErrWrongPassword) && password == "":
		return tasks.WrapError(tasks.CodeEncryptedPDF, err, msgEncrypted)
	case errors.Is(err, pdfcpu.ErrWrongPassword):
		return tasks.WrapError(tasks.CodeWrongPassword, err, msgWrongPassword)
	case errors.Is(err, pdfcpu.ErrEmptyInput):
		return tasks.WrapError(tasks.CodeEmptyFile, err, msgEmpty)
	case errors.Is(err, pdfcpu.ErrPostScriptInput):
		return tasks.WrapError(tasks.CodeUnsupportedType, err, "the file is PostScript, not a PDF")
	}
	return tasks.WrapError(tasks.CodeInvalidPDF, err, msgInvalid)
}
