package tasks

import (
	"math"
	"slices"
)

// Tally is what the store counts as jobs end and pages get their outcome,
// summed over a window of job creation times: the figures of Stats that
// are not counts by state, read from counters instead of from the jobs.
type Tally struct {
	// Jobs counts the finished jobs, canceled ones included; CostUSD sums
	// their model costs; Pages counts the pages (frames) of those not
	// canceled.
	Jobs    int64
	CostUSD float64
	Pages   int64
	// JobLatency holds the finished, not canceled, jobs' times from
	// submission to end.
	JobLatency Histogram
	// PageLatency holds each page outcome's analysis time; PagesRead
	// counts those outcomes and GuardrailPages the flagged ones among them.
	PageLatency    Histogram
	PagesRead      int64
	GuardrailPages int64
	// What the jobs used, counted as it was spent (running and canceled
	// jobs included): tokens, model cost, answer cache hits and misses,
	// and the document pages and video frames given an outcome.
	InputTokens, OutputTokens int64
	SpentUSD                  float64
	CacheHits, CacheMisses    int64
	DocPages, Frames          int64
}

// LatencyBucketsPerOctave is the resolution of a Histogram: a bucket spans
// a factor 2^(1/8), so a percentile read from it (the bucket's geometric
// middle) is within 4.5 % of the true one. The store's scripts compute the
// same buckets (store/stats.go).
const LatencyBucketsPerOctave = 8

// Histogram counts durations in milliseconds by LatencyBucket. It is
// mmq's own rather than a library's (prometheus's client keeps fixed
// bucket bounds in process memory) because the buckets are fields of Redis
// hashes that scripts increment; this is the little arithmetic both sides
// share.
type Histogram map[int]int64

// LatencyBucket returns the bucket of a duration of ms milliseconds:
// floor(8 log2(ms+1)).
func LatencyBucket(ms int64) int {
	return int(math.Floor(LatencyBucketsPerOctave * math.Log2(float64(max(ms, 0))+1)))
}

// N returns how many durations h holds.
func (h Histogram) N() int64 {
	var n int64
	for _, c := range h {
		n += c
	}
	return n
}

// Quantile returns the nearest-rank q-quantile of h in milliseconds, the
// geometric middle of the bucket it falls in; 0 for an empty h.
func (h Histogram) Quantile(q float64) int64 {
	n := h.N()
	if n == 0 {
		return 0
	}
	rank := max(int64(math.Ceil(q*float64(n))), 1)
	buckets := make([]int, 0, len(h))
	for k := range h {
		buckets = append(buckets, k)
	}
	slices.Sort(buckets)
	var seen int64
	for _, k := range buckets {
		if seen += h[k]; seen >= rank {
			lo := math.Exp2(float64(k)/LatencyBucketsPerOctave) - 1
			hi := math.Exp2(float64(k+1)/LatencyBucketsPerOctave) - 1
			return int64(math.Round(math.Sqrt(max(lo, 0.5) * hi)))
		}
	}
	return 0
}
