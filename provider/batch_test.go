package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmq/mmq/provider"
	"github.com/mmq/mmq/provider/providertest"
	"github.com/mmq/mmq/tasks"
)

// batchVendor is one vendor's batch API and its fake, for table tests.
type batchVendor struct {
	name    string
	newFake func(t *testing.T) *providertest.Server
	client  func(t *testing.T, srv *providertest.Server, mod func(*provider.HTTPConfig)) provider.Batcher
	// body is a minimal valid request body of model.
	body func(model, prompt string) json.RawMessage
}

// setup starts v's fake and a client of it.
func (v batchVendor) setup(t *testing.T) (*providertest.Server, provider.Batcher, context.Context) {
	t.Helper()
	srv := v.newFake(t)
	return srv, v.client(t, srv, nil), ctxT(t)
}

var batchVendors = []batchVendor{
	{
		name:    provider.AnthropicName,
		newFake: func(t *testing.T) *providertest.Server { return providertest.NewAnthropic(t, testKey) },
		client: func(t *testing.T, srv *providertest.Server, mod func(*provider.HTTPConfig)) provider.Batcher {
			return newAnthropic(t, srv, mod)
		},
		body: func(model, prompt string) json.RawMessage {
			return json.RawMessage(fmt.Sprintf(`{"model":%q,"max_tokens":256,"messages":[{"role":"user","content":%q}]}`, model, prompt))
		},
	},
	{
		name:    provider.OpenAIName,
		newFake: func(t *testing.T) *providertest.Server { return providertest.NewOpenAI(t, testKey) },
		client: func(t *testing.T, srv *providertest.Server, mod func(*provider.HTTPConfig)) provider.Batcher {
			return newOpenAI(t, srv, mod)
		},
		body: func(model, prompt string) json.RawMessage {
			return json.RawMessage(fmt.Sprintf(`{"model":%q,"max_tokens":256,"messages":[{"role":"user","content":%q}]}`, model, prompt))
		},
	},
}

// waitEnded looks at a batch until it ended; the fakes end one at the
// latest at the second look after its processing time.
func waitEnded(t *testing.T, ctx context.Context, b provider.Batcher, id string) tasks.ProviderBatch {
	t.Helper()
	for range 5 {
		pb, err := b.Batch(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if pb.Status == tasks.ProviderBatchEnded {
			return pb
		}
	}
	t.Fatalf("batch %s did not end", id)
	return tasks.ProviderBatch{}
}

// results reads a batch's outcomes by custom_id.
func results(t *testing.T, ctx context.Context, b provider.Batcher, id string) map[string]tasks.BatchOutcome {
	t.Helper()
	out := map[string]tasks.BatchOutcome{}
	err := b.BatchResults(ctx, id, func(o tasks.BatchOutcome) error {
		if _, dup := out[o.CustomID]; dup {
			return fmt.Errorf("%s twice", o.CustomID)
		}
		out[o.CustomID] = o
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func batchLines(v batchVendor, n int) []tasks.BatchLine {
	lines := make([]tasks.BatchLine, n)
	for i := range lines {
		lines[i] = tasks.BatchLine{CustomID: fmt.Sprintf("u-%d", i), Body: v.body("gpt-vision", fmt.Sprintf("Question %d.", i))}
	}
	return lines
}

// A batch goes through create, status, results and list on both vendors,
// with per-request outcomes: succeeded, errored, expired, canceled (an
// OpenAI batch with an expired request expires as a whole, and one with a
// canceled request was cancelled: their other requests still answer).
func TestBatchRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range batchVendors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			srv := v.newFake(t)
			outcomes := map[string]string{"u-1": providertest.OutcomeErrored, "u-2": providertest.OutcomeExpired, "u-3": providertest.OutcomeCanceled}
			srv.Batches.Outcome = func(id string) string { return outcomes[id] }
			b := v.client(t, srv, nil)
			ctx := ctxT(t)
			lines := batchLines(v, 5)
			pb, err := b.CreateBatch(ctx, "label-1", lines)
			if err != nil {
				t.Fatal(err)
			}
			if pb.ID == "" || pb.Provider != v.name || pb.Status != tasks.ProviderBatchInProgress {
				t.Fatalf("created %+v", pb)
			}
			if v.name == provider.OpenAIName && pb.Label != "label-1" {
				t.Errorf("label %q, want label-1", pb.Label)
			}
			pb = waitEnded(t, ctx, b, pb.ID)
			want := tasks.ProviderBatchCount{Succeeded: 2, Errored: 1, Expired: 1, Canceled: 1}
			if v.name == provider.OpenAIName {
				// OpenAI counts only completed and failed: the rest of an
				// expired batch counts as expired (its results tell).
				want = tasks.ProviderBatchCount{Succeeded: 2, Errored: 1, Expired: 2}
			}
			if pb.Counts != want {
				t.Errorf("counts %+v, want %+v", pb.Counts, want)
			}
			got := results(t, ctx, b, pb.ID)
			if len(got) != 5 {
				t.Fatalf("%d results, want 5", len(got))
			}
			for _, id := range []string{"u-0", "u-4"} {
				if o := got[id]; o.Result != tasks.BatchSucceeded || !json.Valid(o.Response) || o.Err != nil {
					t.Errorf("%s: %+v", id, o)
				}
			}
			if o := got["u-1"]; o.Result != tasks.BatchErrored || o.Err == nil || o.Err.Code != tasks.CodeProviderFailed {
				t.Errorf("u-1: %+v, want errored with provider_failed", o)
			}
			if got["u-2"].Result != tasks.BatchExpired || got["u-3"].Result != tasks.BatchCanceled {
				t.Errorf("u-2 %+v, u-3 %+v", got["u-2"], got["u-3"])
			}
			for _, l := range lines {
				if n := srv.Batches.Received(l.CustomID); n != 1 {
					t.Errorf("%s received %d times", l.CustomID, n)
				}
			}
			list, err := b.ListBatches(ctx, 10)
			if err != nil || len(list) != 1 || list[0].ID != pb.ID || list[0].Status != tasks.ProviderBatchEnded {
				t.Errorf("list %+v, %v", list, err)
			}
		})
	}
}

