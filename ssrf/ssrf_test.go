package ssrf_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmq/mmq/ssrf"
)

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	cases := []struct {
		addr   string
		reason string // "" = allowed
	}{
		{"93.184.215.14", ""},
		{"8.8.8.8", ""},
		{"2606:4700:4700::1111", ""},
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"}, // IPv4-mapped
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"10.0.0.1", "private"},
		{"172.16.5.4", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"::ffff:192.168.1.1", "private"},
		{"fd12:3456::1", "private"},
		{"169.254.169.254", "link-local"},
		{"169.254.0.1", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"100.64.0.1", "shared address space (CGNAT)"},
		{"100.127.255.254", "shared address space (CGNAT)"},
		{"0.1.2.3", "this network"},
		{"192.0.2.10", "documentation"},
		{"198.18.0.1", "benchmarking"},
		{"255.255.255.255", "reserved"},
		{"240.0.0.1", "reserved"},
		{"2001:db8::1", "documentation"},
		{"2002:7f00:1::1", "6to4"},
		{"2001::1", "IETF protocol assignments (Teredo, benchmarking, ORCHID)"},
		{"64:ff9b::7f00:1", "NAT64 of a loopback address"},
		{"64:ff9b::a9fe:a9fe", "NAT64 of a link-local address"},
		{"fec0::1", "site-local (deprecated)"},
		{"::7f00:1", "IPv4-compatible (deprecated)"},
		// Ranges of IANA's special-purpose registries, at their edges.
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"192.0.0.8", "IETF protocol assignments"},
		{"192.0.1.1", ""},
		{"192.88.99.1", "6to4 relay"},
		{"198.19.255.255", "benchmarking"},
		{"198.51.100.7", "documentation"},
		{"203.0.113.7", "documentation"},
		{"223.255.255.255", ""},
		{"::ffff:0:7f00:1", "IPv4-translated"},  // ::ffff:0:127.0.0.1
		{"::ffff:0:808:808", "IPv4-translated"}, // refused whatever the IPv4 address
		{"::ffff:0:0", "unspecified"},           // IPv4-mapped 0.0.0.0
		{"64:ff9b::a00:1", "NAT64 of a private address"},
		{"64:ff9b::ffff:ffff", "NAT64 of a reserved address"},
		{"64:ff9b:1::808:808", "local-use NAT64"},
		{"100::1", "discard-only"},
		{"100:0:0:1::1", "dummy prefix"},
		{"2001:2::1", "IETF protocol assignments (Teredo, benchmarking, ORCHID)"},
		{"2001:200::1", ""}, // just past 2001::/23
		{"2002:808:808::1", "6to4"},
		{"3fff::1", "documentation"},
		{"3fff:1000::1", ""}, // just past 3fff::/20
		{"5f00::1", "segment routing"},
		{"fc00::1", "private"},
		{"febf::1", "link-local"},
		{"ff0e::1", "multicast"},
		{"4000::1", "outside IPv6 global unicast (2000::/3)"},
		{"::ffff:1:7f00:1", "outside IPv6 global unicast (2000::/3)"},
		{"2606:2800:21f:cb07:6820:80da:af6b:c2c8", ""},
	}
	for _, c := range cases {
		t.Run(c.addr, func(t *testing.T) {
			t.Parallel()
			err := ssrf.Config{}.CheckAddr(netip.MustParseAddr(c.addr))
			var ae *ssrf.AddrError
			switch {
			case c.reason == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.reason != "" && !errors.As(err, &ae):
				t.Errorf("got %v, want an *AddrError (%s)", err, c.reason)
			case c.reason != "" && (ae.Reason != c.reason || !errors.Is(err, ssrf.ErrRefused)):
				t.Errorf("reason %q (Is ErrRefused: %v), want %q", ae.Reason, errors.Is(err, ssrf.ErrRefused), c.reason)
			}
			if err := (ssrf.Config{AllowPrivateNetworks: true}).CheckAddr(netip.MustParseAddr(c.addr)); err != nil {
				t.Errorf("refused with AllowPrivateNetworks: %v", err)
			}
		})
	}
}

