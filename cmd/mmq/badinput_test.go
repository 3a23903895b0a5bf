package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/tasks"
)

// badDir holds the bad inputs; README.md there lists each with its outcome.
const badDir = "../../testdata/bad"

// maxUpload is the upload limit the bad-input test runs with, so that an
// oversized upload is cheap to send. Every file in badDir is smaller.
const maxUpload = 1 << 20

// outcome is what one submission must give: refused at submit with Status
// and Code, or accepted (202) and ended in Final with Code and, when it
// succeeded, Pages pages.
type outcome struct {
	Status int
	Code   tasks.Code
	Final  tasks.Status
	Pages  int
}

func refused(status int, code tasks.Code) outcome { return outcome{Status: status, Code: code} }

func succeeded(pages int) outcome {
	return outcome{Status: http.StatusAccepted, Final: tasks.StatusSucceeded, Pages: pages}
}

func failedWith(code tasks.Code) outcome {
	return outcome{Status: http.StatusAccepted, Final: tasks.StatusFailed, Code: code}
}

// byURL is the outcome of submitting by URL what gives o when uploaded: the
// API does not read a URL's input, so the worker fails the job with the
// code the upload check refused it with.
func (o outcome) byURL() outcome {
	if o.Status == http.StatusAccepted {
		return o
	}
	return failedWith(o.Code)
}

func (o outcome) String() string {
	if o.Status != http.StatusAccepted {
		return fmt.Sprintf("refused %d %s", o.Status, o.Code)
	}
	if o.Final == tasks.StatusSucceeded {
		return fmt.Sprintf("succeeded with %d pages", o.Pages)
	}
	return fmt.Sprintf("%s %s", o.Final, o.Code)
}

// fileCase is one file of badDir, submitted with a password and max_pages.
type fileCase struct {
	file     string
	password string
	maxPages int
	// want is the outcome of uploading the file; by URL, see outcome.byURL.
	want outcome
}

func (c fileCase) name() string {
	name := c.file
	if c.password != "" {
		name += "+password=" + c.password
	}
	if c.maxPages != 0 {
		name += "+max_pages=" + strconv.Itoa(c.maxPages)
	}
	return name
}

var (
	notPDF    = refused(http.StatusUnsupportedMediaType, tasks.CodeUnsupportedType)
	invalid   = refused(http.StatusUnprocessableEntity, tasks.CodeInvalidPDF)
	encrypted = refused(http.StatusUnprocessableEntity, tasks.CodeEncryptedPDF)
	badImage  = refused(http.StatusUnprocessableEntity, tasks.CodeInvalidImage)
)

