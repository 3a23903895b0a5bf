package ssrf

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrTooManyRedirects ends a request that was redirected more than
// Config.MaxRedirects times.
var ErrTooManyRedirects = errors.New("ssrf: too many redirects")

// Control is a net.Dialer Control function that refuses to connect to an
// address c refuses. The net package calls it after resolving the name and
// creating the socket, before connecting.
func (c Config) Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &AddrError{Reason: fmt.Sprintf("unparsable address %q", address)}
	}
	return c.CheckAddr(ap.Addr())
}

// NewDialer returns a dialer whose every connection passes c.Control.
func NewDialer(c Config) *net.Dialer {
	c.setDefaults()
	return &net.Dialer{Timeout: c.DialTimeout, KeepAlive: 30 * time.Second, Control: c.Control}
}

// NewTransport returns an HTTP transport with http.DefaultTransport's
// settings, minus the proxy, that dials through NewDialer.
func NewTransport(c Config) *http.Transport {
	return &http.Transport{
		// No proxy: it would open the real connection out of Control's sight.
		Proxy:                 nil,
		DialContext:           NewDialer(c).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// NewClient returns an HTTP client that connects only where c allows,
// follows at most c.MaxRedirects redirects and checks each redirect's URL
// with c.CheckURL. It has no overall timeout; set the client's Timeout or
// the request's context.
func NewClient(c Config) *http.Client {
	c.setDefaults()
	return &http.Client{
		Transport: NewTransport(c),
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if c.MaxRedirects < 0 {
				return http.ErrUseLastResponse
			}
			if len(via) > c.MaxRedirects {
				return fmt.Errorf("%w: stopped after %d", ErrTooManyRedirects, c.MaxRedirects)
			}
			_, err := c.CheckURL(req.URL.String())
			return err
		},
	}
}
