package hostile_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mmq/mmq/internal/redistest"
)

// The API keys of the suite: A is the attacker's, B the bystander's. The
// server knows only their SHA-256 digests, as in production.
const (
	keyA = "mmq_hostile-attacker-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	keyB = "mmq_hostile-bystander-key-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// storePrefix starts every key the processes of the suite write.
const storePrefix = "hostile"

// MiB and GiB spell out sizes.
const (
	MiB = 1 << 20
	GiB = 1 << 30
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// TestMain removes the mmq binary built for the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// mmqBinary builds cmd/mmq once per run and returns its path.
func mmqBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "mmq-hostile-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "mmq")
		start := time.Now()
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/mmq/mmq/cmd/mmq").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build mmq: %v\n%s", err, out)
		}
		t.Logf("built mmq in %v", time.Since(start).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// server is one mmq process the suite started.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	pid  int
	base string // http://127.0.0.1:port
	addr string // 127.0.0.1:port
	http *http.Client
	// log is the file the process's stderr goes to.
	log string
	// exited is closed when the process has ended.
	exited chan struct{}
}

// startServer starts `mmq <command>` (api or run) on a free loopback port,
// on the suite's Redis DB (flushed first) with keys A and B, no rate limit,
// and env (name, value pairs) on top, and waits until /healthz answers. The
// process is killed when the test ends.
func startServer(t *testing.T, command string, env ...string) *server {
	t.Helper()
	if _, err := os.Stat("/proc/self/status"); err != nil {
		if runtime.GOOS == "linux" {
			t.Fatalf("no /proc to read a process's memory from: %v", err)
		}
		t.Skipf("no /proc to read a process's memory from (%s): %v", runtime.GOOS, err)
	}
	bin := mmqBinary(t)
	redistest.New(t, redistest.DBHostile) // flushed
	dir := t.TempDir()
	vars := map[string]string{
		"MMQ_REDIS_ADDR":         redistest.Addr(t),
		"MMQ_REDIS_DB":           strconv.Itoa(redistest.DBHostile),
		"MMQ_STORE_PREFIX":       storePrefix,
		"MMQ_API_ADDR":           "127.0.0.1:0",
		"MMQ_BLOBS_DIR":          filepath.Join(dir, "blobs"),
		"MMQ_LOG_LEVEL":          "warn",
		"MMQ_LOG_FORMAT":         "json",
		"MMQ_AUTH_ENABLED":       "true",
		"MMQ_AUTH_KEYS":          hashKey(keyA) + "," + hashKey(keyB),
		"MMQ_AUTH_RATE_LIMIT":    "0",
		"MMQ_MONITORING_ENABLED": "false",
	}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MMQ_") {
			environ = append(environ, kv)
		}
	}
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	s := &server{t: t, log: filepath.Join(dir, "mmq.log"), exited: make(chan struct{})}
	logFile, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, command)
	s.cmd.Env = environ
	s.cmd.Stderr = logFile
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.pid = s.cmd.Process.Pid
	go func() {
		_ = s.cmd.Wait()
		logFile.Close()
		close(s.exited)
	}()
	t.Cleanup(s.stop)

	// The banner names the address: "  api:        http://127.0.0.1:N/v1/jobs".
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 2 && f[0] == "api:" {
				addrc <- strings.TrimSuffix(strings.TrimPrefix(f[1], "http://"), "/v1/jobs")
			}
		}
	}()
	select {
	case s.addr = <-addrc:
	case <-s.exited:
		t.Fatalf("mmq %s exited before it served: %s", command, s.logTail())
	case <-time.After(60 * time.Second):
		t.Fatalf("mmq %s printed no address within 60 s: %s", command, s.logTail())
	}
	s.base = "http://" + s.addr
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	t.Cleanup(tr.CloseIdleConnections)
	s.http = &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	s.waitReady()
	return s
}

// waitReady waits until /healthz answers 200.
func (s *server) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := s.http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("/healthz did not answer 200 within 30 s (%v): %s", err, s.logTail())
		}
		select {
		case <-s.exited:
			s.t.Fatalf("mmq exited: %s", s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop ends the process: SIGTERM, then SIGKILL after 5 s.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}

	if s.t.Failed() {
		s.t.Logf("log of mmq (pid %d): %s", s.pid, s.logTail())
	}
}

// logTail returns the end of the process's log.
func (s *server) logTail() string {
	data, _ := os.ReadFile(s.log)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// procStatus returns a field of /proc/PID/status in bytes (VmRSS, VmHWM).
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	n, err := readProcStatus(pid, field)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func readProcStatus(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc/%d/status: %q", pid, line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		return kb << 10, err
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

// rssMeter measures a process's peak RSS over an attack: from its RSS when
// started, with the high-water mark reset, to the high-water mark when read.
type rssMeter struct {
	t    *testing.T
	pid  int
	base int64
}

func (s *server) meterRSS() *rssMeter {
	s.t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.pid), []byte("5"), 0); err != nil {
		s.t.Fatalf("reset VmHWM: %v", err)
	}
	return &rssMeter{t: s.t, pid: s.pid, base: procStatus(s.t, s.pid, "VmRSS")}
}

// growth returns the peak RSS since the meter started, less its baseline.
func (m *rssMeter) growth() (peak, growth int64) {
	m.t.Helper()
	peak = procStatus(m.t, m.pid, "VmHWM")
	return peak, peak - m.base
}

// request sends a request with key and returns the status and body.
func (s *server) request(method, path, key, contentType string, body io.Reader) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, data
}

// submitURL submits a job by URL with key B and returns its id. Without a
// worker nothing fetches it: the job stays queued.
func (s *server) submitURL(url string) string { return s.submitURLAs(keyB, url) }

// submitURLAs submits a job by URL with key, whose tenant owns it.
func (s *server) submitURLAs(key, url string) string {
	s.t.Helper()
	status, body := s.request(http.MethodPost, "/v1/jobs", key, "application/json",
		strings.NewReader(`{"url":`+strconv.Quote(url)+`}`))
	if status != http.StatusAccepted {
		s.t.Fatalf("submit %s: %d %s", url, status, body)
	}
	var job struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &job); err != nil || job.ID == "" {
		s.t.Fatalf("submit answer %s: %v", body, err)
	}
	return job.ID
}

// errorCode returns the code of an API error body.
func errorCode(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}

// rawResponse is an answer read off a raw connection.
type rawResponse struct {
	status int
	code   string
	err    error
	at     time.Duration // since the request started
}

// readRawResponse reads one response from br and its error code.
func readRawResponse(br *bufio.Reader, start time.Time) rawResponse {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return rawResponse{err: err, at: time.Since(start)}
	}
	return readBody(resp, rawResponse{status: resp.StatusCode, at: time.Since(start)})
}

// readBody fills in r's error code from resp's body, and closes it.
func readBody(resp *http.Response, r rawResponse) rawResponse {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	r.code = errorCode(body)
	return r
}

// dial opens a raw connection to the server.
func (s *server) dial() net.Conn {
	s.t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	return c
}

// percentile returns the p-th percentile (0..1) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// mib formats bytes in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/MiB) }
