// Package robots turns one fetch of a host's /robots.txt into the rules a
// crawler must follow, as RFC 9309 specifies.
//
// The parser and matcher are this package's own. github.com/temoto/robotstxt
// does not export a group's rules, and its matcher departs from RFC 9309
// §2.2.2 where the RFC says MUST (wildcard patterns matched anywhere in the
// path, specificity measured on a regular expression, no percent-encoding
// normalisation, a whole file rejected for one bad line). The tests run it
// beside this package and record each difference.
package robots

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxSize is how much of a robots.txt [FromResponse] parses. RFC 9309 §2.5
// requires a crawler to parse at least 500 KiB.
const MaxSize = 500 << 10

// Rules are one host's robots.txt rules for one user agent. They do not
// change once made, so they are safe for concurrent use.
//
// The zero value has no rules: it allows every path, has no crawl delay and
// no reason, as an empty robots.txt would. A nil *Rules is not valid.
type Rules struct {
	rules  []rule // most specific first; see [Rules.Allowed]
	delay  time.Duration
	reason string // non-empty when every path but /robots.txt is disallowed
}

type rule struct {
	pattern string // in the form canon returns, '*' and a final '$' special
	allow   bool
}

// FromResponse returns the rules a crawler with user agent agent must follow,
// given the outcome of fetching /robots.txt: status is the final HTTP status
// after redirects (0 if no response), body the body read and err the
// transport error, if any. It never returns nil.
//
// Following RFC 9309 §2.3.1:
//   - err != nil, even with a status: robots.txt is unreachable, so every
//     path is disallowed. A body cut short by an error may lack rules.
//   - status 0 without an error: as unreachable.
//   - 2xx: body is parsed (see below).
//   - 3xx: the client gave up following redirects, which the RFC (§2.3.1.2)
//     lets a crawler treat as unavailable: every path is allowed.
//   - 4xx, all of 400–499 including 401, 403 and 429: robots.txt is
//     unavailable and the RFC (§2.3.1.3) says the crawler MAY access any
//     resource, so every path is allowed. (Google treats 429 as a server
//     error; the RFC does not, and neither does this package.)
//   - 5xx, and any status HTTP does not define as final (1xx, 600+):
//     unreachable, so every path is disallowed (§2.3.1.4).
//
// When every path is disallowed, [Rules.Reason] says why.
//
// The body is parsed as RFC 9309 §2.1–2.2 describe. The group whose
// user-agent product token equals agent's, compared case-insensitively, is
// followed; if several groups name it, their rules are combined; if none
// does, the groups for "*" are followed; if there are none of those either,
// every path is allowed. agent may be a bare product token or a whole
// User-Agent value: it is reduced to its leading run of letters, '-' and '_',
// so "mybot/1.2 (+https://example.com)" follows the group "mybot", while
// "Mozilla/5.0 (compatible; mybot/1.2)" is the token "Mozilla". An agent
// that reduces to "" (such as "" or "*") follows only the "*" groups. The
// values of User-agent lines in body are reduced the same way, except "*".
//
// Lines that cannot be parsed are skipped and the rest are used, as §2.2
// requires; so are rules before the first User-agent line. An Allow or
// Disallow with an empty value is no rule; one whose value begins with
// neither '/' nor '*' gets a leading '/'.
//
// Only the first [MaxSize] bytes of body are parsed. If body is longer, the
// line that limit cuts is dropped too, so callers need read no more than
// MaxSize+1 bytes.
func FromResponse(agent string, status int, body []byte, err error) *Rules {
	switch {
	case err != nil:
		return &Rules{reason: "robots.txt unreachable: " + err.Error()}
	case status == 0:
		return &Rules{reason: "robots.txt unreachable: no response"}
	case status >= 200 && status <= 299:
		return parse(ProductToken(agent), truncate(body))
	case status >= 300 && status <= 499:
		return &Rules{}
	default:
		return &Rules{reason: fmt.Sprintf("robots.txt answered %d", status)}
	}
}

