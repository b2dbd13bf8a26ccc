package main

import (
	"errors"

	"github.com/spf13/pflag"
)

// flagHints says, for flags of curl and wget that fetch does not take,
// what fetch does instead, keyed by the unknown flag: the letter of a
// shorthand, or a long name with its dashes.
var flagHints = map[string]string{
	"L":                 "curl's -L: fetch follows redirects already; --max-redirects sets how many",
	"--location":        "curl's --location: fetch follows redirects already; --max-redirects sets how many",
	"s":                 "curl's -s: fetch's quiet is -q",
	"--silent":          "curl's --silent: fetch's quiet is -q",
	"S":                 "curl's -S: fetch shows errors already: a URL's in its record, the run's on stderr, even with -q",
	"--show-error":      "curl's --show-error: fetch shows errors already: a URL's in its record, the run's on stderr, even with -q",
	"f":                 "curl's -f: a status other than 2xx fails its URL already",
	"--fail":            "curl's --fail: a status other than 2xx fails its URL already",
	"I":                 "curl's -I: use -X HEAD --headers",
	"--head":            "curl's --head: use -X HEAD --headers",
	"--dump-header":     "curl's --dump-header: --headers puts each response's header in its record",
	"--include":         "curl's --include: --headers puts each response's header in its record",
	"v":                 "curl's -v: --headers puts each response's header in its record; errors are in it already",
	"--verbose":         "curl's --verbose: --headers puts each response's header in its record; errors are in it already",
	"A":                 `curl's -A: use -H "User-Agent: ..."`,
	"--user-agent":      `curl's --user-agent: use -H "User-Agent: ..."`,
	"b":                 `curl's -b: use -H "Cookie: ..."`,
	"--cookie":          `curl's --cookie: use -H "Cookie: ..."`,
	"m":                 "curl's -m: --timeout limits each attempt, --total the whole run",
	"--max-time":        "curl's --max-time: --timeout limits each attempt, --total the whole run",
	"--retry":           "curl's --retry: use --retries",
	"w":                 "curl's -w: each record has the status, bytes, duration_ms and attempts; --timings adds time_namelookup and the other phases' times, --headers the header",
	"--write-out":       "curl's --write-out: each record has the status, bytes, duration_ms and attempts; --timings adds time_namelookup and the other phases' times, --headers the header",
	"--connect-timeout": "curl's --connect-timeout: --timeout limits each attempt, connecting included",
	"--compressed":      "curl's --compressed: fetch asks for gzip and decompresses it already",
	"t":                 "wget's -t: use --retries, which counts the tries after the first",
	"--tries":           "wget's --tries: use --retries, which counts the tries after the first",
	"T":                 "wget's -T: use --timeout",
	"P":                 "wget's -P: -O DIR saves the bodies in DIR",
	"--output-file":     "wget's --output-file: -o FILE writes the records to FILE",
	"--mirror":          "wget's --mirror: use -r -l inf (fetch keeps no timestamps)",
	"--accept":          "wget's --accept: use --accept-regex, which -r follows links by",
	"--reject":          "wget's --reject: use --reject-regex, which -r follows no link by",
	"R":                 "wget's -R: use --reject-regex, which -r follows no link by",
	"--domains":         "wget's --domains: with -r, --span-hosts --accept-regex keeps to the domains you name",
	"D":                 "wget's -D: with -r, --span-hosts --accept-regex keeps to the domains you name",
	"--page-requisites": "wget's --page-requisites: -r follows links (<a>, <area>, a refresh), not the images, styles and scripts a page needs",
	"e":                 `curl's -e: use -H "Referer: ..."; wget's -e robots=off is --ignore-robots`,
	"--wait":            "wget's --wait N: --host-rate 1/N spaces the requests to each host (--wait 2 is --host-rate 0.5); --random-wait varies the waits",
}

// flagHint returns what fetch takes in place of the flag of curl or wget
// that pflag's err says is unknown, as " (curl's -L: ...)"; "" for any
// other error.
func flagHint(err error) string {
	ne, ok := errors.AsType[*pflag.NotExistError](err)
	if !ok {
		return ""
	}
	key := ne.GetSpecifiedName()
	if ne.GetSpecifiedShortnames() == "" { // a long name
		key = "--" + key
	}
	if hint, ok := flagHints[key]; ok {
		return " (" + hint + ")"
	}
	return ""
}
