package hostile_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmq/mmq/internal/testwait"
	"github.com/mmq/mmq/tasks"
)

// bombFile is an object stream holding one 512 MiB string behind a page
// whose /Contents has a wrong /Length: the repair sends it to qpdf, which
// writes the string out (2.7 GB RSS and 38 s unbounded).
const bombFile = "../../testdata/bad/bomb-objstm-string-512m-repair.pdf"

// childPeak watches the child processes of pid (qpdf, pdftotext) and
// keeps the largest VmHWM any of them reached while it watched.
type childPeak struct {
	mu   sync.Mutex
	peak int64
	seen map[int]string // pid: command name
	stop chan struct{}
	done chan struct{}
}

func watchChildren(pid int) *childPeak {
	w := &childPeak{seen: map[int]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			tids, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
			for _, f := range tids {
				data, _ := os.ReadFile(f)
				for _, field := range strings.Fields(string(data)) {
					child, err := strconv.Atoi(field)
					if err != nil {
						continue
					}
					// A child forked but not yet exec'd still carries
					// mmq's own high-water mark: not its own memory.
					comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", child))
					if strings.TrimSpace(string(comm)) == "mmq" {
						continue
					}
					hwm, err := readProcStatus(child, "VmHWM")
					w.mu.Lock()
					w.seen[child] = strings.TrimSpace(string(comm))
					if err == nil {
						w.peak = max(w.peak, hwm)
					}
					w.mu.Unlock()
				}
			}
			select {
			case <-tick.C:
			case <-w.stop:
				return
			}
		}
	}()
	return w
}

// result stops watching and returns the peak and the children seen.
func (w *childPeak) result() (peak int64, children []string) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, name := range w.seen {
		children = append(children, name)
	}
	slices.Sort(children)
	return w.peak, children
}

// The repair bomb, submitted to `mmq run` (API and worker in one process,
// the local analyzer), ends within 60 s without the process's memory
// growing past 256 MiB.
func TestSlowRepairBomb(t *testing.T) {
	data, err := os.ReadFile(bombFile)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "run", "MMQ_ANALYZER_PROVIDER", "local")
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", filepath.Base(bombFile))
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()

	rss := s.meterRSS()
	children := watchChildren(s.pid)
	start := time.Now()
	status, body := s.request(http.MethodPost, "/v1/jobs", keyA, mw.FormDataContentType(), &buf)
	submitted := time.Since(start)
	if status != http.StatusAccepted {
		children.result()
		t.Fatalf("submit: %d %s", status, body)
	}
	var job tasks.Job
	if err := json.Unmarshal(body, &job); err != nil {
		t.Fatal(err)
	}
	ended := testwait.Until(t.Context(), 60*time.Second-submitted, func() bool {
		status, body := s.request(http.MethodGet, "/v1/jobs/"+job.ID, keyA, "", nil)
		if status != http.StatusOK {
			t.Fatalf("GET job: %d %s", status, body)
		}
		job = tasks.Job{}
		return json.Unmarshal(body, &job) == nil && job.Status.Final()
	})
	elapsed := time.Since(start)
	peak, growth := rss.growth()
	childPeak, childNames := children.result()
	t.Logf("repair bomb: accepted after %v, %s%s (%d of %d pages) after %v; mmq run RSS peak %s, growth %s; child processes %v, largest peak %s",
		submitted.Round(time.Millisecond), job.Status, strings.TrimRight(" "+string(job.ErrorCode), " "), job.PagesDone, job.PagesTotal, elapsed.Round(time.Millisecond),
		mib(peak), mib(growth), childNames, mib(childPeak))
	if !ended {
		t.Errorf("the job is still %s after %v, want it ended within 60 s", job.Status, elapsed)
	}
	if growth > 256*MiB {
		// pdfcpu's capped decode grows its buffer to twice
		// tasks.MaxDecodedBytes for the byte past the cap (see doc.go).
		t.Errorf("mmq run RSS grew %s, want ≤ 256 MiB", mib(growth))
	}
}
