package fetch

import "net/http"

// follows reports whether req, or a redirect net/http makes of it, is to
// follow a redirect response: as [FollowRedirects] says for the call's
// requests, else as the Fetcher's [WithFollowRedirects] says.
func (f *Fetcher) follows(req *http.Request) bool {
	if c, ok := req.Context().Value(callKey{}).(*call); ok {
		req = c.req // req may be a redirect, or sent under the attempt's context
	}
	switch ownOf(req).follow {
	case 1:
		return true
	case -1:
		return false
	}
	return !f.stayPut
}

// stayTransport is the outermost transport of the Fetcher's client. For a
// request that does not follow redirects (see Fetcher.follows), it keeps
// the Location of a 3xx response out of net/http's sight, under
// hiddenLocation, so that net/http's redirect loop hands the response back
// as the final one, as it does a 3xx without a Location: it neither parses
// the Location, which would fail the request and drop the response if it
// is not a valid URL ("/100%"), nor asks a 307's or 308's request for its
// body again (GetBody), whose failure would too. Its response's header is
// a copy; showLocation puts the Location back in it before anything else
// sees the response.
type stayTransport struct {
	next http.RoundTripper
	f    *Fetcher
}

// hiddenLocation is the key under which stayTransport keeps a Location.
// No header field read from the wire has a space in its name.
const hiddenLocation = "Location (not followed)"

func (t stayTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.next
	if next == nil {
		next = http.DefaultTransport // as http.Client sends
	}
	resp, err := next.RoundTrip(req)
	if err != nil || resp == nil || resp.StatusCode/100 != 3 || t.f.follows(req) {
		return resp, err
	}
	if loc, ok := resp.Header["Location"]; ok {
		h := resp.Header.Clone()
		delete(h, "Location")
		h[hiddenLocation] = loc
		resp.Header = h
	}
	return resp, nil
}

// CloseIdleConnections passes the call on to the transport wrapped, as
// http.Client does to its own.
func (t stayTransport) CloseIdleConnections() {
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	if c, ok := next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// showLocation puts back in resp's header the Location stayTransport kept
// from net/http, if any.
func showLocation(resp *http.Response) {
	if loc, ok := resp.Header[hiddenLocation]; ok {
		delete(resp.Header, hiddenLocation)
		resp.Header["Location"] = loc
	}
}
