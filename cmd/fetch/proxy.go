package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/urlredact"
)

// proxyOption returns the Fetcher's option for -x/--proxy's value (see
// parseProxy): "" sends every request direct, whatever HTTP_PROXY and
// HTTPS_PROXY say, as curl -x "" does.
func proxyOption(value string) (fetch.Option, error) {
	if value == "" {
		return fetch.WithProxy(func(*http.Request) (*url.URL, error) { return nil, nil }), nil
	}
	u, err := parseProxy(value)
	if err != nil {
		return nil, err
	}
	return fetch.WithProxy(http.ProxyURL(u)), nil
}

// parseProxy reads -x/--proxy's value as curl reads it:
// [scheme://][user:password@]host[:port], the scheme http if none is given,
// the port 1080 if none is given (443 for https). An error names the flag,
// and shows the value with any password hidden.
func parseProxy(value string) (*url.URL, error) {
	raw := value
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // without the URL, which may hold a password
		}
		if urlredact.CutShort(raw) {
			// The password's / ? or # ended the authority there: the
			// parser's error quotes the start of the password as a port.
			err = urlredact.ErrCutShort
		}
		return nil, fmt.Errorf("-x/--proxy %s: not a valid URL: %v", urlredact.String(raw), err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5" && u.Scheme != "socks5h":
		return nil, fmt.Errorf("-x/--proxy %s: scheme %q not supported (http, https, socks5 or socks5h)", u.Redacted(), u.Scheme)
	case u.Hostname() == "":
		return nil, fmt.Errorf("-x/--proxy %s: no host", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || u.Path != "" && u.Path != "/":
		// A proxy has no path, query or fragment: most likely a password's
		// /, ? or # cut the authority short (user:1234#x@host parses as
		// host user, port 1234), so what follows it is not shown.
		shown := (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
		return nil, fmt.Errorf("-x/--proxy %s…: a proxy URL has no path, query or fragment (a / ? or # in a password must be percent-encoded: %%2F %%3F %%23)", shown)
	case u.Port() == "" && u.Scheme == "https":
		u.Host = net.JoinHostPort(u.Hostname(), "443")
	case u.Port() == "":
		u.Host = net.JoinHostPort(u.Hostname(), "1080")
	}
	return u, nil
}
