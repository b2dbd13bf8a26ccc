package fetch

import (
	"net/url"
	"strings"
)

// Percent-encoding, as URLs found in pages and Locations need it: decoding
// and upper-casing escapes (NormalizeURL), encoding what a request line may
// not hold (requote), and removing dot segments.

// writeEscape writes c to b as a percent-escape with upper-case hex digits.
func writeEscape(b *strings.Builder, c byte) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('%')
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&15])
}

// normalizeEscapes decodes s's percent-escapes of unreserved characters and
// upper-cases the hex digits of the others (RFC 3986 §6.2.2.1-2).
func normalizeEscapes(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' || i+2 >= len(s) || !isHexDigit(s[i+1]) || !isHexDigit(s[i+2]) {
			b.WriteByte(c)
			continue
		}
		v := unhexDigit(s[i+1])<<4 | unhexDigit(s[i+2])
		if 'a' <= v && v <= 'z' || 'A' <= v && v <= 'Z' || '0' <= v && v <= '9' || v == '-' || v == '.' || v == '_' || v == '~' {
			b.WriteByte(v)
		} else {
			writeEscape(&b, v)
		}
		i += 2
	}
	return b.String()
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhexDigit(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// removeDotSegments removes the "." and ".." segments of an absolute path,
// as RFC 3986 §5.2.4 does when it resolves a reference, taking "%2e" for
// "." in them, as the URL Standard does.
func removeDotSegments(p string) string {
	if !strings.HasPrefix(p, "/") || !strings.Contains(p, "/.") && !strings.Contains(p, "/%2e") && !strings.Contains(p, "/%2E") {
		return p
	}
	var out []string // the output's segments, each with its leading "/"
	for in := p; in != ""; {
		// The input's first segment, with its leading "/", and the rest.
		seg, rest := in, ""
		if i := strings.IndexByte(in[1:], '/'); i >= 0 {
			seg, rest = in[:i+1], in[i+1:]
		}
		if strings.IndexByte(seg, '%') >= 0 {
			if d := strings.ReplaceAll(strings.ToLower(seg), "%2e", "."); d == "/." || d == "/.." {
				seg = d
			}
		}
		switch seg {
		case "/.":
			if rest == "" {
				out = append(out, "/")
			}
		case "/..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if rest == "" {
				out = append(out, "/")
			}
		default:
			out = append(out, seg)
		}
		in = rest
	}
	return strings.Join(out, "")
}

// requote percent-encodes, in u's path and query as written, the bytes a
// request-target may not hold (a space, a control, a non-ASCII byte, and
// "<>`{} as browsers do), keeping every escape already there, so that the
// request line is one and "%2F" stays apart from "/". net/http sends a
// query as written, and re-escapes a path it cannot keep from its decoded
// form, which turns "%2F" into "/".
func requote(u *url.URL) {
	u.RawQuery = quoteInvalid(u.RawQuery)
	if u.RawPath != "" {
		u.RawPath = quoteInvalid(u.RawPath)
	}
}

// quoteInvalid returns s with the bytes requote encodes percent-encoded.
func quoteInvalid(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r > 0x7e || invalidInTarget(byte(r)) })
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for j := i; j < len(s); j++ {
		if c := s[j]; c > 0x7e || invalidInTarget(c) {
			writeEscape(&b, c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func invalidInTarget(c byte) bool {
	return c <= ' ' || strings.IndexByte("\"<>`{}", c) >= 0
}