// Allowed reports whether a URL path may be fetched. path is the URL's
// u.EscapedPath(), plus "?" and u.RawQuery when there is a query; an empty
// path counts as "/". The path "/robots.txt" itself is always allowed (RFC
// 9309 §2.2.2), even when every other path is disallowed.
//
// Matching follows RFC 9309 §2.2.2. Both path and the rules' patterns are
// compared percent-encoded: octets that may not appear in a URI are
// encoded, percent-encoded unreserved characters (letters, digits, "-._~")
// are decoded, and hex digits are upper case; so "/ツ", "/%e3%83%84" and
// "/%E3%83%84" are the same path, as are "/~a" and "/%7Ea", but "/a%2Fb" is
// not "/a/b". Matching is case-sensitive and starts at the first octet of
// the path; a pattern matches a path that begins with it. In a pattern '*'
// matches any run of octets and a final '$' the end of the path; elsewhere
// '$' is itself, and "%2A" and "%24" match a literal '*' and '$' (RFC 9309
// §2.2.3). Of the rules that match, the one with the longest pattern
// (in octets, percent-encoded, counting '*' and '$') wins, Allow winning a
// tie. A path no rule matches is allowed.
func (r *Rules) Allowed(path string) bool {
	if path == "" || path[0] == '?' {
		path = "/" + path
	}
	path = canonPath(path)
	if path == "/robots.txt" {
		return true
	}
	if r.reason != "" {
		return false
	}
	for _, ru := range r.rules {
		if matches(ru.pattern, path) {
			return ru.allow
		}
	}
	return true
}

// CrawlDelay returns the Crawl-delay of the group the agent follows, or 0 if
// it has none. Crawl-delay is not part of RFC 9309 but is widely used. Its
// value is in seconds and may have a fraction ("0.5"); invalid or negative
// values are ignored, values too large for a [time.Duration] are capped at
// the largest one, and of several values the largest counts. Rules that
// allow or disallow everything without parsing a body have no delay.
func (r *Rules) CrawlDelay() time.Duration {
	return r.delay
}

// Reason says, for rules that disallow everything because robots.txt could
// not be read, why: for example "robots.txt answered 503" or "robots.txt
// unreachable: " and the transport error. It is "" for all other rules,
// including a robots.txt that itself disallows everything.
func (r *Rules) Reason() string {
	return r.reason
}

// truncate returns the part of body that is parsed: at most MaxSize bytes,
// without a final line that the limit cuts.
func truncate(body []byte) []byte {
	if len(body) <= MaxSize {
		return body
	}
	if c := body[MaxSize]; c == '\n' || c == '\r' {
		return body[:MaxSize]
	}
	return body[:bytes.LastIndexAny(body[:MaxSize], "\r\n")+1]
}

// ProductToken returns the leading run of the characters RFC 9309 allows in
// a product token (letters, '-' and '_') of s, after blanks.
func ProductToken(s string) string {
	s = strings.TrimLeft(s, " \t")
	end := strings.IndexFunc(s, func(c rune) bool {
		return !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_')
	})
	if end < 0 {
		return s
	}
	return s[:end]
}

// group collects the rules and crawl delay of the groups one agent follows.
type group struct {
	rules []rule
	delay time.Duration
}

