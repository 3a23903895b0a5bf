package api

import "time"

// Observer hears of every request the API answers, for metrics.
// *metrics.Registry implements it. It is called once per request, after
// the response, and must not block.
type Observer interface {
	// HTTPRequest reports a request: route is the pattern that matched
	// ("GET /v1/jobs/{id}"), or "unmatched".
	HTTPRequest(method, route string, status int, d time.Duration)
}

// nopObserver is the Observer of an API without metrics.
type nopObserver struct{}

func (nopObserver) HTTPRequest(string, string, int, time.Duration) {}
