// Package hostkey names the host a URL's request goes to as fetch's
// per-host gates count it, for the core and the modules that report on it.
package hostkey

import (
	"net/url"
	"strings"

	"golang.org/x/net/idna"
)

// Of returns u's host key: its host and port, lower-cased, with the name in
// its ASCII form if it is not ASCII (see [ASCIIName]), and without what
// does not change where net/http connects: the scheme's default port, an
// empty port ("a.test:"), a port's leading zeros ("a.test:080" is
// "a.test:80", so "a.test"), and the name's trailing dot ("a.test." is
// "a.test"). So every spelling of one host shares its gates. A name IDNA
// refuses is kept as written, lower-cased.
func Of(u *url.URL) string {
	h := u.Host
	if nonASCII(h) {
		if name, ok := ASCIIName(u.Hostname()); ok {
			if strings.Contains(name, ":") {
				name = "[" + name + "]"
			}
			if i := portColon(h); i >= 0 {
				name += h[i:]
			}
			h = name
		}
	}
	name, port := h, ""
	if i := portColon(h); i >= 0 {
		name, port = h[:i], h[i+1:]
	}
	trimmed := strings.TrimLeft(port, "0")
	if trimmed == "" && port != "" {
		trimmed = "0" // port 0 is no default
	}
	if len(name) > 1 && name[len(name)-1] == '.' && name[0] != '[' {
		name = name[:len(name)-1]
	}
	switch {
	case trimmed == "",
		trimmed == "80" && strings.EqualFold(u.Scheme, "http"),
		trimmed == "443" && strings.EqualFold(u.Scheme, "https"):
		h = name
	case len(name)+1+len(trimmed) != len(h):
		h = name + ":" + trimmed
	}
	return strings.ToLower(h)
}

// portColon returns the index of the colon before host's port, or -1 if it
// has none.
func portColon(host string) int {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || i < strings.LastIndexByte(host, ']') {
		return -1
	}
	return i
}

// lookup maps a host as the URL Standard's domain-to-ASCII does.
var lookup = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false),
	idna.CheckHyphens(false), idna.VerifyDNSLength(false), idna.BidiRule(), idna.CheckJoiners(true))

// ASCIIName returns host, a URL's host name, lower-cased and, if it is not
// ASCII, mapped by IDNA to its ASCII form ("bücher.test" becomes
// "xn--bcher-kva.test"), as a browser sends it; ok is false for a name IDNA
// refuses. An IPv6 address is only lower-cased.
func ASCIIName(host string) (string, bool) {
	h := strings.ToLower(host)
	if strings.Contains(h, ":") || !nonASCII(h) {
		return h, true
	}
	a, err := lookup.ToASCII(h)
	if err != nil || a == "" {
		return "", false
	}
	return a, true
}

func nonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}
