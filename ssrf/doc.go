// Package ssrf keeps mmq's outgoing requests — downloads of inputs submitted
// by URL and webhook deliveries — away from addresses a client must not make
// the server reach: loopback, private and link-local networks (with the
// cloud metadata address 169.254.169.254), multicast, unspecified and other
// special-purpose ranges.
//
// Two checks work together:
//
//   - Config.CheckURL runs when a URL is submitted: http or https only, a
//     host, no credentials, and no host that is a refused IP literal (in
//     any form browsers read as an address: "0x7f000001", "127.1",
//     "0177.0.0.1") or "localhost". It needs no DNS, so it is cheap and gives the client an
//     immediate 400.
//   - NewClient's connections pass through a net.Dialer whose Control
//     function checks the address each socket is about to connect to, after
//     DNS resolution and before any packet is sent. The address checked is
//     the address connected to: nothing resolves the name a second time, so
//     DNS rebinding cannot swap a public address for a private one. Every
//     connection is checked, those opened for redirects too, and redirects
//     are capped and their URLs checked like submitted ones.
//
// The client ignores proxy environment variables: a proxy would connect on
// its side, out of the dialer's sight.
//
// Config.AllowPrivateNetworks turns the address checks off, for development
// and tests whose servers listen on 127.0.0.1; Config.AllowedNetworks lets
// through chosen networks only, such as one internal webhook receiver.
//
// What a refused or failed request reports must not leak what the guard
// protects either: RedactURL, RedactText and RedactError take addresses and
// query strings out of URLs and error text before they are logged or
// stored, and PublicError names a failure's cause in words a client may
// read.
package ssrf