func TestAllowedNetworks(t *testing.T) {
	t.Parallel()
	nets, err := ssrf.ParseNetworks([]string{"10.1.2.3", " fd00::/8 ", ""})
	if err != nil {
		t.Fatal(err)
	}
	c := ssrf.Config{AllowedNetworks: nets}
	for addr, allowed := range map[string]bool{
		"10.1.2.3": true, "10.1.2.4": false, "fd00::5": true, "fc00::5": false, "127.0.0.1": false,
	} {
		if err := c.CheckAddr(netip.MustParseAddr(addr)); (err == nil) != allowed {
			t.Errorf("%s: err %v, want allowed %v", addr, err, allowed)
		}
	}
	if _, err := ssrf.ParseNetworks([]string{"10.0.0.0/33"}); err == nil {
		t.Error("ParseNetworks accepted 10.0.0.0/33")
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url     string
		invalid bool // form error (ErrInvalidURL)
		refused bool // host refused (ErrRefused)
	}{
		{url: "https://example.com/hook"},
		{url: "http://example.com:8080/a?b=c"},
		{url: "HTTPS://EXAMPLE.COM/"},
		{url: "https://93.184.215.14/hook"},
		{url: "https://[2606:4700::1]/hook"},
		{url: "", invalid: true},
		{url: "file:///etc/passwd", invalid: true},
		{url: "gopher://example.com/", invalid: true},
		{url: "ftp://example.com/a.pdf", invalid: true},
		{url: "example.com/hook", invalid: true},
		{url: "https:///nohost", invalid: true},
		{url: "https://user:pass@example.com/", invalid: true},
		{url: "https://token@example.com/", invalid: true},
		{url: "http://%zz", invalid: true},
		{url: "https://example.com/" + strings.Repeat("a", 3000), invalid: true},
		{url: "http://127.0.0.1:8080/", refused: true},
		{url: "http://localhost/", refused: true},
		{url: "http://LOCALHOST./", refused: true},
		{url: "http://api.localhost/", refused: true},
		{url: "http://169.254.169.254/latest/meta-data/", refused: true},
		{url: "http://[::1]/", refused: true},
		{url: "http://[::ffff:10.0.0.1]/", refused: true},
		{url: "http://[fe80::1%25eth0]/", refused: true},
		{url: "http://0.0.0.0/", refused: true},
		{url: "http://10.0.0.1/", refused: true},
		{url: "http://localhost../", invalid: true},
		{url: "http://a..example.com/", invalid: true},
		{url: "http://./", invalid: true},
		{url: "http://[v1.fe]/", invalid: true},
		{url: "http://example.com./"},
		{url: "http://1.2.3.example/"}, // a name: its last label is no number
		{url: "http://0xdeadbeef.example/"},
		{url: "http://[2606:2800:21f:cb07:6820:80da:af6b:c2c8]/"},
	}
	for _, c := range cases {
		t.Run(c.url[:min(len(c.url), 60)], func(t *testing.T) {
			t.Parallel()
			_, err := ssrf.Config{}.CheckURL(c.url)
			var ue *ssrf.URLError
			if (err != nil) != (c.invalid || c.refused) {
				t.Fatalf("err = %v, want invalid %v refused %v", err, c.invalid, c.refused)
			}
			if err == nil {
				return
			}
			if !errors.As(err, &ue) || ue.Reason == "" {
				t.Errorf("err %v is not a *URLError with a reason", err)
			}
			if errors.Is(err, ssrf.ErrInvalidURL) != c.invalid || errors.Is(err, ssrf.ErrRefused) != c.refused {
				t.Errorf("err %v: Is(ErrInvalidURL) %v, Is(ErrRefused) %v", err, errors.Is(err, ssrf.ErrInvalidURL), errors.Is(err, ssrf.ErrRefused))
			}
			if c.refused {
				if _, err := (ssrf.Config{AllowPrivateNetworks: true}).CheckURL(c.url); err != nil {
					t.Errorf("refused with AllowPrivateNetworks: %v", err)
				}
			}
		})
	}
}

