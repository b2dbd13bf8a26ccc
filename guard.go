package fetch

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
)

// blockedPrefixes are the ranges, beyond what netip.Addr's predicates cover,
// that a service fetching user-supplied URLs must not reach.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may embed any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: may embed any IPv4 address
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/32"),       // Teredo
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("ff00::/8"),        // multicast (also below)
	netip.MustParsePrefix("::/128"),          // unspecified (also below)
	netip.MustParsePrefix("::ffff:0:0/96"),   // IPv4-mapped, if not unmapped
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated): may embed any IPv4 address
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated (RFC 2765): may embed any IPv4 address
	netip.MustParsePrefix("2001:10::/28"),    // ORCHID
	netip.MustParsePrefix("2001:20::/28"),    // ORCHIDv2
	netip.MustParsePrefix("5f00::/16"),       // SRv6 SIDs
	netip.MustParsePrefix("3fff::/20"),       // documentation
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
}

// blockedAddr reports whether connecting to a is refused by the guard:
// loopback, private (RFC 1918, unique-local), link-local (169.254.169.254
// among them), CGNAT, unspecified, multicast and other special ranges.
// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
func blockedAddr(a netip.Addr) bool {
	// A zone names an interface, not another address: without it, the
	// prefixes below, which contain no zoned address, would all miss.
	a = a.Unmap().WithZone("")
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsMulticast() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// guardControl returns a net.Dialer Control function that refuses blocked
// addresses unless allow holds them. It sees the address actually dialled,
// after name resolution, for every connection: redirects and DNS answers
// that change between lookups are all checked.
func guardControl(allow []netip.Prefix) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: cannot parse dialled address %q", ErrBlockedAddress, address)
		}
		a := ap.Addr().Unmap()
		if a.Zone() != "" {
			// Only a link-local or loopback address needs a zone, and a
			// zone on any other makes the kernel dial it all the same
			// ("::%lo" is the local host): none is public, and no allow
			// prefix holds one.
			return fmt.Errorf("%w: %s has a zone, which only an address on this machine's links needs", ErrBlockedAddress, a)
		}
		for _, p := range allow {
			if p.Contains(a) {
				return nil
			}
		}
		if blockedAddr(a) {
			return fmt.Errorf("%w: %s is not a public address", ErrBlockedAddress, a)
		}
		return nil
	}
}

// guardedDialer is the dialer of http.DefaultTransport with the guard.
func guardedDialer(allow []netip.Prefix) *net.Dialer {
	return &net.Dialer{Timeout: defaultDialTimeout, KeepAlive: defaultKeepAlive, Control: guardControl(allow)}
}

// guardProxy wraps the transport's Proxy function (http.ProxyFromEnvironment
// in a clone of http.DefaultTransport) so that a request it would send
// through a proxy fails instead, before the proxy is dialled. Through a
// proxy the dialer sees only the proxy's address; the proxy resolves the
// target's name and connects to it itself. Checking the name's addresses
// here first would not hold: the proxy's own lookup may get another answer
// (DNS rebinding). Requests the Proxy function sends direct (NO_PROXY,
// loopback) are unchanged, and checked at dial time.
func guardProxy(proxy func(*http.Request) (*url.URL, error)) func(*http.Request) (*url.URL, error) {
	if proxy == nil {
		return nil
	}
	return func(req *http.Request) (*url.URL, error) {
		u, err := proxy(req)
		if err != nil || u == nil {
			return u, err
		}
		return nil, fmt.Errorf("%w: %s would go through proxy %s, and the guard cannot check the address a proxy connects to", ErrBlockedAddress, req.URL.Host, u.Redacted())
	}
}
