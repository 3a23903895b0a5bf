package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mmq/mmq/tasks"
)

// Monitoring wraps h, asynqmon served beside the API, in what Protect does
// (request id, access log, API key with a browser login prompt, panic
// recovery) and in the rules of an operator's console:
//
//   - only admin keys may open it: another key gets 403 forbidden (without
//     API keys every caller is an admin);
//   - with readOnly, every request but GET and HEAD gets 403 forbidden,
//     whatever asynqmon itself would do with it;
//   - a request that may change state (any method but GET, HEAD and
//     OPTIONS) must come from a page of the same origin: see sameOrigin;
//   - no response may be framed by another page (clickjacking), the 401
//     and 403 answers included.
func (s *Server) Monitoring(h http.Handler, readOnly bool) http.Handler {
	return withoutFraming(s.Protect(monitorGuard(h, readOnly)))
}

// withoutFraming forbids every page, ours included, to show a response in
// a frame: CSP frame-ancestors for current browsers, X-Frame-Options for
// older ones.
func withoutFraming(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
		w.Header().Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// monitorGuard refuses what the caller, who has already shown a known key,
// may not do at /monitoring.
func monitorGuard(next http.Handler, readOnly bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !CallerOf(r.Context()).Admin {
			writeError(w, tasks.Errorf(tasks.CodeForbidden, "/monitoring is for admin keys only (`mmq keys create --tenant NAME --admin`)"))
			return
		}
		safe := r.Method == http.MethodGet || r.Method == http.MethodHead
		if readOnly && !safe {
			writeError(w, tasks.Errorf(tasks.CodeForbidden, "/monitoring is read-only (monitoring.read_only): %s requests are refused", r.Method))
			return
		}
		if !safe && r.Method != http.MethodOptions {
			if msg := sameOrigin(r); msg != "" {
				writeError(w, tasks.Errorf(tasks.CodeForbidden, "cross-origin request refused: %s", msg))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin returns why r, a request that may change state, does not
// come from a page of the origin it is sent to, or "" when it does. The
// page's origin is the Origin header's or, when a browser sent none, the
// Referer's; a request with neither is refused. That is stricter than
// net/http.CrossOriginProtection, which lets such requests through as
// non-browser clients: here a script must send Origin, which costs it one
// header, so that no browser quirk that drops both opens a hole.
//
// The host must equal the request's Host header. mmq trusts no
// X-Forwarded-Host, so a reverse proxy must pass the browser's Host through
// (nginx: proxy_set_header Host $host). The scheme must be https when mmq
// serves TLS itself; otherwise it may be either, since TLS may end at a
// proxy that mmq cannot tell from none (it trusts no X-Forwarded-Proto
// either).
func sameOrigin(r *http.Request) string {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "cross-site", "same-site":
		return "the browser says it comes from another origin (Sec-Fetch-Site: " + site + ")"
	}
	from, header := r.Header.Get("Origin"), "Origin"
	if from == "" {
		from, header = r.Header.Get("Referer"), "Referer"
	}
	if from == "" {
		return "a " + r.Method + " needs an Origin (or Referer) header naming this server"
	}
	u, err := url.Parse(from)
	if err != nil || u.Host == "" {
		return header + " " + quoteShort(from) + " names no origin"
	}
	if !(u.Scheme == "https" || u.Scheme == "http" && r.TLS == nil) {
		return header + " " + quoteShort(u.Scheme+"://"+u.Host) + " is not https://" + r.Host
	}
	if !strings.EqualFold(u.Host, r.Host) {
		return header + " " + quoteShort(u.Scheme+"://"+u.Host) + " is not this server (" + r.Host + ")"
	}
	return ""
}

// quoteShort quotes s, a header's value, cut to a length that keeps an
// error message short.
func quoteShort(s string) string {
	const limit = 100
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return strconv.Quote(s)
}
