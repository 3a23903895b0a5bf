//go:build chaos

package chaos_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/provider/providertest"
	"github.com/mmq/mmq/tasks"
)

// Settings of the provider scenario: the workers' provider client and page
// retries, and what the fake provider does.
const (
	providerRetries     = 3 // providers.anthropic.max_retries
	providerPageTries   = 3 // worker.page_attempts
	providerTimeout     = 300 * time.Millisecond
	providerFaultRate   = 0.30 // 429 and 5xx
	providerTimeoutRate = 0.05 // answers slower than providerTimeout
)

// faultPlan injects the scenario's faults at random and counts them by
// kind and the requests by page.
type faultPlan struct {
	mu       sync.Mutex
	byKind   map[string]int
	requests map[string]int // "job page" → requests
	untagged int
}

func (f *faultPlan) reply(r providertest.Received) providertest.Reply {
	page := r.Header.Get("X-Chaos-Unit")
	var kind string
	var rep providertest.Reply
	switch x := rand.Float64(); {
	case x < providerTimeoutRate:
		// The client gives up first; the server waits for it to go.
		kind, rep = "timeout", providertest.Reply{Delay: 4 * providerTimeout}
	case x < providerTimeoutRate+providerFaultRate/3:
		kind, rep = rateLimited()
	case x < providerTimeoutRate+providerFaultRate:
		kind, rep = serverError()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if page == "" {
		f.untagged++
	}
	f.requests[page]++
	if kind != "" {
		f.byKind[kind]++
	}
	return rep
}

// rateLimited is a 429 as Anthropic sends them: with retry-after, with
// retry-after-ms, with the rate-limit reset headers only, or bare.
func rateLimited() (string, providertest.Reply) {
	h := http.Header{}
	kind := "429"
	switch rand.IntN(4) {
	case 0:
		h.Set("Retry-After", "1")
		kind = "429+retry-after"
	case 1:
		h.Set("retry-after-ms", strconv.Itoa(50+rand.IntN(200)))
		kind = "429+retry-after-ms"
	case 2:
		reset := time.Now().Add(time.Duration(100+rand.IntN(300)) * time.Millisecond).UTC().Format(time.RFC3339Nano)
		h.Set("anthropic-ratelimit-requests-limit", "50")
		h.Set("anthropic-ratelimit-requests-remaining", "0")
		h.Set("anthropic-ratelimit-requests-reset", reset)
		h.Set("anthropic-ratelimit-tokens-remaining", "12000")
		h.Set("anthropic-ratelimit-tokens-reset", time.Now().Add(2*time.Second).UTC().Format(time.RFC3339Nano))
		kind = "429+ratelimit-reset"
	}
	return kind, providertest.Reply{Status: http.StatusTooManyRequests, Header: h}
}

// serverError is a 500, 502, 503 or 529 (overloaded), a third of them with
// a retry-after.
func serverError() (string, providertest.Reply) {
	status := []int{500, 502, 503, 529}[rand.IntN(4)]
	if rand.IntN(3) == 0 {
		h := http.Header{}
		h.Set("Retry-After", "0.2")
		return "5xx+retry-after", providertest.Reply{Status: status, Header: h}
	}
	return "5xx", providertest.Reply{Status: status}
}

// TestProviderFaults runs pages through two worker processes that analyze
// with the real provider pipeline (Anthropic client, retries, routing,
// prices) against a fake Messages API that answers 30 % of the calls with
// 429 or 5xx (some with retry-after or rate-limit reset headers) and 5 %
// slower than the client's timeout. Every page must end done, within its
// attempt budget (provider retries + 1, times the worker's page attempts),
// with every retry the fake saw counted in its metrics.
//
// MMQ_CHAOS_PROVIDER_PAGES sets the pages (default MMQ_CHAOS_JOBS, else
// 1000), in jobs of 3.
func TestProviderFaults(t *testing.T) {
	pages := envInt("MMQ_CHAOS_PROVIDER_PAGES", envInt("MMQ_CHAOS_JOBS", 1000))
	jobs := max((pages+2)/3, 1)
	pages = 3 * jobs
	dir, rp, bin := startChaos(t)
	defer rp.crash()

	plan := &faultPlan{byKind: map[string]int{}, requests: map[string]int{}}
	fake := providertest.NewAnthropic(t, "chaos-key")
	fake.Latency = 10 * time.Millisecond
	// Fixed usage: the default counts with pdftotext and pdfinfo, two
	// processes per call, which would eat the client's 300 ms.
	fake.Usage = func(_ providertest.Received, answer string) (int, int) {
		return 1600, providertest.TextTokens(answer)
	}
	fake.Faults = plan.reply

	blobDir, logPath := filepath.Join(dir, "blobs"), filepath.Join(dir, "analyses.log")
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: rp.addr(), MaxRetries: 20})
	defer rdb.Close()
	st, ids := enqueueJobs(t, rdb, blobDir, "pjob", jobs)

	workerLog, err := os.Create(filepath.Join(dir, "workers.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer workerLog.Close()
	args := []string{"-redis", rp.addr(), "-blobs", blobDir, "-log", logPath, "-shutdown-timeout", "5s",
		"-provider", "anthropic", "-provider-url", fake.URL, "-provider-key", "chaos-key",
		"-provider-timeout", providerTimeout.String(), "-provider-retries", strconv.Itoa(providerRetries),
		"-provider-retry-base", "20ms", "-provider-retry-cap", "200ms", "-page-attempts", strconv.Itoa(providerPageTries)}
	a := &workerProc{t: t, bin: bin, args: args, stderr: workerLog}
	b := &workerProc{t: t, bin: bin, args: args, stderr: workerLog}
	begin := time.Now()
	a.start()
	b.start()
	defer a.signal(syscall.SIGKILL)
	defer b.signal(syscall.SIGKILL)

	deadline := time.Now().Add(5 * time.Minute)
	for endedJobs(ctx, rdb, ids) < jobs {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d jobs ended after 5 minutes (worker log: %s)", endedJobs(ctx, rdb, ids), jobs, tail(workerLog.Name()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(begin)
	b.signal(syscall.SIGTERM)
	a.signal(syscall.SIGTERM)

	// Every job succeeded with its 3 pages done; per page, the requests the
	// fake saw stay within the budget and are all counted.
	budget := (providerRetries + 1) * providerPageTries
	attemptsByPage := analysisAttempts(t, logPath)
	var notDone []string
	var done, retries, maxRequests, maxAttempts, pagesRetried, unseen int
	var maxPage string
	for _, id := range ids {
		j, err := st.GetJob(ctx, id)
		if err != nil || j.Status != tasks.StatusSucceeded || j.PagesDone != 3 || j.PagesFailed != 0 {
			notDone = append(notDone, fmt.Sprintf("%s=%+v/%v", id, j, err))
			continue
		}
		rs, _, err := st.Results(ctx, id, -1, 10)
		if err != nil || len(rs) != 3 {
			notDone = append(notDone, fmt.Sprintf("%s: %d results/%v", id, len(rs), err))
			continue
		}
		for _, r := range rs {
			page := fmt.Sprintf("%s %d", id, r.Index)
			n := plan.requests[page]
			if r.Status != tasks.PageDone || r.Metrics == nil {
				notDone = append(notDone, page+" "+string(r.Status))
				continue
			}
			m := r.Metrics
			done++
			retries += m.Retries
			if m.Retries > 0 {
				pagesRetried++
			}
			if n > maxRequests {
				maxRequests, maxPage = n, page
			}
			maxAttempts = max(maxAttempts, r.Attempts)
			if n > budget {
				t.Errorf("page %s: %d requests, more than its budget of %d", page, n, budget)
			}
			if r.Attempts > providerPageTries || attemptsByPage[page] != r.Attempts {
				t.Errorf("page %s: %d attempts in its result, %d in the analysis log, at most %d allowed",
					page, r.Attempts, attemptsByPage[page], providerPageTries)
			}
			// Each failed page attempt spent all its provider tries and
			// counts once in Retries; the answering call counts its own.
			accounted := 1 + m.Retries + providerRetries*(r.Attempts-1)
			switch {
			case n > accounted:
				t.Errorf("page %s: the fake saw %d requests, its metrics account for %d (retries %d, attempts %d)",
					page, n, accounted, m.Retries, r.Attempts)
			case n < accounted:
				unseen += accounted - n // sent, but never reached the fake
			}
			if m.Provider != "anthropic" || m.Model == "" || m.InputTokens != 1600 {
				t.Errorf("page %s: metrics %+v do not come from the fake provider", page, m)
			}
		}
	}
	if len(notDone) > 0 || done != pages {
		t.Errorf("%d jobs or pages not done (e.g. %v); worker log: %s", len(notDone), notDone[:min(3, len(notDone))], tail(workerLog.Name()))
	}
	reqs := fake.Requests()
	var refused int
	for _, r := range reqs {
		if r.Refused != "" {
			refused++
			if refused <= 3 {
				t.Errorf("the fake refused a request: %s", r.Refused)
			}
		}
	}
	if plan.untagged > 0 {
		t.Errorf("%d requests did not say which page they were for", plan.untagged)
	}
	if len(plan.requests) != pages {
		t.Errorf("the fake saw requests for %d pages, want %d", len(plan.requests), pages)
	}
	faults := 0
	var kinds []string
	for k, n := range plan.byKind {
		faults += n
		kinds = append(kinds, fmt.Sprintf("%s:%d", k, n))
	}
	slices.Sort(kinds)
	if pages >= 100 && (plan.byKind["timeout"] == 0 || faults < len(reqs)/5) {
		t.Errorf("only %d faults injected in %d requests (%v): the scenario did not run", faults, len(reqs), kinds)
	}
	fmt.Printf("chaos: provider faults: jobs=%d pages=%d pages_done=%d requests=%d faults=%d (%s) refused=%d retries_in_metrics=%d pages_retried=%d max_requests_one_page=%d (%s) budget=%d max_page_attempts=%d requests_never_seen=%d took=%v\n",
		jobs, pages, done, len(reqs), faults, strings.Join(kinds, " "), refused, retries, pagesRetried,
		maxRequests, maxPage, budget, maxAttempts, unseen, took.Round(time.Millisecond))
}

// endedJobs counts the jobs of ids in a final state.
func endedJobs(ctx context.Context, rdb *redis.Client, ids []string) int {
	n := 0
	for start := 0; start < len(ids); start += 500 {
		pipe := rdb.Pipeline()
		var cmds []*redis.StringCmd
		for _, id := range ids[start:min(start+500, len(ids))] {
			cmds = append(cmds, pipe.HGet(ctx, "chaos:job:{"+id+"}", "status"))
		}
		_, _ = pipe.Exec(ctx)
		for _, c := range cmds {
			if tasks.Status(c.Val()).Final() {
				n++
			}
		}
	}
	return n
}

// analysisAttempts reads the chaosworker's analysis log: how many times
// each page ("job page") was analyzed.
func analysisAttempts(t *testing.T, path string) map[string]int {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if what, page, ok := strings.Cut(line, " "); ok && what == "S" {
			n[page]++
		}
	}
	return n
}

// tail returns the end of a log file, for a failure message.
func tail(path string) string {
	data, _ := os.ReadFile(path)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return "\n" + string(data)
}
