package providertest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Outcomes a batch request can have, as Batches.Outcome names them.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeErrored   = "errored"
	OutcomeCanceled  = "canceled"
	OutcomeExpired   = "expired"
)

// Batches is a fake's batch API: Anthropic's Message Batches on a server of
// NewAnthropic, OpenAI's Files and Batch API on one of NewOpenAI. Set its
// fields before the first batch is created; read its counters at any time.
//
// A batch is in progress for ProcessingTime after it is created and ends
// at the first look (a status, a list, its results) after that; a cancel
// makes it canceling, and the next look ends it with its requests
// canceled. Each request is then answered as the fake answers the
// realtime API (Server.Answer, Server.Usage and the documented counting
// rules), so a request costs the same tokens either way; a request whose
// parameters the realtime API would refuse errors with its refusal.
type Batches struct {
	// ProcessingTime is how long a batch stays in progress. Defaults to 0:
	// it ends at the first look after its creation.
	ProcessingTime time.Duration
	// Outcome picks the outcome of a request by its custom_id: one of the
	// Outcome constants; "" is OutcomeSucceeded. Defaults to success for
	// all. It is called once per request, when its batch ends.
	Outcome func(customID string) string
	// ExpireAll makes every batch expire when its processing time is over,
	// none of its requests answered.
	ExpireAll bool
	// Fault, if set, may fail a call of the batch API with an HTTP status
	// (429, 500, 529, ...) before it is looked at; 0 lets it through. op
	// is "create", "upload", "get", "list", "cancel" or "results".
	Fault func(op string) int

	mu       sync.Mutex
	batches  []*fakeBatch
	byID     map[string]*fakeBatch
	files    map[string]*fakeFile
	received map[string]int
	created  int
	canceled int
}

// fakeBatch is one batch of a fake.
type fakeBatch struct {
	id        string
	createdAt time.Time
	lines     []fakeLine
	metadata  map[string]string
	// inputFile is an OpenAI batch's input file, validated at its first
	// look; failed holds the validation errors.
	inputFile string
	validated bool
	failed    []openAIBatchError
	model     string

	cancelAt time.Time
	endedAt  time.Time
	// status is the vendor's final word once ended (OpenAI).
	status string
	counts map[string]int
	// outputFile and errorFile are an ended OpenAI batch's result files.
	outputFile, errorFile string
}

// fakeLine is one request of a batch and, once the batch ended, its
// outcome; refused is the realtime API's refusal of its parameters.
type fakeLine struct {
	customID string
	body     []byte
	outcome  string
	refused  string
}

// fakeFile is an uploaded file, or the output or error file of a batch,
// written when it is read.
type fakeFile struct {
	id        string
	filename  string
	purpose   string
	createdAt time.Time
	data      []byte
	batch     *fakeBatch
	errors    bool
}

// Created returns the number of batches created.
func (b *Batches) Created() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.created
}

// CancelCalls returns the number of cancel calls accepted.
func (b *Batches) CancelCalls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.canceled
}

// Received returns how many times a request with customID was submitted
// in a batch the provider took (an Anthropic batch created, an OpenAI
// batch whose input validated): what the provider bills.
func (b *Batches) Received(customID string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.received[customID]
}

// ReceivedIDs returns every custom_id submitted with its count.
func (b *Batches) ReceivedIDs() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]int, len(b.received))
	for k, v := range b.received {
		out[k] = v
	}
	return out
}

// fault returns the status op is failed with, 0 for none.
func (b *Batches) fault(op string) int {
	if b.Fault == nil {
		return 0
	}
	return b.Fault(op)
}

// add records a new batch; the caller holds b.mu.
func (b *Batches) add(fb *fakeBatch) {
	if b.byID == nil {
		b.byID = map[string]*fakeBatch{}
	}
	b.batches = append(b.batches, fb)
	b.byID[fb.id] = fb
	b.created++
}

// count records the requests of a batch the provider took; the caller
// holds b.mu.
func (b *Batches) count(fb *fakeBatch) {
	if b.received == nil {
		b.received = map[string]int{}
	}
	for _, l := range fb.lines {
		b.received[l.customID]++
	}
}

// cancel starts canceling fb unless it ended or is canceling; the caller
// holds b.mu.
func (b *Batches) cancel(fb *fakeBatch) {
	if fb.endedAt.IsZero() && fb.cancelAt.IsZero() {
		fb.cancelAt = time.Now().UTC()
		b.canceled++
	}
}

// due reports whether fb is over its processing time or canceling, and
// should end at this look; the caller holds b.mu.
func (b *Batches) due(fb *fakeBatch, now time.Time) bool {
	return fb.endedAt.IsZero() && (!fb.cancelAt.IsZero() || !now.Before(fb.createdAt.Add(b.ProcessingTime)))
}

// end decides the outcome of every request of fb: canceled when fb was
// canceled, expired with ExpireAll, else as Outcome says, a success
// turning into an error when check refuses its parameters. The caller
// holds b.mu.
func (b *Batches) end(fb *fakeBatch, now time.Time, check func(body []byte) string) {
	fb.endedAt = now
	fb.counts = map[string]int{}
	for i := range fb.lines {
		l := &fb.lines[i]
		switch {
		case !fb.cancelAt.IsZero():
			l.outcome = OutcomeCanceled
		case b.ExpireAll:
			l.outcome = OutcomeExpired
		case b.Outcome != nil:
			l.outcome = b.Outcome(l.customID)
		}
		if l.outcome == "" {
			l.outcome = OutcomeSucceeded
		}
		if l.outcome == OutcomeSucceeded {
			if l.refused = check(l.body); l.refused != "" {
				l.outcome = OutcomeErrored
			}
		}
		fb.counts[l.outcome]++
	}
}

// listLimit reads a list's limit parameter: def when absent, ok false
// when outside 1..max.
func listLimit(r *http.Request, def, max int) (int, bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 1 && n <= max
}

// randomID is prefix and n random alphanumeric characters.
func randomID(prefix string, n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)[:n]
}
