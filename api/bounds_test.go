package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/internal/testwait"
	"github.com/mmq/mmq/tasks"
)

// slowReader sends one byte per interval: the slowloris upload.
type slowReader struct {
	interval time.Duration
	stop     chan struct{}
}

func (r *slowReader) Read(p []byte) (int, error) {
	select {
	case <-time.After(r.interval):
	case <-r.stop:
		return 0, io.EOF
	}
	p[0] = 'x'
	return 1, nil
}

// An upload that trickles in below the minimum rate is cut off with 408
// once its grace is over, instead of holding its connection for good.
func TestBodyTooSlowIsCutOff(t *testing.T) {
	b := setup(t, func(c *api.Config, _ *api.Deps) {
		c.BodyMinRate, c.BodyGrace = 1024, 500*time.Millisecond
	})
	stop := make(chan struct{})
	defer close(stop)
	body := io.MultiReader(strings.NewReader("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n"),
		&slowReader{interval: 200 * time.Millisecond, stop: stop})
	start := time.Now()
	resp, data := b.do(t, http.MethodPost, "/v1/jobs", "multipart/form-data; boundary=x", body)
	took := time.Since(start)
	if resp.StatusCode != http.StatusRequestTimeout || !bytes.Contains(data, []byte(`"request_timeout"`)) {
		t.Fatalf("slow upload: %d %s", resp.StatusCode, data)
	}
	if took > 10*time.Second {
		t.Errorf("slow upload cut off after %v, want about the 0.5 s grace", took)
	}
}

// Uploads beyond the process's in-flight budget get 503 busy with
// Retry-After, and the budget comes back when requests end.
func TestUploadBudget(t *testing.T) {
	const budget = 3 << 20
	b := setup(t, func(c *api.Config, _ *api.Deps) {
		c.MaxUploadBytes, c.MaxBatchUploadBytes, c.MaxUploadBytesInFlight = 1<<20, 1<<20, budget
	})
	// Declared too large for what is left: refused before a byte is read.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Hold most of the budget with slow uploads that never finish.
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr, pw := io.Pipe()
			go func() {
				_, _ = pw.Write(append([]byte("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n"), bytes.Repeat([]byte("a"), 1<<20)...))
				<-stop
				pw.CloseWithError(io.ErrUnexpectedEOF)
			}()
			req, _ := http.NewRequest(http.MethodPost, b.url+"/v1/jobs", pr)
			req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
			if resp, err := b.http.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	// Wait until the two hold their bytes: a third 1 MiB upload no longer fits.
	var resp *http.Response
	var data []byte
	testwait.Until(context.Background(), 10*time.Second, func() bool {
		resp, data = b.do(t, http.MethodPost, "/v1/jobs", "multipart/form-data; boundary=x",
			bytes.NewReader(multipartFile(t, bytes.Repeat([]byte("b"), 1<<20+512<<10))))
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	if resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(data, []byte(`"busy"`)) || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("upload over the budget: %d %s (Retry-After %q)", resp.StatusCode, data, resp.Header.Get("Retry-After"))
	}
	close(stop)
	wg.Wait()
	// Given back: a PDF is accepted again.
	pdf, err := os.ReadFile(testdata("linearized-30p.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Until(context.Background(), 10*time.Second, func() bool {
		resp, data = b.do(t, http.MethodPost, "/v1/jobs", "multipart/form-data; boundary=x", bytes.NewReader(multipartFile(t, pdf)))
		return resp.StatusCode == http.StatusAccepted
	})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("after the budget came back: %d %s", resp.StatusCode, data)
	}
}

func multipartFile(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.SetBoundary("x"); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile("file", "a.pdf")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	return buf.Bytes()
}

// Event streams share one Redis reader: far more streams than the Redis
// pool has connections stay open while other requests answer fast, and
// streams over the caps get 429 too_many_streams. An event still reaches
// every stream.
func TestManyStreamsDoNotStarveRequests(t *testing.T) {
	const streams = 300
	b := setup(t, func(c *api.Config, _ *api.Deps) {
		c.Streams = api.StreamConfig{Max: streams, MaxPerKey: streams}
	})
	job, err := b.client.SubmitFile(context.Background(), testdata("linearized-30p.pdf"), client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxConnsPerHost = 0
	hc := &http.Client{Transport: transport}
	defer transport.CloseIdleConnections()
	bodies := make([]io.ReadCloser, 0, streams)
	defer func() {
		for _, body := range bodies {
			body.Close()
		}
	}()
	for range streams {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.url+"/v1/jobs/"+job.ID+"/events", nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream: %d", resp.StatusCode)
		}
		bodies = append(bodies, resp.Body)
	}
	// One more is over the cap.
	resp, data := b.do(t, http.MethodGet, "/v1/jobs/"+job.ID+"/events", "", nil)
	if resp.StatusCode != http.StatusTooManyRequests || !bytes.Contains(data, []byte(`"too_many_streams"`)) {
		t.Fatalf("stream over the cap: %d %s", resp.StatusCode, data)
	}
	// Ordinary requests do not wait behind the streams.
	var lat []time.Duration
	for range 100 {
		start := time.Now()
		if _, err := b.client.Job(context.Background(), job.ID); err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	p99 := lat[98]
	t.Logf("GET /v1/jobs/{id} with %d streams open: p50 %v, p99 %v", streams, lat[50], p99)
	if p99 > 250*time.Millisecond {
		t.Errorf("p99 %v with %d streams open", p99, streams)
	}
	// An event reaches every stream: cancel the job, its final state event
	// goes to all of them.
	if resp, data := b.do(t, http.MethodPost, "/v1/jobs/"+job.ID+"/cancel", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: %d %s", resp.StatusCode, data)
	}
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for i, body := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data, _ := io.ReadAll(io.LimitReader(body, 1<<20))
			if !bytes.Contains(data, []byte(`"final":true`)) {
				errs <- fmt.Errorf("stream %d ended without the final event: %q", i, data)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
		break
	}
}

// An error inside an event stream is the same error object as an HTTP
// error body.
func TestSSEErrorObject(t *testing.T) {
	var body struct {
		Error struct {
			Code    tasks.Code `json:"code"`
			Message string     `json:"message"`
		} `json:"error"`
	}
	b := setup(t, func(c *api.Config, _ *api.Deps) { c.Streams = api.StreamConfig{Max: 1, MaxPerKey: 1} })
	resp, data := b.do(t, http.MethodGet, "/v1/jobs/nope/events", "", nil)
	if resp.StatusCode != http.StatusNotFound || json.Unmarshal(data, &body) != nil || body.Error.Code != tasks.CodeNotFound {
		t.Fatalf("unknown job's stream: %d %s", resp.StatusCode, data)
	}
}