// A request whose parameters the API refuses errors alone, as refused;
// the batch's other requests answer.
func TestBatchRefusedRequest(t *testing.T) {
	t.Parallel()
	for _, v := range batchVendors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			_, b, ctx := v.setup(t)
			lines := batchLines(v, 2)
			lines[1].Body = json.RawMessage(strings.Replace(string(lines[1].Body), `"max_tokens":256`, `"max_tokens":0`, 1))
			pb, err := b.CreateBatch(ctx, "", lines)
			if err != nil {
				t.Fatal(err)
			}
			waitEnded(t, ctx, b, pb.ID)
			got := results(t, ctx, b, pb.ID)
			if got["u-0"].Result != tasks.BatchSucceeded {
				t.Errorf("u-0: %+v", got["u-0"])
			}
			if o := got["u-1"]; o.Result != tasks.BatchErrored || o.Err == nil || o.Err.Code != tasks.CodeProviderRefused || !strings.Contains(o.Err.Message, "max_tokens") {
				t.Errorf("u-1: %+v, want refused over max_tokens", o.Err)
			}
		})
	}
}

// Creating is retried on 429 and 529 only: after a 500 the batch may exist,
// and the error goes back to the caller at once.
func TestBatchCreateRetries(t *testing.T) {
	t.Parallel()
	for _, v := range batchVendors {
		for _, tt := range []struct {
			status  int
			created bool
			calls   int32
		}{
			{http.StatusTooManyRequests, true, 2},
			{529, true, 2},
			{http.StatusInternalServerError, false, 1},
		} {
			t.Run(fmt.Sprintf("%s/%d", v.name, tt.status), func(t *testing.T) {
				t.Parallel()
				srv := v.newFake(t)
				var calls atomic.Int32
				srv.Batches.Fault = func(op string) int {
					if op == "create" && calls.Add(1) == 1 {
						return tt.status
					}
					return 0
				}
				_, err := v.client(t, srv, nil).CreateBatch(ctxT(t), "", batchLines(v, 1))
				if (err == nil) != tt.created || calls.Load() != tt.calls {
					t.Fatalf("err %v after %d create calls; want created %v after %d", err, calls.Load(), tt.created, tt.calls)
				}
				if err != nil && tasks.ErrorCode(err) != tasks.CodeProviderFailed {
					t.Errorf("code %s, want provider_failed", tasks.ErrorCode(err))
				}
			})
		}
	}
}