// parse returns the rules in body for the product token agent.
func parse(agent string, body []byte) *Rules {
	var (
		specific, global group
		sawSpecific      bool // a group names agent
		inAgents         bool // the last group line was a User-agent line
		isSpecific       bool // the current group names agent
		isGlobal         bool // the current group names "*"
	)
	text := strings.TrimPrefix(string(body), "\uFEFF")
	for line := range strings.FieldsFuncSeq(text, func(c rune) bool { return c == '\n' || c == '\r' }) {
		line, _, _ = strings.Cut(line, "#")
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key, value = strings.ToLower(strings.Trim(key, " \t")), strings.Trim(value, " \t")
		switch key {
		case "user-agent":
			if !inAgents {
				inAgents, isSpecific, isGlobal = true, false, false
			}
			if value == "*" {
				isGlobal = true
			} else if tok := ProductToken(value); tok != "" && strings.EqualFold(tok, agent) {
				isSpecific, sawSpecific = true, true
			}
		case "allow", "disallow", "crawl-delay":
			inAgents = false
			if isSpecific {
				specific.add(key, value)
			}
			if isGlobal {
				global.add(key, value)
			}
		}
	}
	g := global
	if sawSpecific {
		g = specific
	}
	// Most specific first: longest pattern, then Allow before Disallow.
	slices.SortStableFunc(g.rules, func(a, b rule) int {
		if c := cmp.Compare(len(b.pattern), len(a.pattern)); c != 0 || a.allow == b.allow {
			return c
		}
		if a.allow {
			return -1
		}
		return 1
	})
	return &Rules{rules: g.rules, delay: g.delay}
}

// add adds the group line key: value to g.
func (g *group) add(key, value string) {
	if key == "crawl-delay" {
		g.delay = max(g.delay, parseDelay(value))
		return
	}
	if value == "" {
		return
	}
	if value[0] != '/' && value[0] != '*' {
		value = "/" + value
	}
	g.rules = append(g.rules, rule{pattern: canonPattern(value), allow: key == "allow"})
}

// parseDelay returns the Crawl-delay value v, in seconds, as a duration: 0 if
// it is not a number or is negative, the largest duration if it is larger.
func parseDelay(v string) time.Duration {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil && !math.IsInf(f, 1) || !(f >= 0) { // !(f >= 0) is also true of NaN
		return 0
	}
	ns := math.Round(f * float64(time.Second))
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// canonPath and canonPattern return a path and a rule's pattern in the
// form RFC 9309 §2.2.2 compares: octets that are neither unreserved nor
// reserved URI characters percent-encoded (a '%' not starting an escape
// included), escapes of unreserved characters decoded, and hex digits upper
// case. A path's '*' and '$' are encoded too, and so is a pattern's '$'
// anywhere but at its end, so that a pattern's "%2A" and "%24" match a
// literal '*' and '$' in a path (§2.2.3), while its own '*' and final '$'
// keep their special meaning.
func canonPath(s string) string { return canon(s, true) }

func canonPattern(s string) string { return canon(s, false) }

func canon(s string, path bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			if v := unhex(s[i+1])<<4 | unhex(s[i+2]); isUnreserved(v) {
				b.WriteByte(v)
			} else {
				b.WriteString("%" + string(hex[v>>4]) + string(hex[v&15]))
			}
			i += 2
		case c == '*' && path, c == '$' && (path || i < len(s)-1):
			b.WriteString("%" + string(hex[c>>4]) + string(hex[c&15]))
		case isUnreserved(c) || strings.IndexByte(":/?#[]@!$&'()*+,;=", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteString("%" + string(hex[c>>4]) + string(hex[c&15]))
		}
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// matches reports whether pattern matches path from its first octet: '*'
// matches any run of octets, a final '$' the end of path, any other octet
// itself, and a pattern without a final '$' matches every path it begins.
// It takes time proportional to len(pattern)*len(path) at worst.
func matches(pattern, path string) bool {
	end := strings.HasSuffix(pattern, "$")
	if end {
		pattern = pattern[:len(pattern)-1]
	}
	p, s := 0, 0
	star, mark := -1, 0 // the last '*' seen and where in path its match ends
	for s < len(path) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, s
			p++
		case p < len(pattern) && pattern[p] == path[s]:
			p++
			s++
		case p == len(pattern) && !end:
			return true
		case star >= 0:
			mark++
			p, s = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