// badFiles covers every file of badDir (TestBadInputFilesListed checks).
var badFiles = []fileCase{
	// Not a PDF, or empty.
	{file: "zero-byte.pdf", want: refused(http.StatusBadRequest, tasks.CodeEmptyFile)},
	{file: "qpdf-bad1-5bytes.pdf", want: notPDF},
	{file: "random-bytes.pdf", want: notPDF},
	{file: "wrong-magic-pfd.pdf", want: notPDF},
	{file: "png-named.pdf", want: succeeded(1)}, // an image: the name is not trusted
	{file: "zip-named.pdf", want: notPDF},
	{file: "postscript-named.pdf", want: notPDF},
	{file: "html-named.pdf", want: notPDF},
	{file: "html-quoting-pdf-header.pdf", want: invalid},
	{file: "qpdf-fuzz-issue-147.pdf", want: notPDF},
	{file: "qpdf-fuzz-issue-335a.pdf", want: notPDF},
	{file: "qpdf-fuzz-issue-335b.pdf", want: notPDF},
	{file: "qpdf-fuzz-16214.pdf", want: notPDF},
	{file: "qpdf-bad-content-noheader.pdf", want: notPDF},

	// Images: documents of one page (a TIFF, one a page), refused when
	// damaged or too large to decode.
	{file: "image-truncated.png", want: badImage},
	{file: "image-corrupt.jpg", want: badImage},
	{file: "image-pixel-bomb.png", want: refused(http.StatusUnprocessableEntity, tasks.CodeImageTooLarge)},
	{file: "image-zero-size.png", want: badImage},
	{file: "image-wrong-magic.png", want: notPDF},
	{file: "tiff-truncated.tif", want: badImage},
	{file: "tiff-ifd-loop.tif", want: badImage},
	{file: "tiff-10000-pages.tif", want: refused(http.StatusUnprocessableEntity, tasks.CodeTooManyPages)},

	// Truncated.
	{file: "header-only.pdf", want: invalid},
	{file: "random-after-header.pdf", want: invalid},
	{file: "truncated-10pct.pdf", want: invalid},
	{file: "truncated-mid-stream.pdf", want: invalid},
	{file: "truncated-before-xref.pdf", want: succeeded(3)},
	{file: "no-xref-no-trailer.pdf", want: succeeded(3)},

	// Broken cross-reference data: repaired when qpdf can.
	{file: "xref-offsets-shifted.pdf", want: succeeded(3)},
	{file: "startxref-past-eof.pdf", want: succeeded(3)},
	{file: "stream-length-wrong.pdf", want: succeeded(3)},
	{file: "xref-stream-garbage.pdf", want: invalid},
	{file: "qpdf-issue-146-no-startxref.pdf", want: invalid},
	{file: "qpdf-issue-99-xref-not-found.pdf", want: invalid},
	{file: "qpdf-recover-xref-stream.pdf", want: invalid},
	{file: "qpdf-bad-xref-entry.pdf", want: succeeded(1)},
	{file: "qpdf-xref-prev-loop.pdf", want: succeeded(30)},
	{file: "qpdf-xref-stream-short-size.pdf", want: succeeded(1)},
	{file: "qpdf-xref-compressed-in-compressed.pdf", want: succeeded(30)},
	{file: "qpdf-hybrid-xref.pdf", want: succeeded(30)},
	{file: "qpdf-leading-junk.pdf", want: succeeded(30)},
	{file: "qpdf-bad-linearization.pdf", want: succeeded(30)},
	{file: "pdfcpu-pdf20-withOffsetStart.pdf", want: succeeded(1)},

	// Page trees that loop, nest too deep, are empty or lie.
	{file: "pages-kids-self.pdf", want: invalid},
	{file: "pages-mutual-loop.pdf", want: invalid},
	{file: "pages-loop-beside-page.pdf", want: invalid},
	{file: "qpdf-pages-tree-loop.pdf", want: invalid},
	{file: "pages-deep-300.pdf", want: invalid},
	{file: "qpdf-deep-pages.pdf", want: invalid},
	{file: "qpdf-issue-202-deep-nesting.pdf", want: invalid},
	{file: "pages-none.pdf", want: invalid},
	{file: "catalog-without-pages.pdf", want: invalid},
	{file: "pages-count-lies-1e9.pdf", want: invalid},
	{file: "pages-count-negative.pdf", want: invalid},
	{file: "pages-count-overflow.pdf", want: invalid},

	// Too many pages: over the server's limit of 2000, or the job's.
	{file: "pages-2001.pdf", want: refused(http.StatusUnprocessableEntity, tasks.CodeTooManyPages)},
	{file: "qpdf-merge-51-pages.pdf", maxPages: 50, want: refused(http.StatusUnprocessableEntity, tasks.CodeTooManyPages)},
	{file: "qpdf-merge-51-pages.pdf", maxPages: 51, want: succeeded(51)},

	// Decompression bombs: analyzed within bounded memory.
	{file: "bomb-content-double-flate-4g.pdf", want: succeeded(1)},
	{file: "bomb-content-flate-256m.pdf", want: succeeded(1)},
	{file: "bomb-image-double-flate-4g.pdf", want: succeeded(1)},
	{file: "bomb-objstm-double-flate-1g.pdf", want: succeeded(1)},
	{file: "bomb-objstm-string-512m-repair.pdf", want: succeeded(1)},

	// Page geometry.
	{file: "mediabox-1e9.pdf", want: succeeded(3)},
	{file: "mediabox-huge-real.pdf", want: succeeded(3)},
	{file: "mediabox-inverted-negative.pdf", want: succeeded(3)},
	{file: "mediabox-missing.pdf", want: invalid},
	{file: "mediabox-three-numbers.pdf", want: invalid},
	{file: "rotate-45.pdf", want: invalid},

	// Active content: analyzed, never run.
	{file: "javascript-openaction.pdf", want: succeeded(3)},
	{file: "javascript-page-actions.pdf", want: succeeded(3)},
	{file: "embedded-file.pdf", want: succeeded(1)},

	// Damaged object streams and streams.
	{file: "objstm-first-past-end.pdf", want: succeeded(1)},
	{file: "objstm-n-too-large.pdf", want: succeeded(1)},
	{file: "objstm-garbage.pdf", want: succeeded(1)},
	{file: "objstm-not-flate.pdf", want: succeeded(1)},
	{file: "qpdf-big-object-stream.pdf", want: succeeded(1)},
	{file: "nesting-100k-arrays.pdf", want: succeeded(3)},
	{file: "qpdf-broken-lzw.pdf", want: succeeded(1)},
	{file: "qpdf-bad-jpeg.pdf", want: succeeded(1)},
	{file: "qpdf-pdf20-weird-tokens.pdf", want: succeeded(1)},
	{file: "pdfcpu-empty.pdf", want: succeeded(1)},
	{file: "pdfcpu-empty.pdf", password: "unneeded", want: succeeded(1)},

	// Encrypted: a user password is needed; an owner password alone is not.
	{file: "qpdf-enc-R2-rc4-40-userpw-view.pdf", want: encrypted},
	{file: "qpdf-enc-R2-rc4-40-userpw-view.pdf", password: "view", want: succeeded(30)},
	{file: "qpdf-enc-R2-rc4-40-userpw-view.pdf", password: "master", want: succeeded(30)},
	{file: "qpdf-enc-R3-rc4-128-userpw-view.pdf", want: encrypted},
	{file: "qpdf-enc-R3-rc4-128-userpw-view.pdf", password: "wrong", want: refused(http.StatusUnprocessableEntity, tasks.CodeWrongPassword)},
	{file: "qpdf-enc-R6-aes256-userpw-view.pdf", want: encrypted},
	{file: "qpdf-enc-R6-aes256-userpw-view.pdf", password: "view", want: succeeded(30)},
	{file: "qpdf-enc-20-pages-userpw-user.pdf", want: encrypted},
	{file: "qpdf-enc-20-pages-userpw-user.pdf", password: "user", want: succeeded(20)},
	{file: "qpdf-enc-short-O-U.pdf", want: encrypted},
	{file: "qpdf-enc-R6-aes256-ownerpw-only.pdf", want: succeeded(30)},
	{file: "qpdf-enc-R6-aes256-ownerpw-only.pdf", password: "master", want: succeeded(30)},
	{file: "qpdf-enc-V4-aes128-nouserpw.pdf", want: succeeded(30)},
	{file: "qpdf-enc-bad-length.pdf", want: succeeded(1)},
	{file: "qpdf-enc-with-images.pdf", want: succeeded(2)},

	// Videos, sampled at the default fps:1. ffprobe reads the headers at
	// submit; damage in the frames shows when ffmpeg decodes them.
	{file: "moviepy-result-EMPTY.webm", want: refused(http.StatusBadRequest, tasks.CodeEmptyFile)},
	{file: "moviepy-test_video-1x1.mp4", want: succeeded(5)},
	{file: "moviepy-no_duration.webm", want: succeeded(5)},
	{file: "video-truncated.mp4", want: failedWith(tasks.CodeInvalidVideo)},
	{file: "video-corrupt-mdat.mp4", want: failedWith(tasks.CodeInvalidVideo)},
	{file: "video-audio-only.m4a", want: refused(http.StatusUnprocessableEntity, tasks.CodeNoVideoStream)},
	{file: "video-zero-duration.mp4", want: refused(http.StatusUnprocessableEntity, tasks.CodeNoVideoStream)},
	{file: "video-huge-dimensions.mp4", want: refused(http.StatusUnprocessableEntity, tasks.CodeInvalidVideo)},
}