// A batch the vendor would refuse as a whole is refused before anything is
// sent.
func TestBatchCreateChecks(t *testing.T) {
	t.Parallel()
	v := batchVendors[0]
	srv := v.newFake(t)
	b := v.client(t, srv, nil)
	ok := batchLines(v, 1)[0]
	tests := map[string][]tasks.BatchLine{
		"empty":        nil,
		"bad id":       {{CustomID: "a b", Body: ok.Body}},
		"long id":      {{CustomID: strings.Repeat("a", 65), Body: ok.Body}},
		"duplicate id": {ok, ok},
		"not object":   {{CustomID: "x", Body: json.RawMessage(`[]`)}},
	}
	for name, lines := range tests {
		if _, err := b.CreateBatch(ctxT(t), "", lines); tasks.ErrorCode(err) != tasks.CodeInvalidRequest {
			t.Errorf("%s: %v, want invalid_request", name, err)
		}
	}
	if n := srv.Batches.Created(); n != 0 {
		t.Errorf("%d batches created", n)
	}
}

// Cancelling a batch in progress ends it with its requests canceled.
func TestBatchCancel(t *testing.T) {
	t.Parallel()
	for _, v := range batchVendors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			srv, b, ctx := v.setup(t)
			srv.Batches.ProcessingTime = 1 << 62
			pb, err := b.CreateBatch(ctx, "", batchLines(v, 3))
			if err != nil {
				t.Fatal(err)
			}
			if v.name == provider.OpenAIName {
				// Validated at the first look.
				if _, err := b.Batch(ctx, pb.ID); err != nil {
					t.Fatal(err)
				}
			}
			c, err := b.CancelBatch(ctx, pb.ID)
			if err != nil || c.Status != tasks.ProviderBatchCanceling {
				t.Fatalf("cancel: %+v, %v", c, err)
			}
			pb = waitEnded(t, ctx, b, pb.ID)
			if pb.Counts != (tasks.ProviderBatchCount{Canceled: 3}) {
				t.Errorf("counts %+v", pb.Counts)
			}
			for id, o := range results(t, ctx, b, pb.ID) {
				if o.Result != tasks.BatchCanceled {
					t.Errorf("%s: %s", id, o.Result)
				}
			}
		})
	}
}

// Expire-all: every request of every batch expires.
func TestBatchExpireAll(t *testing.T) {
	t.Parallel()
	for _, v := range batchVendors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			srv, b, ctx := v.setup(t)
			srv.Batches.ExpireAll = true
			pb, err := b.CreateBatch(ctx, "", batchLines(v, 4))
			if err != nil {
				t.Fatal(err)
			}
			if pb = waitEnded(t, ctx, b, pb.ID); pb.Counts != (tasks.ProviderBatchCount{Expired: 4}) {
				t.Errorf("counts %+v", pb.Counts)
			}
			got := results(t, ctx, b, pb.ID)
			if len(got) != 4 || slices.ContainsFunc(slicesOf(got), func(o tasks.BatchOutcome) bool { return o.Result != tasks.BatchExpired }) {
				t.Errorf("results %+v", got)
			}
		})
	}
}

func slicesOf(m map[string]tasks.BatchOutcome) []tasks.BatchOutcome {
	out := make([]tasks.BatchOutcome, 0, len(m))
	for _, o := range m {
		out = append(out, o)
	}
	return out
}

// An OpenAI batch whose input file does not validate fails as a whole,
// with the reasons; nothing of it is billed and it has no results.
func TestOpenAIBatchFailedValidation(t *testing.T) {
	t.Parallel()
	v := batchVendors[1]
	srv, b, ctx := v.setup(t)
	lines := batchLines(v, 3)
	lines[2].Body = v.body("another-model", "Question.")
	pb, err := b.CreateBatch(ctx, "", lines)
	if err != nil {
		t.Fatal(err)
	}
	pb = waitEnded(t, ctx, b, pb.ID)
	if pb.VendorStatus != "failed" || !strings.Contains(pb.Failed, "line 3: mismatched_model") {
		t.Errorf("batch %+v, want failed over line 3's model", pb)
	}
	if n := len(results(t, ctx, b, pb.ID)); n != 0 {
		t.Errorf("%d results", n)
	}
	if n := srv.Batches.Received("u-0"); n != 0 {
		t.Errorf("u-0 billed %d times", n)
	}
}

// A stopped callback stops the stream with its error.
func TestBatchResultsStop(t *testing.T) {
	t.Parallel()
	v := batchVendors[0]
	_, b, ctx := v.setup(t)
	pb, err := b.CreateBatch(ctx, "", batchLines(v, 10))
	if err != nil {
		t.Fatal(err)
	}
	waitEnded(t, ctx, b, pb.ID)
	stop := errors.New("stop")
	n := 0
	err = b.BatchResults(ctx, pb.ID, func(tasks.BatchOutcome) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("err %v after %d outcomes", err, n)
	}
}

