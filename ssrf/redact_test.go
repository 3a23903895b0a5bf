package ssrf_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/ssrf"
)

func TestRedactURL(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"https://h/p?x=1", "https://h/p?REDACTED"},
		{"https://h/p", "https://h/p"},
		{"https://h/p?", "https://h/p?REDACTED"},
		{"https://bucket.s3.amazonaws.com/k.pdf?X-Amz-Signature=abc&X-Amz-Credential=AKIA", "https://bucket.s3.amazonaws.com/k.pdf?REDACTED"},
		{"https://user:pass@h:8443/p?token=SECRET#frag", "https://h:8443/p?REDACTED"},
		{"https://h/p#SECRET", "https://h/p"},
		{"http://[::1]:8080/hook?sig=SECRET", "http://[address]/hook?REDACTED"},
		{"http://10.0.0.5/doc.pdf", "http://[address]/doc.pdf"},
		{"http://h/%zz?token=SECRET", ssrf.RedactedURL},
		{"", ""},
	}
	for _, c := range cases {
		if got := ssrf.RedactURL(c.in); got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRedactText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, want string
	}{
		{"ipv4 with port", "dial tcp 10.0.0.5:443: connect: connection refused",
			"dial tcp [address]: connect: connection refused"},
		{"resolver", "lookup files.internal on 127.0.0.53:53: no such host",
			"lookup files.internal on [address]: no such host"},
		{"ipv4 alone", "address 169.254.169.254 is refused", "address [address] is refused"},
		{"ipv6 bracketed with port", "dial tcp [fd00::5]:443: i/o timeout", "dial tcp [address]: i/o timeout"},
		{"ipv6 bracketed with zone", "dial tcp [fe80::1%eth0]:80: refused", "dial tcp [address]: refused"},
		{"ipv6 bare", "address ::1 is refused (loopback)", "address [address] is refused (loopback)"},
		{"ipv6 bare before a colon", "read 2001:db8::7: reset", "read [address]: reset"},
		{"ipv4-mapped ipv6", "address ::ffff:10.0.0.5 is refused", "address [address] is refused"},
		{"url with token", `Get "https://h.example/doc.pdf?token=SECRET": EOF`,
			`Get "https://h.example/doc.pdf?REDACTED": EOF`},
		{"url and address", `Get "http://10.1.2.3:9000/b/k?X-Amz-Signature=SECRET": dial tcp 10.1.2.3:9000: connect: connection refused`,
			`Get "http://[address]/b/k?REDACTED": dial tcp [address]: connect: connection refused`},
		{"url with credentials", "posting to https://u:SECRET@h/p failed", "posting to https://h/p failed"},
		{"time of day stays", "at 10:30:00 the job ended", "at 10:30:00 the job ended"},
		{"version stays", "mmq v1.2.3 built with go1.26.0", "mmq v1.2.3 built with go1.26.0"},
		{"not an address stays", "999.1.1.1 and 1.2.3", "999.1.1.1 and 1.2.3"},
		{"name with port stays", "dial tcp example.com:443: timeout", "dial tcp example.com:443: timeout"},
		{"redacted text stays", `Get "http://[address]/doc.pdf?REDACTED": dial tcp [address]: refused`,
			`Get "http://[address]/doc.pdf?REDACTED": dial tcp [address]: refused`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := ssrf.RedactText(c.in); got != c.want {
				t.Errorf("RedactText(%q)\n = %q\nwant %q", c.in, got, c.want)
			}
		})
	}
}

func TestRedactError(t *testing.T) {
	t.Parallel()
	if ssrf.RedactError(nil) != nil || ssrf.Redact(nil) != "" {
		t.Fatal("nil is not redacted to nil")
	}
	cause := &ssrf.AddrError{Addr: netip.MustParseAddr("10.0.0.5"), Reason: "private"}
	err := ssrf.RedactError(fmt.Errorf("fetch https://h/p?token=SECRET: %w", cause))
	if s := err.Error(); strings.Contains(s, "10.0.0.5") || strings.Contains(s, "SECRET") {
		t.Errorf("redacted error %q still shows the address or the token", s)
	}
	var ae *ssrf.AddrError
	if !errors.Is(err, ssrf.ErrRefused) || !errors.As(err, &ae) || ae != cause {
		t.Errorf("redacted error %v does not wrap its cause", err)
	}
}

// PublicError's words come from real failures of a client, not from
// errors made up to fit.
func TestPublicError(t *testing.T) {
	t.Parallel()
	closed := closedAddr(t)
	client := ssrf.NewClient(ssrf.Config{AllowPrivateNetworks: true})
	client.Timeout = 5 * time.Second
	get := func(url string) error {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"refused by the guard", func() error {
			_, err := ssrf.NewClient(ssrf.Config{}).Get("http://" + closed + "/?token=SECRET")
			return err
		}(), "address refused by the SSRF guard"},
		{"connection refused", get("http://" + closed + "/?token=SECRET"), "connection refused"},
		{"no such host", get("http://no-such-host.invalid/?token=SECRET"), "dns lookup failed: no such host"},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), "timeout"},
		{"untrusted certificate", get(tlsServer(t) + "/?token=SECRET"), "tls handshake failed"},
		{"unknown", errors.New("something at 10.0.0.5:1"), "network error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ssrf.PublicError(c.err); got != c.want {
				t.Errorf("PublicError(%v) = %q, want %q", c.err, got, c.want)
			}
		})
	}
}

// closedAddr returns a 127.0.0.1 address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// tlsServer returns the URL of an HTTPS server whose certificate no
// client trusts.
func tlsServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	return srv.URL
}