// Numeric hosts are the IPv4 addresses browsers and inet_aton read in them.
func TestCheckURLNumericHost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url  string
		want error  // nil, ErrRefused or ErrInvalidURL
		addr string // the address refused
	}{
		{"http://0x7f000001/", ssrf.ErrRefused, "127.0.0.1"},
		{"http://0X7F000001/", ssrf.ErrRefused, "127.0.0.1"},
		{"http://2130706433:8080/x", ssrf.ErrRefused, "127.0.0.1"},
		{"http://017700000001/", ssrf.ErrRefused, "127.0.0.1"},
		{"http://127.1/", ssrf.ErrRefused, "127.0.0.1"},
		{"http://127.0.1/", ssrf.ErrRefused, "127.0.0.1"},
		{"http://0177.0.0.1/", ssrf.ErrRefused, "127.0.0.1"},
		{"http://0x7f.1/", ssrf.ErrRefused, "127.0.0.1"},
		{"http://0x7f.0.0.01/", ssrf.ErrRefused, "127.0.0.1"},
		{"http://0x7f.0x0.0.0x1/", ssrf.ErrRefused, "127.0.0.1"},
		{"http://127.0.0.1./", ssrf.ErrRefused, "127.0.0.1"},
		{"http://0x7f000001./", ssrf.ErrRefused, "127.0.0.1"},
		{"http://127.000.000.001/", ssrf.ErrRefused, "127.0.0.1"},
		{"http://%31%32%37.0.0.1/", ssrf.ErrInvalidURL, ""}, // url.Parse refuses escapes in a host
		{"http://0/", ssrf.ErrRefused, "0.0.0.0"},
		{"http://0x/", ssrf.ErrRefused, "0.0.0.0"},
		{"http://0.0.0.0./", ssrf.ErrRefused, "0.0.0.0"},
		{"http://0xa9fea9fe/latest/meta-data/", ssrf.ErrRefused, "169.254.169.254"},
		{"http://169.254.43518/", ssrf.ErrRefused, "169.254.169.254"},
		{"http://0251.0376.0251.0376/", ssrf.ErrRefused, "169.254.169.254"},
		{"http://10.1/", ssrf.ErrRefused, "10.0.0.1"},
		{"http://3232235777/", ssrf.ErrRefused, "192.168.1.1"},
		{"http://4294967295/", ssrf.ErrRefused, "255.255.255.255"},
		{"http://localhost./", ssrf.ErrRefused, "127.0.0.1"},
		{"http://api.localhost./", ssrf.ErrRefused, "127.0.0.1"},
		{"http://[::ffff:0:7f00:1]/", ssrf.ErrRefused, "::ffff:0:7f00:1"},
		{"http://[::ffff:127.0.0.1]/", ssrf.ErrRefused, "127.0.0.1"},
		{"http://[::FFFF:7F00:1]/", ssrf.ErrRefused, "127.0.0.1"},
		{"http://[64:ff9b::7f00:1]/", ssrf.ErrRefused, "64:ff9b::7f00:1"},
		{"http://[64:ff9b::127.0.0.1]/", ssrf.ErrRefused, "64:ff9b::7f00:1"},
		{"http://[2002:7f00:1::]/", ssrf.ErrRefused, "2002:7f00:1::"},
		{"http://[::127.0.0.1]/", ssrf.ErrRefused, "::7f00:1"},
		{"http://4294967296/", ssrf.ErrInvalidURL, ""},
		{"http://256.256.256.256/", ssrf.ErrInvalidURL, ""},
		{"http://127.0.0.256/", ssrf.ErrInvalidURL, ""},
		{"http://127.16777216/", ssrf.ErrInvalidURL, ""},
		{"http://1.2.3.4.5/", ssrf.ErrInvalidURL, ""},
		{"http://08.0.0.1/", ssrf.ErrInvalidURL, ""},
		{"http://0x1g.0.0.1/", ssrf.ErrInvalidURL, ""},
		{"http://0x100000000/", ssrf.ErrInvalidURL, ""},
		{"http://99999999999999999999999/", ssrf.ErrInvalidURL, ""},
		{"http://example.0x7f/", ssrf.ErrInvalidURL, ""},
		{"http://127.0.0.1../", ssrf.ErrInvalidURL, ""},
		{"http://example.com/", nil, ""},
		{"http://93.184.215.14/", nil, ""},
		{"http://0x08080808/", nil, ""},
		{"http://134744072/", nil, ""},
		{"http://8.8.2056/", nil, ""},
		{"http://[2606:2800:21f:cb07:6820:80da:af6b:c2c8]/", nil, ""},
		{"http://[64:ff9b::808:808]/", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			t.Parallel()
			_, err := ssrf.Config{}.CheckURL(c.url)
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			var ae *ssrf.AddrError
			if c.addr != "" && (!errors.As(err, &ae) || ae.Addr != netip.MustParseAddr(c.addr)) {
				t.Errorf("err = %v, want it to refuse %s", err, c.addr)
			}
			// An invalid host stays invalid; a refused one is let through.
			_, err = ssrf.Config{AllowPrivateNetworks: true}.CheckURL(c.url)
			if (c.want == ssrf.ErrInvalidURL) != errors.Is(err, ssrf.ErrInvalidURL) || errors.Is(err, ssrf.ErrRefused) {
				t.Errorf("with AllowPrivateNetworks: err = %v", err)
			}
		})
	}
}