// 20,000 results stream through in bounded memory: the live heap, measured
// every 1,000 outcomes, stays within a fixed bound far below the results'
// size (the test prints both). The fake runs in the process and writes
// ahead of the reader into the socket, so the samples move by a few MB
// either way, without a trend.
func TestBatchResultsBoundedMemory(t *testing.T) {
	const n = 20_000
	for _, v := range batchVendors {
		t.Run(v.name, func(t *testing.T) {
			srv := v.newFake(t)
			answer := strings.Repeat("A sentence of an ordinary answer. ", 100)
			srv.Answer = func(providertest.Received) string { return answer }
			b := v.client(t, srv, nil)
			// 40 MB each way: more than ctxT's time on a loaded machine.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			pb, err := b.CreateBatch(ctx, "", batchLines(v, n))
			if err != nil {
				t.Fatal(err)
			}
			waitEnded(t, ctx, b, pb.ID)
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			base := ms.HeapAlloc
			var peak uint64
			var total int64
			seen := 0
			err = b.BatchResults(ctx, pb.ID, func(o tasks.BatchOutcome) error {
				if o.Result != tasks.BatchSucceeded {
					return fmt.Errorf("%s: %s", o.CustomID, o.Result)
				}
				total += int64(len(o.Response))
				if seen++; seen%1000 == 0 {
					runtime.GC()
					runtime.ReadMemStats(&ms)
					if ms.HeapAlloc > base {
						peak = max(peak, ms.HeapAlloc-base)
					}
				}
				return nil
			})
			if err != nil || seen != n {
				t.Fatalf("%d outcomes, %v", seen, err)
			}
			t.Logf("%s: %d results, %.1f MB of answers; live heap grew %.2f MB at most", v.name, seen,
				float64(total)/(1<<20), float64(peak)/(1<<20))
			if total < 60<<20 || peak > 16<<20 {
				t.Errorf("heap grew %d bytes for %d bytes of results", peak, total)
			}
		})
	}
}

// ListBatches returns the newest batches first, across pages (OpenAI
// lists 100 a page); a wrong key is refused, not retried.
func TestBatchList(t *testing.T) {
	t.Parallel()
	for _, v := range batchVendors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			srv, b, ctx := v.setup(t)
			var ids []string
			for range 102 {
				pb, err := b.CreateBatch(ctx, "", batchLines(v, 1))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, pb.ID)
			}
			slices.Reverse(ids)
			for _, limit := range []int{2, 101, 200} {
				list, err := b.ListBatches(ctx, limit)
				if err != nil {
					t.Fatal(err)
				}
				got := make([]string, len(list))
				for i, pb := range list {
					got[i] = pb.ID
				}
				if want := ids[:min(limit, len(ids))]; !slices.Equal(got, want) {
					t.Errorf("limit %d: %d batches, want the %d newest in order", limit, len(got), len(want))
				}
			}
			wrong := v.client(t, srv, func(c *provider.HTTPConfig) { c.APIKey = "another" })
			_, err := wrong.CreateBatch(ctx, "", batchLines(v, 1))
			if tasks.ErrorCode(err) != tasks.CodeProviderRefused {
				t.Errorf("wrong key: %v, want provider_refused", err)
			}
		})
	}
}

// An OpenAI upload that failed is sent again, the file streamed anew: a
// file stored twice bills nothing.
func TestOpenAIBatchUploadRetried(t *testing.T) {
	t.Parallel()
	v := batchVendors[1]
	srv, b, ctx := v.setup(t)
	var uploads atomic.Int32
	srv.Batches.Fault = func(op string) int {
		if op == "upload" && uploads.Add(1) == 1 {
			return http.StatusInternalServerError
		}
		return 0
	}
	pb, err := b.CreateBatch(ctx, "", batchLines(v, 3))
	if err != nil || uploads.Load() != 2 || srv.Batches.Created() != 1 {
		t.Fatalf("%+v, %v after %d uploads, %d batches", pb, err, uploads.Load(), srv.Batches.Created())
	}
	waitEnded(t, ctx, b, pb.ID)
	if n := len(results(t, ctx, b, pb.ID)); n != 3 {
		t.Errorf("%d results, want 3", n)
	}
}
