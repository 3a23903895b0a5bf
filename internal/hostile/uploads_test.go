package hostile_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"testing"
	"time"
)

// boundary separates the parts of the suite's multipart bodies; the
// filler never contains it.
const boundary = "hostile-boundary-7d1f0c"

// filePart is one file of a multipart body, size bytes long: a PDF header
// and then filler, made as it is sent.
type filePart struct {
	field, filename string
	size            int64
}

// pdfHead starts every generated file, so that it is sniffed as a document.
const pdfHead = "%PDF-1.7\n%"

func (p filePart) header() string {
	return fmt.Sprintf("--%s\r\nContent-Disposition: form-data; name=%q; filename=%q\r\nContent-Type: application/pdf\r\n\r\n",
		boundary, p.field, p.filename)
}

// multipartLength is the length of the body writeMultipart writes.
func multipartLength(parts []filePart) int64 {
	var n int64
	for _, p := range parts {
		n += int64(len(p.header())) + p.size + 2
	}
	return n + int64(len("--"+boundary+"--\r\n"))
}

// filler is what generated files hold after their header.
var filler = bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB

// writeMultipart writes a multipart body of parts to w, generating the
// files' bytes, and returns the bytes written when w fails or all is sent.
func writeMultipart(w io.Writer, parts []filePart) (int64, error) {
	var sent int64
	write := func(b []byte) error {
		n, err := w.Write(b)
		sent += int64(n)
		return err
	}
	for _, p := range parts {
		if err := write([]byte(p.header() + pdfHead)); err != nil {
			return sent, err
		}
		for left := p.size - int64(len(pdfHead)); left > 0; {
			chunk := filler[:min(left, int64(len(filler)))]
			if err := write(chunk); err != nil {
				return sent, err
			}
			left -= int64(len(chunk))
		}
		if err := write([]byte("\r\n")); err != nil {
			return sent, err
		}
	}
	return sent, write([]byte("--" + boundary + "--\r\n"))
}

// upload is the outcome of one raw upload.
type upload struct {
	rawResponse
	sent int64 // body bytes the client got to write
}

// rawUpload POSTs parts to path with key on a connection of its own,
// chunked when length is -1, and returns the server's answer and how much
// of the body the client had written by then. The client stops writing
// when the answer comes or the server closes the connection.
func (s *server) rawUpload(path, key string, parts []filePart, chunked bool) upload {
	c, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
	if err != nil {
		return upload{rawResponse: rawResponse{err: err}}
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetDeadline(start.Add(2 * time.Minute))
	framing := fmt.Sprintf("Content-Length: %d", multipartLength(parts))
	if chunked {
		framing = "Transfer-Encoding: chunked"
	}
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=%s\r\n%s\r\n\r\n",
		path, s.addr, key, boundary, framing)
	answered := make(chan rawResponse, 1)
	go func() { answered <- readRawResponse(bufio.NewReader(c), start) }()
	var (
		sent int64
		wg   sync.WaitGroup
	)
	wg.Go(func() {
		bw := bufio.NewWriterSize(c, 256<<10)
		if _, err := bw.WriteString(head); err != nil {
			return
		}
		var body io.Writer = bw
		var cw io.WriteCloser
		if chunked {
			cw = httputil.NewChunkedWriter(bw)
			body = cw
		}
		sent, err = writeMultipart(body, parts)
		if err == nil && cw != nil {
			err = cw.Close()
			if err == nil {
				_, err = bw.WriteString("\r\n")
			}
		}
		if err == nil {
			_ = bw.Flush()
		}
	})
	r := <-answered
	// The answer is in: stop sending, as a client that reads it would.
	_ = c.SetWriteDeadline(time.Now())
	wg.Wait()
	return upload{rawResponse: r, sent: sent}
}

// 16 chunked uploads of 1 GiB at once, no length declared, are each
// refused with 413 once past limits.max_upload_bytes (100 MiB), and the
// API's memory does not grow with them: uploads are spooled to disk.
func TestSlowHugeChunkedUploads(t *testing.T) {
	const (
		n    = 16
		size = 1 * GiB
	)
	s := startServer(t, "api")
	rss := s.meterRSS()
	start := time.Now()
	results := make([]upload, n)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			results[i] = s.rawUpload("/v1/jobs", keyA, []filePart{{field: "file", filename: fmt.Sprintf("huge-%02d.pdf", i), size: size}}, true)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	peak, growth := rss.growth()
	var maxSent int64
	for i, r := range results {
		maxSent = max(maxSent, r.sent)
		if r.err != nil || r.status != http.StatusRequestEntityTooLarge || r.code != "file_too_large" {
			t.Errorf("upload %d: %d %s (%v) after %s sent, want 413 file_too_large", i, r.status, r.code, r.err, mib(r.sent))
		}
		if r.sent >= size {
			t.Errorf("upload %d: the client sent all %s; the server should have cut it off", i, mib(r.sent))
		}
	}
	t.Logf("%d chunked 1 GiB uploads refused in %v, at most %s of each sent; API RSS peak %s, growth %s",
		n, elapsed.Round(time.Millisecond), mib(maxSent), mib(peak), mib(growth))
	if growth > 256*MiB {
		t.Errorf("API RSS grew %s during the uploads, want ≤ 256 MiB", mib(growth))
	}
	if status, body := s.request(http.MethodGet, "/readyz", "", "", nil); status != http.StatusOK {
		t.Errorf("/readyz after the uploads: %d %s", status, body)
	}
}

// A multipart batch of ten 100 MiB files (1,000 MiB, under
// limits.max_batch_upload_bytes) is spooled, not held in the heap.
func TestSlowLargeBatchUpload(t *testing.T) {
	s := startServer(t, "api")
	var parts []filePart
	for i := range 10 {
		parts = append(parts, filePart{field: "file", filename: fmt.Sprintf("batch-%02d.pdf", i), size: 100 * MiB})
	}
	rss := s.meterRSS()
	r := s.rawUpload("/v1/batches", keyA, parts, false)
	peak, growth := rss.growth()
	t.Logf("batch of 10 × 100 MiB: %d %s after %v, %s sent; API RSS peak %s, growth %s",
		r.status, r.code, r.at.Round(time.Millisecond), mib(r.sent), mib(peak), mib(growth))
	if r.err != nil || r.status < 400 || r.status >= 500 {
		t.Errorf("batch: %d %s (%v), want a 4xx", r.status, r.code, r.err)
	}
	if growth > 256*MiB {
		t.Errorf("API RSS grew %s during the batch, want ≤ 256 MiB", mib(growth))
	}
}
