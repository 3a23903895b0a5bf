package ssrf

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Config says which addresses outgoing requests may reach. Its zero value
// refuses every special-purpose address and follows up to 5 redirects.
type Config struct {
	// AllowPrivateNetworks turns the address checks off: loopback, private,
	// link-local and every other range become reachable. For development
	// and tests only. Defaults to false.
	AllowPrivateNetworks bool
	// AllowedNetworks are reachable even when AllowPrivateNetworks is false,
	// for example 10.1.2.3/32 for one internal webhook receiver. Defaults to
	// none.
	AllowedNetworks []netip.Prefix
	// MaxRedirects caps the redirects a client from NewClient follows; the
	// URL and the address of every hop are checked. Defaults to 5; negative
	// follows none and hands back the 3xx response itself.
	MaxRedirects int
	// DialTimeout bounds opening one connection. Defaults to 10 s.
	DialTimeout time.Duration
}

// DefaultMaxRedirects is Config.MaxRedirects' default.
const DefaultMaxRedirects = 5

func (c *Config) setDefaults() {
	if c.MaxRedirects == 0 {
		c.MaxRedirects = DefaultMaxRedirects
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
}

// ParseNetworks parses CIDR prefixes ("10.1.2.3/32", "fd00::/8") or single
// addresses, which stand for a prefix of their own full length.
func ParseNetworks(ss []string) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			ps = append(ps, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("ssrf: %q is neither a network (CIDR) nor an address", s)
		}
		ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
	}
	return ps, nil
}

// ErrRefused is wrapped by every error about a destination mmq must not
// reach: an *AddrError, or a *URLError for a refused literal host.
var ErrRefused = errors.New("ssrf: destination refused")

// ErrInvalidURL is wrapped by a *URLError for a URL of the wrong form.
var ErrInvalidURL = errors.New("ssrf: invalid URL")

// AddrError refuses a connection to Addr.
type AddrError struct {
	Addr netip.Addr
	// Reason names the range Addr is in, such as "loopback" or "private".
	Reason string
}

func (e *AddrError) Error() string {
	if !e.Addr.IsValid() {
		return "ssrf: address refused: " + e.Reason
	}
	return fmt.Sprintf("ssrf: address %s is refused (%s)", e.Addr, e.Reason)
}

// Unwrap makes errors.Is(err, ErrRefused) hold.
func (e *AddrError) Unwrap() error { return ErrRefused }

// URLError refuses a URL, either for its form (wrapping ErrInvalidURL) or
// for its host (wrapping an *AddrError or ErrRefused).
type URLError struct {
	// Reason says what is wrong, in words fit for a client.
	Reason string
	Err    error
}

func (e *URLError) Error() string { return "ssrf: " + e.Reason }
func (e *URLError) Unwrap() error { return e.Err }

// maxURLBytes bounds a URL; longer ones are refused.
const maxURLBytes = 2 << 10

// ValidateURL checks raw's form: an absolute http or https URL with a host,
// without credentials (which would be stored and shown with the job) and at
// most 2 KiB long. It does not look at the host's address.
func ValidateURL(raw string) (*url.URL, error) {
	invalid := func(format string, args ...any) error {
		return &URLError{Reason: fmt.Sprintf(format, args...), Err: ErrInvalidURL}
	}
	if raw == "" {
		return nil, invalid("URL is empty")
	}
	if len(raw) > maxURLBytes {
		return nil, invalid("URL is longer than %d bytes", maxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalid("URL does not parse")
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	default:
		return nil, invalid("URL scheme must be http or https, not %q", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, invalid("URL has no host")
	}
	if u.User != nil {
		return nil, invalid("URL must not carry credentials")
	}
	return u, nil
}

// CheckURL checks raw's form like ValidateURL and refuses a host that is a
// refused IP literal or a name of the loopback ("localhost",
// "*.localhost"). Other names are checked when a connection to them opens.
func (c Config) CheckURL(raw string) (*url.URL, error) {
	u, err := ValidateURL(raw)
	if err != nil {
		return nil, err
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	var addr netip.Addr
	switch {
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		addr = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	default:
		// A zone ("fe80::1%eth0") makes the literal parse; it is link-local
		// either way.
		if addr, err = netip.ParseAddr(host); err != nil {
			return u, nil
		}
	}
	if err := c.CheckAddr(addr); err != nil {
		var ae *AddrError
		errors.As(err, &ae)
		return nil, &URLError{Reason: fmt.Sprintf("URL host %s is not reachable from this server (%s)", u.Hostname(), ae.Reason), Err: err}
	}
	return u, nil
}

// CheckAddr returns an *AddrError when c refuses connections to ip.
func (c Config) CheckAddr(ip netip.Addr) error {
	if !ip.IsValid() {
		return &AddrError{Addr: ip, Reason: "invalid"}
	}
	ip = ip.WithZone("").Unmap()
	if c.AllowPrivateNetworks {
		return nil
	}
	for _, p := range c.AllowedNetworks {
		if p.Contains(ip) {
			return nil
		}
	}
	if reason := refusedReason(ip); reason != "" {
		return &AddrError{Addr: ip, Reason: reason}
	}
	return nil
}

// nat64 is the well-known NAT64 prefix: its last 32 bits are an IPv4
// address, checked as such.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// special lists the special-purpose ranges (IANA's registries) that the
// standard library's predicates do not cover, with the reason given.
var special = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (CGNAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // with 255.255.255.255, broadcast
	{netip.MustParsePrefix("::/96"), "IPv4-compatible (deprecated)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments (Teredo, benchmarking, ORCHID)"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2002::/16"), "6to4"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("5f00::/16"), "segment routing"},
	{netip.MustParsePrefix("fec0::/10"), "site-local (deprecated)"},
}

// refusedReason names the refused range ip (unmapped, without zone) is in,
// or returns "".
func refusedReason(ip netip.Addr) string {
	switch {
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast():
		return "multicast"
	case ip.IsPrivate():
		return "private"
	case nat64.Contains(ip):
		b := ip.As16()
		if r := refusedReason(netip.AddrFrom4([4]byte(b[12:]))); r != "" {
			return "NAT64 of a " + r + " address"
		}
		return ""
	}
	for _, s := range special {
		if s.prefix.Contains(ip) {
			return s.reason
		}
	}
	return ""
}
