package ssrf

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
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
// "*.localhost", with or without a trailing dot). Other names are checked
// when a connection to them opens.
//
// A host whose last label is a number is an IPv4 address, in any of the
// forms browsers (the WHATWG URL Standard) and inet_aton accept: one to four
// dot-separated parts, each decimal, octal (leading 0) or hex (leading 0x),
// the last filling the remaining bytes, with an optional trailing dot —
// "2130706433", "0x7f000001", "0177.0.0.1", "127.1" and "127.0.0.1." all
// spell 127.0.0.1. It is checked as that address, so a public one written
// so ("0x08080808") passes like its dotted form; one that is no address
// ("256.256.256.256", "4294967296", "1.2.3.4.5", "08.1.1.1") is refused as
// invalid, as browsers refuse it. So is a host with an empty label
// ("a..b") or a bracketed host that is no IPv6 address.
//
// A host with non-ASCII characters is taken for a name: net/http maps it
// (IDNA) before dialing, so "１２７.０.０.１" reaches the dialer as 127.0.0.1,
// and is refused there, not here.
func (c Config) CheckURL(raw string) (*url.URL, error) {
	u, err := ValidateURL(raw)
	if err != nil {
		return nil, err
	}
	invalid := func(format string, args ...any) error {
		return &URLError{Reason: fmt.Sprintf(format, args...), Err: ErrInvalidURL}
	}
	host := strings.ToLower(u.Hostname())
	var addr netip.Addr
	if strings.Contains(host, ":") {
		// Only brackets let a colon into a host: an IPv6 literal. A zone
		// ("fe80::1%eth0") makes it parse; it is link-local either way.
		if addr, err = netip.ParseAddr(host); err != nil {
			return nil, invalid("URL host [%s] is not an IPv6 address", u.Hostname())
		}
	} else {
		name := strings.TrimSuffix(host, ".")
		if name == "" || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
			return nil, invalid("URL host %s has an empty label", u.Hostname())
		}
		if name == "localhost" || strings.HasSuffix(name, ".localhost") {
			addr = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		} else {
			var numeric bool
			if addr, numeric = parseIPv4(name); !numeric {
				return u, nil
			}
			if !addr.IsValid() {
				return nil, invalid("URL host %s is not a valid IPv4 address", u.Hostname())
			}
		}
	}
	if err := c.CheckAddr(addr); err != nil {
		var ae *AddrError
		errors.As(err, &ae)
		return nil, &URLError{Reason: fmt.Sprintf("URL host %s is not reachable from this server (%s)", u.Hostname(), ae.Reason), Err: err}
	}
	return u, nil
}

// parseIPv4 parses name (lower case, without a trailing dot) the way the
// WHATWG URL Standard's IPv4 parser does, which reads every form inet_aton
// (what glibc's getaddrinfo applies to names, and so Go's cgo resolver)
// reads, the same way. The standard library has no such parser:
// netip.ParseAddr takes only the dotted-decimal form. numeric reports whether name's last label is a number
// (decimal digits or 0x-hex), which makes name an IPv4 address or nothing;
// addr is then that address, or invalid when name is none.
func parseIPv4(name string) (addr netip.Addr, numeric bool) {
	parts := strings.Split(name, ".")
	last := parts[len(parts)-1]
	if _, ok := ipv4Number(last); !ok && strings.Trim(last, "0123456789") != "" {
		return netip.Addr{}, false
	}
	if len(parts) > 4 {
		return netip.Addr{}, true
	}
	var v uint64
	for i, p := range parts {
		n, ok := ipv4Number(p)
		bits := 8 // the last part fills the bytes that are left
		if i == len(parts)-1 {
			bits = 8 * (5 - len(parts))
		}
		if !ok || n >= 1<<bits {
			return netip.Addr{}, true
		}
		v = v<<bits | n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// ipv4Number parses one part of a numeric host: hex after "0x" (a bare "0x"
// is 0), octal after another leading 0, decimal otherwise. A value too large
// for a uint64 comes back as the largest one, out of every part's range.
func ipv4Number(s string) (uint64, bool) {
	base := 10
	switch {
	case strings.HasPrefix(s, "0x"):
		if base, s = 16, s[2:]; s == "" {
			return 0, true
		}
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	n, err := strconv.ParseUint(s, base, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return n, true
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

// globalUnicast is the only IPv6 space IANA allocates for global unicast;
// the rest is reserved, and refused unless special names it first.
var globalUnicast = netip.MustParsePrefix("2000::/3")

// special lists the special-purpose ranges that the standard library's
// predicates (unspecified, loopback, link-local, multicast, private) do not
// cover, with the reason given: with them, every block of IANA's IPv4 and
// IPv6 Special-Purpose Address Registries that is not globally reachable,
// and a few more. Blocks only partly reachable are refused whole:
// 192.0.0.0/24, 2001::/23 (Teredo, benchmarking, AMT, AS112, ORCHID...) and
// 6to4's 2002::/16, whose relays would carry a request to the embedded IPv4
// address, whichever it is. IPv4-mapped addresses (::ffff:0:0/96) are
// checked as the IPv4 address they map, by CheckAddr, NAT64's 64:ff9b::/96
// by its embedded one, and IPv6 addresses outside 2000::/3 that no entry
// names are refused as reserved.
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
	// RFC 2765's IPv4-translated addresses, ::ffff:0:a.b.c.d, which are
	// not ::ffff:a.b.c.d: only an SIIT translator reaches them.
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "IPv4-translated"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("100:0:0:1::/64"), "dummy prefix"},
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
	if ip.Is6() && !globalUnicast.Contains(ip) {
		return "outside IPv6 global unicast (2000::/3)"
	}
	return ""
}