// requestCase is a submission whose fault is the request, not a file.
type requestCase struct {
	name string
	send func(t *testing.T, b *badBundle) submission
	want outcome
	// msg, if set, is part of the refusal's message.
	msg string
	// check, if set, looks further at an accepted job.
	check func(t *testing.T, j *tasks.Job)
}

// badRequests returns the malformed, oversized or tricky submissions.
func badRequests() []requestCase {
	empty := readBad("pdfcpu-empty.pdf")
	return []requestCase{
		// Malformed JSON.
		{name: "json/truncated", send: sendJSON(`{"url":`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/empty body", send: sendJSON(``), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/array", send: sendJSON(`[]`), want: refused(400, tasks.CodeInvalidRequest), msg: `must be a JSON object`},
		{name: "json/string", send: sendJSON(`"https://example.com/a.pdf"`), want: refused(400, tasks.CodeInvalidRequest), msg: `must be a JSON object`},
		{name: "json/null", send: sendJSON(`null`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/two values", send: sendJSON(`{"url":"https://example.com/a.pdf"}{}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/trailing garbage", send: sendJSON(`{"url":"https://example.com/a.pdf"} x`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/byte order mark", send: sendJSON("\ufeff" + `{"url":"https://example.com/a.pdf"}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/invalid UTF-8", send: sendJSON("{\"url\":\"https://example.com/a.pdf\",\"priority\":\"\xff\"}"), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/nested 20000 deep", send: sendJSON(`{"url":"https://example.com/a.pdf","metadata":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`), want: refused(400, tasks.CodeInvalidRequest)},

		// Wrong types and unknown fields.
		{name: "json/max_pages string", send: sendJSON(`{"url":"https://example.com/a.pdf","max_pages":"10"}`), want: refused(400, tasks.CodeInvalidRequest), msg: `"max_pages" must be an integer`},
		{name: "json/max_pages fraction", send: sendJSON(`{"url":"https://example.com/a.pdf","max_pages":1.5}`), want: refused(400, tasks.CodeInvalidRequest), msg: `"max_pages" must be an integer`},
		{name: "json/url number", send: sendJSON(`{"url":5}`), want: refused(400, tasks.CodeInvalidRequest), msg: `"url" must be a JSON string`},
		{name: "json/priority number", send: sendJSON(`{"url":"https://example.com/a.pdf","priority":1}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/task array", send: sendJSON(`{"url":"https://example.com/a.pdf","task":["general_qa"]}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/password object", send: sendJSON(`{"url":"https://example.com/a.pdf","password":{}}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/unknown field", send: sendJSON(`{"url":"https://example.com/a.pdf","pasword":"x"}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "form/unknown field", send: sendForm([]string{"color", "blue"}, "a.pdf", empty), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "form/field twice", send: sendForm([]string{"task", "general_qa", "task", "general_qa"}, "a.pdf", empty), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "form/file twice", send: sendRaw(formTwoFiles()), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "form/no file", send: sendForm([]string{"task", "general_qa"}, "", nil), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "form/no boundary", send: sendRaw("multipart/form-data", "--x\r\n"), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "form/field not UTF-8", send: sendForm([]string{"task", "\xff\xfe"}, "a.pdf", empty), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "form/field 17 KiB", send: sendForm([]string{"metadata", `"` + strings.Repeat("x", 17<<10) + `"`}, "a.pdf", empty), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "form/metadata not JSON", send: sendForm([]string{"metadata", `{"a":`}, "a.pdf", empty), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "no content type", send: sendRaw("", `{"url":"https://example.com/a.pdf"}`), want: refused(415, tasks.CodeUnsupportedType)},
		{name: "text/plain", send: sendRaw("text/plain", "https://example.com/a.pdf"), want: refused(415, tasks.CodeUnsupportedType)},
		{name: "urlencoded form", send: sendRaw("application/x-www-form-urlencoded", "url=https%3A%2F%2Fexample.com%2Fa.pdf"), want: refused(415, tasks.CodeUnsupportedType)},

		// Negative and huge numbers, bad names.
		{name: "json/max_pages negative", send: sendJSON(`{"url":"https://example.com/a.pdf","max_pages":-1}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/max_pages min int64", send: sendJSON(`{"url":"https://example.com/a.pdf","max_pages":-9223372036854775808}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/max_pages over limit", send: sendJSON(`{"url":"https://example.com/a.pdf","max_pages":2001}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/max_pages overflows int64", send: sendJSON(`{"url":"https://example.com/a.pdf","max_pages":99999999999999999999}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/max_pages 1e309", send: sendJSON(`{"url":"https://example.com/a.pdf","max_pages":1e309}`), want: refused(400, tasks.CodeInvalidRequest), msg: `"max_pages" must be an integer`},
		{name: "form/max_pages negative", send: sendForm([]string{"max_pages", "-5"}, "a.pdf", empty), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "form/max_pages huge", send: sendForm([]string{"max_pages", "99999999999999999999"}, "a.pdf", empty), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "form/max_pages exponent", send: sendForm([]string{"max_pages", "1e3"}, "a.pdf", empty), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "form/max_pages padded", send: sendForm([]string{"max_pages", " 5 "}, "a.pdf", empty), want: succeeded(1)},
		{name: "json/priority unknown", send: sendJSON(`{"url":"https://example.com/a.pdf","priority":"urgent"}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/task with spaces", send: sendJSON(`{"url":"https://example.com/a.pdf","task":"Drop Table"}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/task 65 chars", send: sendJSON(`{"url":"https://example.com/a.pdf","task":"` + strings.Repeat("a", 65) + `"}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "json/password 1 KiB + 1", send: sendJSON(`{"url":"https://example.com/a.pdf","password":"` + strings.Repeat("p", 1<<10+1) + `"}`), want: refused(400, tasks.CodeInvalidRequest)},

		// Oversized.
		{name: "oversized/upload", send: sendForm(nil, "big.pdf", oversizedPDF()), want: refused(413, tasks.CodeFileTooLarge)},
		{name: "oversized/declared length", send: sendDeclaredOversize, want: refused(413, tasks.CodeFileTooLarge)},
		{name: "oversized/chunked", send: sendChunkedForm(oversizedPDF()), want: refused(413, tasks.CodeFileTooLarge)},
		{name: "oversized/json body", send: sendJSON(`{"url":"https://example.com/` + strings.Repeat("a", 140<<10) + `"}`), want: refused(413, tasks.CodeFileTooLarge)},
		{name: "schema/not an object schema", send: sendJSON(`{"url":"https://example.com/a.pdf","schema":{"type":"string"}}`), want: refused(400, tasks.CodeInvalidSchema)},
		{name: "schema/external ref", send: sendJSON(`{"url":"https://example.com/a.pdf","schema":{"type":"object","properties":{"a":{"$ref":"file:///etc/passwd"}}}}`), want: refused(400, tasks.CodeInvalidSchema)},
		{name: "schema/local analyzer", send: sendJSON(`{"url":"https://example.com/a.pdf","instructions":"the total"}`), want: refused(400, tasks.CodeProviderRequired)},
		{name: "schema/bad scope", send: sendJSON(`{"url":"https://example.com/a.pdf","scope":"book"}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "oversized/download", send: sendFileURL("oversized.pdf", ""), want: failedWith(tasks.CodeFileTooLarge)},

		// More extraction options. The analyzer here is the local one, so a
		// valid schema is refused with provider_required, a broken one with
		// invalid_schema first.
		{name: "schema/array at the top", send: sendJSON(`{"url":"https://example.com/a.pdf","schema":{"type":"array"}}`), want: refused(400, tasks.CodeInvalidSchema), msg: "at /type"},
		{name: "schema/a string", send: sendJSON(`{"url":"https://example.com/a.pdf","schema":"{\"type\":\"object\"}"}`), want: refused(400, tasks.CodeInvalidSchema), msg: "JSON object"},
		{name: "schema/an array", send: sendJSON(`{"url":"https://example.com/a.pdf","schema":[{"type":"object"}]}`), want: refused(400, tasks.CodeInvalidSchema)},
		{name: "schema/unknown type", send: sendJSON(`{"url":"https://example.com/a.pdf","schema":{"type":"object","properties":{"n":{"type":"integr"}}}}`), want: refused(400, tasks.CodeInvalidSchema), msg: "/properties/n/type"},
		{name: "schema/cloud metadata ref", send: sendJSON(`{"url":"https://example.com/a.pdf","schema":{"type":"object","properties":{"n":{"$ref":"http://169.254.169.254/latest/meta-data/"}}}}`), want: refused(400, tasks.CodeInvalidSchema), msg: "external $ref"},
		{name: "schema/draft 4", send: sendJSON(`{"url":"https://example.com/a.pdf","schema":{"$schema":"http://json-schema.org/draft-04/schema#","type":"object"}}`), want: refused(400, tasks.CodeInvalidSchema), msg: "2020-12"},
		{name: "schema/nested 1000 deep", send: sendJSON(`{"url":"https://example.com/a.pdf","schema":{"type":"object","properties":{"a":` + strings.Repeat(`{"items":`, 1000) + `{}` + strings.Repeat(`}`, 1000) + `}}}`), want: refused(400, tasks.CodeInvalidSchema), msg: "levels deep"},
		{name: "schema/65 KiB", send: sendJSON(`{"url":"https://example.com/a.pdf","schema":{"type":"object","description":"` + strings.Repeat("d", 65<<10) + `"}}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "schema/valid, local analyzer", send: sendJSON(`{"url":"https://example.com/a.pdf","schema":{"type":"object","properties":{"total":{"type":"number"}}}}`), want: refused(400, tasks.CodeProviderRequired)},
		{name: "schema/form not JSON", send: sendForm([]string{"schema", `{"type":"object",`}, "a.pdf", empty), want: refused(400, tasks.CodeInvalidSchema)},
		{name: "schema/form 65 KiB", send: sendForm([]string{"schema", `{"type":"object","description":"` + strings.Repeat("d", 65<<10) + `"}`}, "a.pdf", empty), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "schema/form 60 KiB, local analyzer", send: sendForm([]string{"schema", `{"type":"object","description":"` + strings.Repeat("d", 60<<10) + `"}`}, "a.pdf", empty), want: refused(400, tasks.CodeProviderRequired)},
		{name: "instructions/8 KiB + 1", send: sendJSON(`{"url":"https://example.com/a.pdf","instructions":"` + strings.Repeat("i", 8<<10+1) + `"}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "instructions/form, local analyzer", send: sendForm([]string{"instructions", "List the totals."}, "a.pdf", empty), want: refused(400, tasks.CodeProviderRequired)},
		{name: "scope/number", send: sendJSON(`{"url":"https://example.com/a.pdf","scope":1}`), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "scope/document, local analyzer", send: sendForm([]string{"scope", "document"}, "a.pdf", empty), want: refused(400, tasks.CodeProviderRequired)},

		// Path tricks in file names: only the base name is kept.
		{name: "filename/dot-dot slash", send: sendForm(nil, "../../etc/passwd", empty), want: succeeded(1), check: wantFilename("passwd")},
		{name: "filename/dot-dot backslash", send: sendForm(nil, `..\..\Windows\win.ini`, empty), want: succeeded(1), check: wantFilename("win.ini")},
		{name: "filename/absolute", send: sendForm(nil, "/etc/shadow", empty), want: succeeded(1), check: wantFilename("shadow")},
		{name: "filename/dot-dot only", send: sendForm(nil, "..", empty), want: succeeded(1), check: wantFilename("")},
		{name: "filename/control characters", send: sendFileWithDisposition(`form-data; name="file"; filename*=UTF-8''a%09b%1B%5B31mc%0D%0A.pdf`, empty), want: succeeded(1), check: wantFilename("ab[31mc.pdf")},
		{name: "filename/raw control characters", send: sendForm(nil, "a\x1b[31m.pdf", empty), want: refused(400, tasks.CodeInvalidRequest)},
		{name: "filename/1000 bytes", send: sendForm(nil, strings.Repeat("n", 996)+".pdf", empty), want: succeeded(1), check: wantFilename(strings.Repeat("n", 255))},

		// Bad input URLs.
		{name: "url/file scheme", send: sendJSON(`{"url":"file:///etc/passwd"}`), want: refused(400, tasks.CodeInvalidURL)},
		{name: "url/gopher", send: sendJSON(`{"url":"gopher://example.com/1"}`), want: refused(400, tasks.CodeInvalidURL)},
		{name: "url/no host", send: sendJSON(`{"url":"https:///a.pdf"}`), want: refused(400, tasks.CodeInvalidURL)},
		{name: "url/credentials", send: sendJSON(`{"url":"https://user:pw@example.com/a.pdf"}`), want: refused(400, tasks.CodeInvalidURL)},
		{name: "url/cloud metadata", send: sendJSON(`{"url":"http://169.254.169.254/latest/meta-data/"}`), want: refused(400, tasks.CodeInvalidURL)},
		{name: "url/private network", send: sendJSON(`{"url":"http://10.0.0.1/a.pdf"}`), want: refused(400, tasks.CodeInvalidURL)},
		{name: "url/loopback", send: sendJSON(`{"url":"http://127.0.0.53/a.pdf"}`), want: refused(400, tasks.CodeInvalidURL)},
		{name: "url/not found", send: sendFileURL("no-such-file.pdf", ""), want: failedWith(tasks.CodeFetchFailed)},
		{name: "url/redirect to metadata", send: sendFileURL("redirect-to-metadata", ""), want: failedWith(tasks.CodeInvalidURL)},

		// Bad callback URLs.
		{name: "callback/ftp", send: sendCallback("ftp://example.com/hook"), want: refused(400, tasks.CodeInvalidURL)},
		{name: "callback/javascript", send: sendCallback("javascript:alert(1)"), want: refused(400, tasks.CodeInvalidURL)},
		{name: "callback/not a URL", send: sendCallback("not a url"), want: refused(400, tasks.CodeInvalidURL)},
		{name: "callback/no host", send: sendCallback("https:///hook"), want: refused(400, tasks.CodeInvalidURL)},
		{name: "callback/credentials", send: sendCallback("https://user:pw@example.com/hook"), want: refused(400, tasks.CodeInvalidURL)},
		{name: "callback/3 KB", send: sendCallback("https://example.com/" + strings.Repeat("h", 3<<10)), want: refused(400, tasks.CodeInvalidURL)},
		{name: "callback/cloud metadata", send: sendCallback("http://169.254.169.254/latest/meta-data/"), want: refused(400, tasks.CodeInvalidURL)},
		{name: "callback/loopback", send: sendCallback("http://127.0.0.2:8080/hook"), want: refused(400, tasks.CodeInvalidURL)},
		{name: "callback/IPv6 loopback", send: sendCallback("http://[::1]/hook"), want: refused(400, tasks.CodeInvalidURL)},
		{name: "callback/private network", send: sendCallback("http://192.168.1.1/hook"), want: refused(400, tasks.CodeInvalidURL)},
	}
}

// webhookSecret turns webhooks on, so that callback URLs are checked rather
// than refused wholesale.
var webhookSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("mmq-bad-input-test-secret-32byte"))

// TestSlowBadInput submits every file of testdata/bad, by upload and by URL,
// and every malformed request to the whole program. Each must give its
// documented outcome: refused at submit with its status and code, or
// accepted and ended in its final state, with one attempt and no asynq
// retry. Then the worker must still serve a good job, and no task may be
// left waiting or retrying.
func TestSlowBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("bad-input suite skipped in -short mode")
	}
	t.Setenv("MMQ_LIMITS_MAX_UPLOAD_BYTES", strconv.Itoa(maxUpload))
	t.Setenv("MMQ_SSRF_ALLOWED_NETWORKS", "127.0.0.1/32") // the file server below, and nothing else
	t.Setenv("MMQ_WEBHOOKS_SECRET", webhookSecret)
	b := setupBad(t)

	t.Run("cases", func(t *testing.T) {
		for _, c := range badFiles {
			t.Run("upload/"+c.name(), func(t *testing.T) {
				t.Parallel()
				fields := c.fields()
				b.expect(t, sendForm(fields, c.file, readBad(c.file))(t, b), c.want, nil)
			})
			t.Run("url/"+c.name(), func(t *testing.T) {
				t.Parallel()
				b.expect(t, sendFileURL(c.file, c.password, "max_pages", c.maxPages)(t, b), c.want.byURL(), nil)
			})
		}
		for _, c := range badRequests() {
			t.Run("request/"+c.name, func(t *testing.T) {
				t.Parallel()
				s := c.send(t, b)
				b.expect(t, s, c.want, c.check)
				if !strings.Contains(s.msg, c.msg) {
					t.Errorf("message %q does not say %q", s.msg, c.msg)
				}
			})
		}
	})

	// The worker still serves the next job.
	good := b.upload(t, "pdfcpu-read.go.pdf", readFile(t, "testdata/pdfcpu-read.go.pdf"))
	b.expect(t, good, succeeded(45), nil)

	// A refused submission leaves no job behind.
	if n := b.countJobs(t); n != int(b.accepted.Load()) {
		t.Errorf("%d jobs stored, %d submissions accepted", n, b.accepted.Load())
	}
	// Nothing is left waiting, running or retrying.
	for q := range tasks.Queues {
		info, err := b.insp.GetQueueInfo(q)
		if err != nil {
			continue // a queue that never had a task does not exist
		}
		if info.Pending+info.Active+info.Scheduled+info.Retry != 0 {
			t.Errorf("queue %s: %d pending, %d active, %d scheduled, %d retry; want none", q, info.Pending, info.Active, info.Scheduled, info.Retry)
		}
	}
	// The decompression bombs did not blow up the heap: before the decode
	// limits, one object stream bomb took 4 GB in the API and as much in
	// the worker.
	rss := peakRSS(t)
	t.Logf("peak RSS of the test process (API, worker and test): %d MiB", rss>>20)
	if rss > 2<<30 {
		t.Errorf("peak RSS %d MiB, want under 2 GiB", rss>>20)
	}
}

func (c fileCase) fields() []string {
	var f []string
	if c.password != "" {
		f = append(f, "password", c.password)
	}
	if c.maxPages != 0 {
		f = append(f, "max_pages", strconv.Itoa(c.maxPages))
	}
	return f
}

// TestBadInputFilesListed keeps the table, README.md and the directory in
// step: every file has a case and a line in the README, every case a file.
func TestBadInputFilesListed(t *testing.T) {
	entries, err := os.ReadDir(badDir)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(readBad("README.md"))
	inTable := map[string]bool{}
	for _, c := range badFiles {
		inTable[c.file] = true
		if _, err := os.Stat(filepath.Join(badDir, c.file)); err != nil {
			t.Errorf("case %s: %v", c.name(), err)
		}
	}
	for _, e := range entries {
		name := e.Name()
		if name == "README.md" || name == "gen.go" {
			continue
		}
		if !inTable[name] {
			t.Errorf("%s has no case in badFiles", name)
		}
		if !strings.Contains(readme, "| "+name+" |") {
			t.Errorf("%s is not listed in README.md", name)
		}
	}
}

// badBundle is the running program and what the bad-input test drives it with.
type badBundle struct {
	api   string // the API's base URL
	files string // base URL of a server of badDir and a few special paths
	http  *http.Client
	insp  *asynq.Inspector
	// accepted counts the submissions answered 202.
	accepted atomic.Int64
}

func setupBad(t *testing.T) *badBundle {
	t.Helper()
	_, api := startApp(t)
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: redistest.Addr(t), DB: redistest.DBCmd})
	t.Cleanup(func() { _ = insp.Close() })

	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(badDir)))
	mux.HandleFunc("/oversized.pdf", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(oversizedPDF()) })
	mux.HandleFunc("/redirect-to-metadata", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	files := httptest.NewServer(mux)
	t.Cleanup(files.Close)

	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	return &badBundle{api: api, files: files.URL, http: &http.Client{Transport: transport, Timeout: time.Minute}, insp: insp}
}

// submission is the API's answer to a submit: the job when accepted, else
// the error's code and message.
type submission struct {
	status int
	code   tasks.Code
	msg    string
	job    *tasks.Job
}

// post sends a submit request with headers as name/value pairs. A negative
// length leaves the body's length unknown (chunked).
func (b *badBundle) post(t *testing.T, contentType string, body io.Reader, length int64, headers ...string) submission {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.api+"/v1/jobs", body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if length < 0 {
		req.ContentLength = -1
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	s := submission{status: resp.StatusCode}
	if resp.StatusCode == http.StatusAccepted {
		b.accepted.Add(1)
		s.job = new(tasks.Job)
		if err := json.Unmarshal(data, s.job); err != nil {
			t.Fatalf("202 body %q: %v", data, err)
		}
		return s
	}
	var e struct {
		Error struct {
			Code    tasks.Code `json:"code"`
			Message string     `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("%d body %q is no error: %v", resp.StatusCode, data, err)
	}
	s.code, s.msg = e.Error.Code, e.Error.Message
	return s
}

// upload submits data as a file called name, with form fields as
// name/value pairs.
func (b *badBundle) upload(t *testing.T, name string, data []byte, fields ...string) submission {
	t.Helper()
	ct, body := form(fields, name, data)
	return b.post(t, ct, bytes.NewReader(body), int64(len(body)))
}

// expect checks that s is the outcome want. For an accepted job it waits
// for the job to end and for asynq to be done with its task, failing at
// once if asynq schedules a retry.
func (b *badBundle) expect(t *testing.T, s submission, want outcome, check func(*testing.T, *tasks.Job)) {
	t.Helper()
	if s.status != want.Status {
		t.Fatalf("submit: HTTP %d %s (%q), want %s", s.status, s.code, s.msg, want)
	}
	if want.Status != http.StatusAccepted {
		t.Logf("refused: %d %s: %s", s.status, s.code, s.msg)
		if s.code != want.Code || s.msg == "" {
			t.Errorf("submit: HTTP %d %s (%q), want %s with a message", s.status, s.code, s.msg, want)
		}
		return
	}
	j, info := b.waitEnd(t, s.job.ID, string(s.job.Options.Priority))
	t.Logf("job ended %s %s: %s", j.Status, j.ErrorCode, j.ErrorMessage)
	if j.Status != want.Final || j.ErrorCode != want.Code {
		t.Errorf("job ended %s %s (%q), want %s", j.Status, j.ErrorCode, j.ErrorMessage, want)
	}
	if want.Final == tasks.StatusSucceeded && (j.PagesTotal != want.Pages || j.PagesDone != want.Pages || j.PagesFailed != 0) {
		t.Errorf("job has %d pages, %d done, %d failed; want %d done", j.PagesTotal, j.PagesDone, j.PagesFailed, want.Pages)
	}
	if j.Attempts != 1 || info.Retried != 0 {
		t.Errorf("job took %d attempts, its task %d retries (last error %q); want 1 and 0", j.Attempts, info.Retried, info.LastErr)
	}
	if check != nil {
		check(t, j)
	}
}

// waitEnd waits until job id has ended and its task left asynq's queues.
func (b *badBundle) waitEnd(t *testing.T, id, queue string) (*tasks.Job, *asynq.TaskInfo) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		info, err := b.insp.GetTaskInfo(queue, id)
		if err == nil && (info.Retried > 0 || info.State == asynq.TaskStateRetry) {
			t.Fatalf("task of job %s is being retried (%d retries, last error %q)", id, info.Retried, info.LastErr)
		}
		if err == nil && (info.State == asynq.TaskStateCompleted || info.State == asynq.TaskStateArchived) {
			j := b.job(t, id)
			if j.Status.Final() {
				return j, info
			}
			t.Fatalf("task of job %s is %v but the job is %s", id, info.State, j.Status)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %s: not ended after 2 minutes (task: %+v, %v)", id, info, err)
		case <-tick.C:
		}
	}
}

func (b *badBundle) job(t *testing.T, id string) *tasks.Job {
	t.Helper()
	resp, err := b.http.Get(b.api + "/v1/jobs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var j tasks.Job
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET job %s: HTTP %d, %v", id, resp.StatusCode, err)
	}
	return &j
}

// The senders below return the submit functions of the tables.

func sendJSON(body string) func(*testing.T, *badBundle) submission {
	return sendRaw("application/json", body)
}

func sendRaw(contentType, body string) func(*testing.T, *badBundle) submission {
	return func(t *testing.T, b *badBundle) submission {
		return b.post(t, contentType, strings.NewReader(body), int64(len(body)))
	}
}

func sendForm(fields []string, filename string, data []byte) func(*testing.T, *badBundle) submission {
	return func(t *testing.T, b *badBundle) submission {
		ct, body := form(fields, filename, data)
		return b.post(t, ct, bytes.NewReader(body), int64(len(body)))
	}
}

// sendChunkedForm uploads data without declaring the body's length.
func sendChunkedForm(data []byte) func(*testing.T, *badBundle) submission {
	return func(t *testing.T, b *badBundle) submission {
		ct, body := form(nil, "big.pdf", data)
		return b.post(t, ct, io.MultiReader(bytes.NewReader(body)), -1)
	}
}

// sendFileURL submits the URL of a file of the test's file server, with a
// password and further JSON fields as name/value pairs.
func sendFileURL(file, password string, extra ...any) func(*testing.T, *badBundle) submission {
	return func(t *testing.T, b *badBundle) submission {
		req := map[string]any{"url": b.files + "/" + file}
		if password != "" {
			req["password"] = password
		}
		for i := 0; i+1 < len(extra); i += 2 {
			if v, ok := extra[i+1].(int); ok && v == 0 {
				continue
			}
			req[extra[i].(string)] = extra[i+1]
		}
		body, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		return b.post(t, "application/json", bytes.NewReader(body), int64(len(body)))
	}
}

func sendCallback(callback string) func(*testing.T, *badBundle) submission {
	return func(t *testing.T, b *badBundle) submission {
		return sendForm([]string{"callback_url", callback}, "a.pdf", readBad("pdfcpu-empty.pdf"))(t, b)
	}
}

func wantFilename(name string) func(*testing.T, *tasks.Job) {
	return func(t *testing.T, j *tasks.Job) {
		if j.Filename != name {
			t.Errorf("filename %q, want %q", j.Filename, name)
		}
	}
}

// sendFileWithDisposition uploads data in a file part with the given
// Content-Disposition, for file names a plain filename="..." cannot carry.
func sendFileWithDisposition(disposition string, data []byte) func(*testing.T, *badBundle) submission {
	return func(t *testing.T, b *badBundle) submission {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Disposition": {disposition}})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(data)
		_ = mw.Close()
		return b.post(t, mw.FormDataContentType(), &buf, int64(buf.Len()))
	}
}

// form returns a multipart form with fields (name/value pairs) and, unless
// data is nil, a file part named filename exactly as given.
func form(fields []string, filename string, data []byte) (contentType string, body []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		_ = mw.WriteField(fields[i], fields[i+1])
	}
	if data != nil {
		h := textproto.MIMEHeader{}
		quote := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, quote.Replace(filename)))
		h.Set("Content-Type", "application/octet-stream")
		w, _ := mw.CreatePart(h)
		_, _ = w.Write(data)
	}
	_ = mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// formTwoFiles is a form with two file parts.
func formTwoFiles() (string, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, name := range []string{"a.pdf", "b.pdf"} {
		w, _ := mw.CreateFormFile("file", name)
		_, _ = w.Write(readBad("pdfcpu-empty.pdf"))
	}
	_ = mw.Close()
	return mw.FormDataContentType(), buf.String()
}

// sendDeclaredOversize declares a body three times the upload limit and
// waits for "100 Continue" before sending it: the server must refuse it on
// its declared length, before reading any of it.
func sendDeclaredOversize(t *testing.T, b *badBundle) submission {
	ct, body := form(nil, "big.pdf", bytes.Repeat([]byte{' '}, 3*maxUpload))
	return b.post(t, ct, bytes.NewReader(body), int64(len(body)), "Expect", "100-continue")
}

// oversizedPDF is one byte more than the upload limit, all of it PDF-looking.
func oversizedPDF() []byte {
	b := bytes.Repeat([]byte("% padding\n"), maxUpload/10+1)
	copy(b, "%PDF-1.4\n")
	return b[:maxUpload+1]
}

// readBad returns a file of badDir.
func readBad(name string) []byte {
	b, err := os.ReadFile(filepath.Join(badDir, name))
	if err != nil {
		panic(err)
	}
	return b
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// peakRSS returns the process's peak resident set size in bytes, or 0
// where /proc does not tell it.
func peakRSS(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Logf("no peak RSS: %v", err)
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// countJobs returns how many jobs the API lists.
func (b *badBundle) countJobs(t *testing.T) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		resp, err := b.http.Get(b.api + "/v1/jobs?limit=500&cursor=" + url.QueryEscape(cursor))
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Jobs       []json.RawMessage `json:"jobs"`
			NextCursor string            `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("list jobs: HTTP %d, %v", resp.StatusCode, err)
		}
		n += len(page.Jobs)
		if cursor = page.NextCursor; cursor == "" {
			return n
		}
	}
}