// The dialer's check sees resolved addresses, so it needs no network to be
// tested: the net package calls Control before connecting.
func TestControl(t *testing.T) {
	t.Parallel()
	c := ssrf.Config{}
	for _, addr := range []string{"169.254.169.254:80", "127.0.0.1:6379", "[::1]:443", "[fe80::1%lo]:80", "10.0.0.1:80", "nonsense"} {
		if err := c.Control("tcp", addr, nil); !errors.Is(err, ssrf.ErrRefused) {
			t.Errorf("Control(%s) = %v, want ErrRefused", addr, err)
		}
	}
	if err := c.Control("tcp4", "93.184.215.14:443", nil); err != nil {
		t.Errorf("Control(public) = %v", err)
	}
}

// The dialer refuses every special-purpose range, IPv4 ones embedded in
// IPv6 addresses too.
func TestControlSpecialRanges(t *testing.T) {
	t.Parallel()
	c := ssrf.Config{}
	for addr, reason := range map[string]string{
		"[::ffff:0:7f00:1]:80":        "IPv4-translated",
		"[::ffff:127.0.0.1]:80":       "loopback",
		"[::ffff:169.254.169.254]:80": "link-local",
		"[64:ff9b::7f00:1]:80":        "NAT64 of a loopback address",
		"[64:ff9b::a9fe:a9fe]:80":     "NAT64 of a link-local address",
		"[64:ff9b:1::1]:80":           "local-use NAT64",
		"[2002:7f00:1::]:80":          "6to4",
		"[2001::1]:80":                "IETF protocol assignments (Teredo, benchmarking, ORCHID)",
		"[2001:db8::1]:80":            "documentation",
		"[3fff::1]:80":                "documentation",
		"[5f00::1]:80":                "segment routing",
		"[100::1]:80":                 "discard-only",
		"[100:0:0:1::1]:80":           "dummy prefix",
		"[fc00::1]:80":                "private",
		"[fe80::1]:80":                "link-local",
		"[ff02::1]:80":                "multicast",
		"[::]:80":                     "unspecified",
		"[4000::1]:80":                "outside IPv6 global unicast (2000::/3)",
		"0.0.0.0:80":                  "unspecified",
		"0.1.2.3:80":                  "this network",
		"100.64.0.1:80":               "shared address space (CGNAT)",
		"192.0.0.170:80":              "IETF protocol assignments",
		"192.0.2.1:80":                "documentation",
		"192.88.99.1:80":              "6to4 relay",
		"198.18.0.1:80":               "benchmarking",
		"198.51.100.1:80":             "documentation",
		"203.0.113.1:80":              "documentation",
		"224.0.0.251:5353":            "multicast",
		"240.0.0.1:80":                "reserved",
		"255.255.255.255:80":          "reserved",
	} {
		err := c.Control("tcp", addr, nil)
		var ae *ssrf.AddrError
		if !errors.As(err, &ae) || ae.Reason != reason || !errors.Is(err, ssrf.ErrRefused) {
			t.Errorf("Control(%s) = %v, want refused (%s)", addr, err, reason)
		}
	}
	for _, addr := range []string{"8.8.8.8:53", "[2606:2800:21f:cb07:6820:80da:af6b:c2c8]:443", "[64:ff9b::808:808]:443", "[2606:4700:4700::1111]:443"} {
		if err := c.Control("tcp", addr, nil); err != nil {
			t.Errorf("Control(%s) = %v", addr, err)
		}
	}
}

