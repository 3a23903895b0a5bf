package ssrf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"syscall"

	"github.com/mmq/mmq/tasks"
)

// The markers that stand in for what redaction removes. They are plain
// words in brackets so that a reader sees at once that something was cut.
const (
	// RedactedQuery replaces a URL's query string: tokens and presigned
	// signatures travel there.
	RedactedQuery = tasks.RedactedQuery
	// RedactedAddr replaces an IP address, with its port if it had one.
	RedactedAddr = "[address]"
	// RedactedURL replaces a URL that does not parse: nothing of it is
	// known to be safe to show.
	RedactedURL = tasks.UnparsableURL
)

// RedactURL returns raw fit for a log line: without userinfo and fragment,
// with its query string, if any, replaced by "?REDACTED", and with a host
// that is an IP address replaced, port and all, by RedactedAddr. The
// scheme, a host name and the path stay, which is what an operator needs to
// tell URLs apart; the query is where presigned URLs carry their signature
// and callback URLs their token. A URL that does not parse becomes
// RedactedURL.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return RedactedURL
	}
	return redactAddrs(tasks.StripURL(u))
}

// redactURLInText redacts m, a match of urlInText, like RedactURL but for
// its host, which RedactText's address pass redacts.
func redactURLInText(m string) string {
	if u, err := url.Parse(m); err == nil {
		return tasks.StripURL(u)
	}
	// Redacted before ("http://[address]/p?REDACTED" does not parse), or
	// malformed: cut at the query or the fragment.
	if strings.Contains(m, "@") {
		return RedactedURL
	}
	if i := strings.IndexAny(m, "?#"); i >= 0 {
		return m[:i] + "?" + RedactedQuery
	}
	return m
}

var (
	// urlInText finds URLs in free text. A URL ends at white space or a
	// quote: Go's *url.Error prints its URL in double quotes.
	urlInText = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>` + "`" + `]+`)
	// addrInText finds what may be an IP address, with a port if one
	// follows: a bracketed IPv6 address ("[::1]:443"), a dotted IPv4
	// address ("10.0.0.5:443"), or a bare IPv6 address, which may end in
	// IPv4 form ("::ffff:10.0.0.5"). Candidates are confirmed by
	// netip.ParseAddr, so that a time of day ("10:30:00") stays.
	addrInText = regexp.MustCompile(`(?i)` +
		`\[[0-9a-f:.]+(?:%[0-9a-z_.-]+)?\](?::\d{1,5})?` +
		`|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b` +
		`|(?:[0-9a-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f]{0,4})(?:%[0-9a-z_.-]+)?`)
)

// RedactText returns s with every IP address (v4 or v6, bracketed or not,
// with or without a port) replaced by RedactedAddr and every URL's query
// string, userinfo and fragment removed as RedactURL does. It is meant for
// text that is not ours to shape, above all the messages of Go's network
// errors: "dial tcp 10.0.0.5:443: connect: connection refused" names an
// internal address, "lookup x on 127.0.0.53:53" the resolver's, and an
// *url.Error repeats the whole URL, query and all. Host names other than
// IP literals stay: they are the ones a client wrote.
func RedactText(s string) string {
	return redactAddrs(urlInText.ReplaceAllStringFunc(s, redactURLInText))
}

// redactAddrs replaces the IP addresses in s.
func redactAddrs(s string) string {
	return addrInText.ReplaceAllStringFunc(s, func(m string) string {
		switch {
		case isAddr(m):
			return RedactedAddr
		case strings.HasSuffix(m, ":") && isAddr(m[:len(m)-1]):
			// An IPv6 address followed by the colon of "addr: message".
			return RedactedAddr + ":"
		}
		return m
	})
}

// isAddr reports whether m, a match of addrInText, is an IP address, alone
// or with a port.
func isAddr(m string) bool {
	if strings.HasPrefix(m, "[") {
		m = m[1:strings.LastIndexByte(m, ']')]
	} else if _, err := netip.ParseAddrPort(m); err == nil {
		return true
	}
	_, err := netip.ParseAddr(m)
	return err == nil
}

// Redact returns err's text through RedactText, or "" for nil.
func Redact(err error) string {
	if err == nil {
		return ""
	}
	return RedactText(err.Error())
}

// RedactError returns an error whose text is Redact(err) and which wraps
// err, so that errors.Is and errors.As still see the cause: for logging
// and storing an error whose text may name addresses or URLs with queries.
// It returns nil for nil.
func RedactError(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{err: err}
}

type redactedError struct{ err error }

func (e *redactedError) Error() string { return Redact(e.err) }
func (e *redactedError) Unwrap() error { return e.err }

// PublicError names the cause of a failed outgoing request in a few words
// a client may see: "connection refused", "timeout", "dns lookup failed",
// "tls handshake failed", "address refused by the SSRF guard". Go's own
// messages would name the address connected to or the resolver asked, and
// an *url.Error the whole URL; none of that is the client's business. An
// error of no known kind is "network error". It returns "" for nil.
func PublicError(err error) string {
	var (
		dnsErr  *net.DNSError
		timeout interface{ Timeout() bool }
		tlsErr  tls.RecordHeaderError
		alert   tls.AlertError
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrRefused):
		return "address refused by the SSRF guard"
	case errors.Is(err, ErrTooManyRedirects):
		return "too many redirects"
	case errors.Is(err, ErrInvalidURL):
		return "redirect to an invalid URL"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &timeout) && timeout.Timeout():
		return "timeout"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "dns lookup failed: no such host"
		}
		return "dns lookup failed"
	case errors.As(err, &tlsErr), errors.As(err, &alert), errors.As(err, &verify),
		errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid):
		return "tls handshake failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the answer ended"
	}
	return "network error"
}