// listen starts an HTTP server on a loopback address of its own choosing.
func listen(t *testing.T, ip string, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func TestClient(t *testing.T) {
	t.Parallel()
	var hitsOther atomic.Int64
	other := listen(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) {
		hitsOther.Add(1)
		io.WriteString(w, "other")
	})
	srv := listen(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			io.WriteString(w, "ok")
		case "/to-other":
			http.Redirect(w, r, other.URL+"/secret", http.StatusFound)
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/to-file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/to-self":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		}
	})
	only127001 := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

	cases := []struct {
		name     string
		cfg      ssrf.Config
		path     string
		wantBody string
		wantErr  error
		wantCode int
	}{
		{name: "loopback refused by default", path: "/ok", wantErr: ssrf.ErrRefused},
		{name: "loopback allowed with AllowPrivateNetworks", cfg: ssrf.Config{AllowPrivateNetworks: true}, path: "/ok", wantBody: "ok"},
		{name: "allowed network", cfg: ssrf.Config{AllowedNetworks: only127001}, path: "/ok", wantBody: "ok"},
		{name: "redirect within allowed network", cfg: ssrf.Config{AllowedNetworks: only127001}, path: "/to-self", wantBody: "ok"},
		{name: "redirect to refused address", cfg: ssrf.Config{AllowedNetworks: only127001}, path: "/to-other", wantErr: ssrf.ErrRefused},
		{name: "redirect to metadata address", cfg: ssrf.Config{AllowedNetworks: only127001}, path: "/to-metadata", wantErr: ssrf.ErrRefused},
		{name: "redirect to file URL", cfg: ssrf.Config{AllowPrivateNetworks: true}, path: "/to-file", wantErr: ssrf.ErrInvalidURL},
		{name: "redirect loop capped", cfg: ssrf.Config{AllowPrivateNetworks: true, MaxRedirects: 3}, path: "/loop", wantErr: ssrf.ErrTooManyRedirects},
		{name: "redirects not followed", cfg: ssrf.Config{AllowPrivateNetworks: true, MaxRedirects: -1}, path: "/to-self", wantCode: http.StatusFound},
		{name: "redirect to other with private allowed", cfg: ssrf.Config{AllowPrivateNetworks: true}, path: "/to-other", wantBody: "other"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := ssrf.NewClient(c.cfg)
			t.Cleanup(client.CloseIdleConnections)
			before := hitsOther.Load()
			resp, err := client.Get(srv.URL + c.path)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				if hitsOther.Load() != before {
					t.Error("the refused server got a request")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if c.wantCode != 0 && resp.StatusCode != c.wantCode {
				t.Errorf("status %d, want %d", resp.StatusCode, c.wantCode)
			}
			if c.wantBody != "" && string(body) != c.wantBody {
				t.Errorf("body %q, want %q", body, c.wantBody)
			}
		})
	}
}

// The dialer checks every connection, a redirect's too, even without the
// redirect policy's own check of the URL.
func TestDialerChecksRedirects(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	other := listen(t, "127.0.0.2", func(http.ResponseWriter, *http.Request) { hits.Add(1) })
	srv := listen(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL, http.StatusFound)
	})
	client := ssrf.NewClient(ssrf.Config{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	client.CheckRedirect = nil
	_, err := client.Get(srv.URL)
	var ae *ssrf.AddrError
	if !errors.As(err, &ae) || ae.Addr != netip.MustParseAddr("127.0.0.2") {
		t.Fatalf("err = %v, want an *AddrError for 127.0.0.2", err)
	}
	if hits.Load() != 0 {
		t.Error("the refused server got a request")
	}
}

// A proxy would connect on the guard's behalf: the transport has none.
func TestTransportHasNoProxy(t *testing.T) {
	t.Parallel()
	if tr := ssrf.NewTransport(ssrf.Config{}); tr.Proxy != nil {
		t.Error("the transport uses a proxy")
	}
}

// net/http maps a non-ASCII host (IDNA) before dialing: CheckURL takes
// "１２７.０.０.１" for a name, the dialer refuses the 127.0.0.1 it becomes.
func TestClientRefusesMappedHost(t *testing.T) {
	t.Parallel()
	const raw = "http://１２７.０.０.１:1/"
	if _, err := (ssrf.Config{}).CheckURL(raw); err != nil {
		t.Fatalf("CheckURL: %v", err)
	}
	client := ssrf.NewClient(ssrf.Config{})
	t.Cleanup(client.CloseIdleConnections)
	_, err := client.Get(raw)
	var ae *ssrf.AddrError
	if !errors.As(err, &ae) || ae.Addr != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("err = %v, want an *AddrError for 127.0.0.1", err)
	}
}
