package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/c989c033/fetch"
	"github.com/c989c033/fetch/internal/urlredact"
	"github.com/c989c033/fetch/redisqueue"
	"github.com/spf13/pflag"
)

// errHelp is returned by parseFlags for -h and --help.
var errHelp = pflag.ErrHelp

// errVersion is returned by parseFlags for --version.
var errVersion = errors.New("version")

// version is the module version the command was built from, as go install
// records it, or "devel" for a build from a checkout.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return strings.TrimPrefix(bi.Main.Version, "v")
	}
	return "devel"
}

// userAgent is the User-Agent the command sends unless -H sets one, as
// curl sends curl/VERSION.
func userAgent() string { return "fetch/" + version() + " (+https://github.com/c989c033/fetch)" }

// limits are the flags that become the Fetcher's options.
type limits struct {
	conc, hostConc, burst, retries, redirects int
	rps, hostRPS                              float64
	randomWait                                bool // --random-wait: vary --host-rate's and Crawl-delay's waits
	timeout                                   time.Duration
	maxBody                                   int64
	limitRate                                 string // --limit-rate as given
	bandwidth                                 int64  // --limit-rate in bytes per second; 0: no cap
	stall                                     bool   // -O or --limit-rate: timeout bounds a stall, not the attempt
}

// newFlagSet defines the command's flags, writing what they set into o and l.
func newFlagSet(o *options, l *limits) *pflag.FlagSet {
	fs := pflag.NewFlagSet("fetch", pflag.ContinueOnError)
	fs.SetOutput(io.Discard) // run reports errors, and prints the help itself
	fs.Usage = func() {}
	fs.SortFlags = false
	fs.SetNormalizeFunc(oldNames)

	fs.StringVarP(&o.input, "input-file", "i", "", "read URLs from `FILE` (- for standard input)")
	fs.StringVar(&o.sitemap, "sitemap", "", "fetch the URLs the sitemaps at `URL` list: a robots.txt's, a sitemap, a sitemap index or a text sitemap, gzipped or not")
	fs.StringVar(&o.queue, "queue", "", "read URLs from the Redis stream at `URL` (below)")
	fs.StringVar(&o.group, "group", "fetch", "consumer group `NAME` of --queue")
	fs.StringVar(&o.enqueue, "enqueue", "", "add the URLs in `FILE` to the stream, and exit")
	fs.DurationVar(&o.visibility, "visibility", redisqueue.DefaultVisibility, "with --queue: how long a dead worker's entries wait to be taken over")
	fs.StringVarP(&o.output, "output", "o", "", "write the JSON lines to `FILE` (- for standard output, as without -o)")
	fs.StringVarP(&o.outputDir, "output-dir", "O", "", "save each 2xx body to its own file in `DIR` (none for -X HEAD)")
	fs.BoolFunc("no-clobber", "with -O: fetch no URL whose file is in DIR already, as wget -nc", setBool(&o.noClobber))
	fs.BoolFunc("continue", "with -O: finish a URL's file in DIR from where it ends, as wget -c", setBool(&o.resume))
	defineCrawlFlags(fs, &o.crawl)
	fs.IntVarP(&l.conc, "concurrency", "c", 32, "most requests in flight")
	fs.IntVar(&l.hostConc, "host-concurrency", 0, "most requests in flight to one host (0: no cap; with -r, 2 unless given)")
	fs.Float64Var(&l.rps, "rate", 0, "most requests per second (0: no limit)")
	fs.Float64Var(&l.hostRPS, "host-rate", 0, "most requests per second to a host (0: no limit)")
	fs.IntVar(&l.burst, "burst", 1, "burst for --rate and --host-rate")
	fs.StringVar(&l.limitRate, "limit-rate", "", "most bytes per second of the bodies of all transfers together (curl's caps each one): `RATE` in bytes, or with k, m or g for KiB, MiB or GiB (0: no limit)")
	fs.BoolFunc("random-wait", "vary each wait of --host-rate, and of -r's Crawl-delay, between 0.5 and 1.5 times, as wget --random-wait", setBool(&l.randomWait))
	fs.IntVar(&l.retries, "retries", 3, "retries after the first attempt (for POST or PATCH, only of a failure to connect, unless -H Idempotency-Key)")
	fs.DurationVar(&l.timeout, "timeout", 30*time.Second, "time limit per attempt; with -O or --limit-rate, per stall, as wget's (0: none)")
	fs.DurationVar(&o.total, "total", 0, "time limit for the whole run (0: none)")
	fs.Int64Var(&l.maxBody, "max-body", fetch.DefaultMaxBodySize, "largest body, in bytes (with -O, without --queue or -r: none unless given)")
	fs.IntVar(&l.redirects, "max-redirects", fetch.DefaultMaxRedirects, "most redirects followed")
	fs.StringVarP(&o.method, "request", "X", "", "HTTP `METHOD` (default GET, or POST with -d)")
	fs.VarP(o.header, "header", "H", "header for every request (repeatable)")
	fs.StringVarP(&o.user, "user", "u", "", "basic auth `USER:PASSWORD` for every request, as curl -u (unless -H sets Authorization)")
	fs.StringVar(&o.cacert, "cacert", "", "verify servers with the CA certificates (PEM) in `FILE`, in place of the system's, as curl --cacert")
	fs.StringVarP(&o.cert, "cert", "E", "", "send the client certificate (PEM) in `FILE`, with its key from --key or from FILE")
	fs.StringVar(&o.key, "key", "", "the private key (PEM) in `FILE` of --cert's certificate")
	fs.BoolFuncP("insecure", "k", "do not verify servers' certificates, as curl -k (for testing only)", setBool(&o.insecure))
	fs.StringVarP(&o.proxy, "proxy", "x", "", "send every request through the proxy at `URL`, as curl -x (\"\": none, whatever HTTP_PROXY says)")
	fs.VarP(dataFlag{&o.data, false}, "data", "d", "request body, as curl -d sends it (repeatable)")
	fs.Var(dataFlag{&o.data, true}, "data-binary", "request body, as curl --data-binary sends it")
	fs.BoolFunc("title", "report the <title> of HTML pages", setBool(&o.title))
	fs.BoolFunc("headers", `put each response's header in its record, as "headers": names in lower case, each with its list of values, as curl's %{header_json}`, setBool(&o.headers))
	fs.BoolFunc("body", `put each response's body in its record, error responses' too: "body" holds it as JSON if it is JSON, else as text if it is UTF-8, else "body_base64" does`, setBool(&o.bodies))
	fs.BoolFunc("timings", `put in each record, as "timings", when each phase of the request that got the response ended, in ms, as curl -w's time_* (below)`, setBool(&o.timings))
	fs.BoolFuncP("quiet", "q", "no progress bar or summary", setBool(&o.quiet))
	fs.BoolFunc("demo", "fetch 3,000 URLs from a local test server (--retries 6 unless given)", setBool(&o.demo))
	fs.BoolFuncP("help", "h", "print this help and exit", setBool(&o.help))
	fs.BoolFunc("version", "print the version and exit", setBool(&o.version))
	return fs
}

// oldNames maps the names of earlier versions to today's.
func oldNames(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	if name == "host-c" {
		name = "host-concurrency"
	}
	return pflag.NormalizedName(name)
}

// usage returns the text -h prints.
func usage() string {
	fs := newFlagSet(&options{header: headers{}}, &limits{})
	return `usage: fetch [flags] [URL...]
       fetch [flags] -r [-l N] [URL...]
       fetch [flags] --queue redis://HOST:PORT/STREAM [--group NAME]
       fetch --queue redis://HOST:PORT/STREAM --enqueue FILE

Fetches every URL, given as arguments, in a file (-i FILE) or on standard
input (- or -i -, or when there are no URL arguments and standard input is
not a terminal), one per line, or listed by a site's sitemaps (--sitemap
URL), and writes one JSON line per URL. A URL without a scheme is fetched
over http, as curl and wget take it: example.com/a is http://example.com/a.
Flags may come before or after the URLs.

` + fs.FlagUsages() + `
With -d and --data-binary, @FILE sends the content of FILE (-d without its
carriage returns, newlines and NUL bytes, as curl -d) and @- that of
standard input; repeated values are joined with &.

With --timings, a record's "timings" says when each phase of one request
ended, in milliseconds from when it asked for a connection: the request
that got the final response, the last attempt's, and after redirects the
last one (curl -L's times run from the first; duration_ms spans the
redirects and the retries). The phases are curl -w's: dns_ms
(time_namelookup), connect_ms (time_connect), tls_ms (time_appconnect,
for https), first_byte_ms (time_starttransfer) and total_ms (time_total:
the body read, or saved with -O). A phase that did not happen is left
out: dns_ms for an IP address, all three for a kept-alive connection,
which says "reused": true. Not with -r or --queue.

-x takes the proxy as curl does, [SCHEME://][USER:PASSWORD@]HOST[:PORT]:
the scheme http if none is given (https, socks5 and socks5h too), the port
1080 if none is given (443 for https).

With -r, the URLs given are where a crawl starts: the links (<a href>,
<area href>, and a <meta http-equiv="refresh">'s URL) of each HTML page
fetched are fetched too, once each, down to -l levels of links, on the
URLs' hosts and their subdomains unless --span-hosts. Each page's record
says its depth and the referrer it was found on. The crawl reads robots.txt
and keeps to it: a URL it disallows is not fetched, and its record says so,
but it is not a failure. Nor does it follow a link marked rel="nofollow",
nor any link of a page whose robots <meta> or X-Robots-Tag header says
nofollow. It sends a host 2 requests at a time unless --host-concurrency
says otherwise; --host-rate spaces them, and so does a robots.txt's
Crawl-delay (--random-wait varies either's waits).

With --queue redis://HOST:PORT/STREAM, any number of fetch processes, on any
machines, share the URLs in a Redis stream as workers of one consumer group,
each fetching its part; each returns once all are done, or at once, with exit
status 2, if the stream does not exist. --enqueue FILE (- for standard input)
adds URLs to the stream, each once however often it is added, and exits; a
line that is not a URL is reported, with its line number, and not added. It
takes --group, --visibility, -q and --total, and refuses the flags of a
worker.

Exit status: 0 if every URL succeeded, 1 if any failed, 2 for a usage error
or an input with no URLs, 130 if interrupted (Ctrl-C), 141 if the reader
of the records went away (head -1), 143 if terminated (SIGTERM).
`
}

// parseFlags reads the command line into options for the command and for
// the Fetcher, and the URLs given as arguments. It returns errHelp for -h.
func parseFlags(argv []string) (options, []fetch.Option, []string, error) {
	o := options{header: headers{}}
	var l limits
	fs := newFlagSet(&o, &l)
	if err := checkDashes(fs, argv); err != nil {
		return o, nil, nil, err
	}
	if err := fs.Parse(argv); err != nil {
		if _, why, ok := strings.Cut(err.Error(), `for "-H, --header" flag: `); ok {
			// pflag quotes the argument, which may hold a credential: say
			// only what is wrong with it.
			return o, nil, nil, fmt.Errorf("-H: %s (see -h)", why)
		}
		return o, nil, nil, fmt.Errorf("%w%s (see -h)", err, flagHint(err))
	}
	if o.help {
		return o, nil, nil, errHelp
	}
	if o.version {
		return o, nil, nil, errVersion
	}
	if o.demo && !fs.Changed("retries") {
		l.retries = demoRetries
	}
	if err := l.check(); err != nil {
		return o, nil, nil, err
	}
	if fs.Changed("limit-rate") {
		n, err := parseRate(l.limitRate)
		if err != nil {
			return o, nil, nil, fmt.Errorf("--limit-rate %q: %w", l.limitRate, err)
		}
		l.bandwidth = n
		if n > 0 {
			// A transfer takes as long as its share of the cap makes it:
			// a time limit on the attempt would cut those the cap slows.
			l.stall = true
		}
	}
	if o.output == "-" { // as curl's -o - and wget's -O -, and as -i - is standard input
		o.output = ""
	}
	if o.outputDir == "-" {
		return o, nil, nil, errors.New("-O -: -O takes a directory to save bodies in; standard output carries the JSON lines")
	}
	if o.bodies && o.outputDir != "" {
		return o, nil, nil, errors.New("--body and -O: -O saves bodies in files, --body in the records: use one")
	}
	if o.noClobber && o.outputDir == "" {
		return o, nil, nil, errors.New("--no-clobber: only with -O/--output-dir DIR, the directory whose files it keeps")
	}
	if o.resume {
		switch {
		case o.outputDir == "":
			return o, nil, nil, errors.New("--continue: only with -O/--output-dir DIR, the directory whose files it finishes")
		case o.noClobber:
			return o, nil, nil, errors.New("--continue and --no-clobber: --no-clobber fetches no URL whose file exists, --continue finishes it: use one")
		case o.header.has("Range"):
			return o, nil, nil, errors.New("--continue and -H Range: --continue asks for the rest of each file itself")
		}
	}
	if o.outputDir != "" {
		// Bodies go to disk, not memory: a download is as large, and takes
		// as long, as it is, as with wget.
		l.stall = true
		if !fs.Changed("max-body") && o.queue == "" && !o.crawl.on { // --queue and -r read each body into memory first
			l.maxBody = math.MaxInt64
		}
	}
	if fs.Changed("burst") && l.rps == 0 && l.hostRPS == 0 {
		return o, nil, nil, fmt.Errorf("--burst %d: applies only with --rate or --host-rate", l.burst)
	}
	if o.total < 0 {
		return o, nil, nil, fmt.Errorf("--total %v: must not be negative", o.total)
	}
	if o.method != "" && !isToken(o.method) {
		return o, nil, nil, fmt.Errorf("-X %q: not a valid HTTP method", o.method)
	}
	if o.method == "" {
		o.method = http.MethodGet
		if len(o.data) > 0 {
			o.method = http.MethodPost // as curl does
		}
	}
	switch {
	case o.method == http.MethodHead && o.title:
		return o, nil, nil, errors.New("-X HEAD and --title: a response to HEAD has no body, so no <title>")
	case o.method == http.MethodHead && o.bodies:
		return o, nil, nil, errors.New("-X HEAD and --body: a response to HEAD has no body to put in the record")
	case o.resume && len(o.data) > 0:
		return o, nil, nil, errors.New("--continue and -d: only a GET without a body can take up a body where it stopped")
	case o.resume && o.method != http.MethodGet:
		return o, nil, nil, fmt.Errorf("--continue and -X %s: only a GET can take up a body where it stopped", o.method)
	}
	if err := o.crawl.check(fs, &o); err != nil {
		return o, nil, nil, err
	}
	if l.randomWait && l.hostRPS == 0 && !o.crawl.on {
		return o, nil, nil, errors.New("--random-wait: applies only with --host-rate, or with -r, whose Crawl-delay it varies")
	}
	if o.crawl.on && !fs.Changed("host-concurrency") {
		l.hostConc = crawlHostConcurrency
	}
	o.concurrency, o.maxBody = l.conc, l.maxBody
	urls := fs.Args()
	if err := o.checkQueue(fs, urls); err != nil {
		return o, nil, nil, err
	}
	switch {
	case o.timings && o.crawl.on:
		return o, nil, nil, errors.New("-r and --timings: a crawl makes its requests itself, and does not time them: use one")
	case o.timings && o.queue != "":
		return o, nil, nil, errors.New("--queue and --timings: --queue makes its requests itself, and does not time them: use one")
	}
	opts := l.options()
	if o.timings {
		opts = append(opts, fetch.WithHooks(fetch.Hooks{OnAttempt: endAttempt}))
	}
	if o.resumes() {
		opts = append(opts, fetch.WithTransportWrapper(func(next http.RoundTripper) http.RoundTripper {
			return resumeTransport{next}
		}))
	}
	if o.outputDir != "" && !slices.ContainsFunc(o.header["Accept-Encoding"], func(v string) bool { return v != "" }) {
		// Bodies are saved as sent, as wget and curl -O save them: net/http
		// would otherwise ask for gzip and save a .tar.gz served with
		// Content-Encoding: gzip as the .tar inside it. It decompresses
		// nothing it did not ask for, so an -H Accept-Encoding is saved as
		// sent too. An -H that sends none or an empty one asks for no
		// encoding, but would leave net/http to ask for gzip.
		delete(o.header, "Accept-Encoding")
		opts = append(opts, fetch.WithHeader("Accept-Encoding", "identity"))
	}
	// The Fetcher's defaults, with or without --queue: a header that may be
	// a credential is held back on a redirect to another domain, and from
	// https to http, as -u's is; Proxy-Authorization goes to the proxy
	// alone (see fetch.WithHeader).
	opts = append(opts, o.header.options()...)
	if fs.Changed("user") {
		// The value is a secret: the error does not repeat it.
		user, pass, ok := strings.Cut(o.user, ":")
		if !ok {
			return o, nil, nil, errors.New("-u/--user: want USER:PASSWORD, with a colon")
		}
		if _, set := o.header["Authorization"]; !set { // -H wins, as with curl
			opts = append(opts, fetch.WithBasicAuth(user, pass))
		}
	}
	if _, set := o.header["User-Agent"]; !set {
		opts = append(opts, fetch.WithHeader("User-Agent", userAgent()))
	}
	if fs.Changed("proxy") {
		opt, err := proxyOption(o.proxy)
		if err != nil {
			return o, nil, nil, err
		}
		opts = append(opts, opt)
	}
	if cfg, err := o.tlsConfig(); err != nil {
		return o, nil, nil, err
	} else if cfg != nil {
		opts = append(opts, fetch.WithTLSConfig(cfg))
	}
	var sitemapURL *url.URL
	if o.sitemap != "" {
		o.sitemap = withScheme(o.sitemap) // as a URL given, example.com/robots.txt is over http
		sitemapURL, _ = url.Parse(o.sitemap)
	}
	switch {
	case o.sitemap != "" && (o.input != "" || o.demo || len(urls) > 0 || o.queue != ""):
		return o, nil, nil, errors.New("--sitemap and -i, --demo, --queue or URL arguments: --sitemap reads the URLs from the sitemaps: use one")
	case o.sitemap != "" && (sitemapURL == nil || sitemapURL.Scheme != "http" && sitemapURL.Scheme != "https" || sitemapURL.Host == ""):
		return o, nil, nil, fmt.Errorf("--sitemap %s: want an http or https URL", urlredact.String(o.sitemap))
	case o.demo && o.input != "":
		return o, nil, nil, errors.New("--demo and -i: --demo fetches URLs of its own: use one")
	case (o.input != "" || o.demo) && len(urls) > 0:
		return o, nil, nil, fmt.Errorf("URLs given both as arguments (%d) and with -i or --demo: use one", len(urls))
	case slices.Contains(urls, "-") && len(urls) > 1:
		return o, nil, nil, errors.New("- (standard input) cannot be mixed with URL arguments")
	}
	return o, opts, urls, nil
}

// check returns an error naming the first flag whose value is out of range.
func (l limits) check() error {
	for _, c := range []struct {
		bad        bool
		flag, want string
		value      any
	}{
		{l.conc < 1 || l.conc > fetch.MaxConcurrency, "-c/--concurrency", fmt.Sprintf("must be between 1 and %d", fetch.MaxConcurrency), l.conc},
		{l.hostConc < 0, "--host-concurrency", "must not be negative (0: no cap)", l.hostConc},
		{!(l.rps >= 0) || math.IsInf(l.rps, 0), "--rate", "must be a number of at least 0 (0: no limit)", l.rps},
		{!(l.hostRPS >= 0) || math.IsInf(l.hostRPS, 0), "--host-rate", "must be a number of at least 0 (0: no limit)", l.hostRPS},
		{l.burst < 1, "--burst", "must be at least 1", l.burst},
		{l.retries < 0, "--retries", "must not be negative", l.retries},
		{l.timeout < 0, "--timeout", "must not be negative (0: none)", l.timeout},
		{l.maxBody < 1, "--max-body", "must be at least 1", l.maxBody},
		{l.redirects < 0, "--max-redirects", "must not be negative", l.redirects},
	} {
		if c.bad {
			return fmt.Errorf("%s %v: %s", c.flag, c.value, c.want)
		}
	}
	return nil
}

// options returns the Fetcher's options for checked limits.
func (l limits) options() []fetch.Option {
	opts := []fetch.Option{
		fetch.WithConcurrency(l.conc),
		fetch.WithRetry(fetch.RetryPolicy{MaxAttempts: l.retries + 1}),
		fetch.WithMaxBodySize(l.maxBody),
		fetch.WithMaxRedirects(l.redirects),
	}
	switch {
	case l.timeout > 0 && l.stall:
		opts = append(opts, fetch.WithStallTimeout(l.timeout))
	case l.timeout > 0:
		opts = append(opts, fetch.WithAttemptTimeout(l.timeout))
	}
	if l.hostConc > 0 {
		opts = append(opts, fetch.WithHostConcurrency(l.hostConc))
	}
	if l.rps > 0 {
		opts = append(opts, fetch.WithRate(fetch.PerSecond(l.rps), l.burst))
	}
	if l.hostRPS > 0 {
		opts = append(opts, fetch.WithHostRate(fetch.PerSecond(l.hostRPS), l.burst))
	}
	if l.bandwidth > 0 {
		opts = append(opts, fetch.WithBandwidth(l.bandwidth))
	}
	if l.randomWait {
		opts = append(opts, fetch.WithHostRateJitter(0.5)) // wget's range
	}
	return opts
}

// parseRate reads a --limit-rate as wget takes it: a number of bytes per
// second, or of KiB, MiB or GiB with a k, m or g after it (either case),
// with a fraction if wanted (1.5m), rounded down to whole bytes.
func parseRate(s string) (int64, error) {
	num, shift := s, 0
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			shift = 10
		case 'm', 'M':
			shift = 20
		case 'g', 'G':
			shift = 30
		}
	}
	if shift > 0 {
		num = s[:len(s)-1]
	}
	whole, frac, dotted := strings.Cut(num, ".")
	if strings.HasPrefix(whole, "-") && isDigits(whole[1:]) && (!dotted || isDigits(frac)) {
		return 0, errors.New("must not be negative (0: no limit)")
	}
	if !isDigits(whole) || dotted && !isDigits(frac) {
		return 0, errors.New("want a number of bytes per second, with k, m or g for KiB, MiB or GiB: 200k, 1.5m")
	}
	if !dotted {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64>>shift {
			return 0, fmt.Errorf("too large: at most %d bytes per second", int64(math.MaxInt64))
		}
		return n << shift, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if f *= float64(int64(1) << shift); err != nil || f >= math.MaxInt64 {
		return 0, fmt.Errorf("too large: at most %d bytes per second", int64(math.MaxInt64))
	}
	if n := int64(f); n > 0 || f == 0 {
		return n, nil
	}
	return 0, errors.New("less than one byte per second (0: no limit)")
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// checkDashes refuses a long flag given with one dash, as the flag package
// of earlier versions took them, rather than let it be read as a run of
// one-letter flags (-demo as -d emo), and wget's -nc, naming the flag it is
// here.
func checkDashes(fs *pflag.FlagSet, argv []string) error {
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			return nil
		case a == "-" || !strings.HasPrefix(a, "-"):
			continue
		case strings.HasPrefix(a, "--"):
			if !strings.Contains(a, "=") && takesValue(fs.Lookup(a[2:])) {
				i++ // its value may start with a dash
			}
			continue
		}
		if a == "-nc" && fs.Lookup("no-clobber") != nil {
			return errors.New("-nc: wget's -nc is --no-clobber here")
		}
		if a == "-np" && fs.Lookup("no-parent") != nil {
			return errors.New("-np: wget's -np is --no-parent here")
		}
		if a == "-c" && fs.Lookup("continue") != nil {
			if i+1 == len(argv) {
				return errors.New("-c: -c is --concurrency here, and needs a number; wget's -c is --continue")
			}
			if _, err := strconv.ParseInt(argv[i+1], 0, 0); err != nil { // as pflag reads an int
				return fmt.Errorf("-c %s: -c is --concurrency here, and takes a number; wget's -c is --continue", argv[i+1])
			}
		}
		if name, _, _ := strings.Cut(a[1:], "="); len(name) > 1 && fs.Lookup(name) != nil {
			return fmt.Errorf("-%s: long flags take two dashes: --%s", name, name)
		}
		for j := 1; j < len(a); j++ { // -qc 4: the first that takes a value takes the rest
			if takesValue(fs.ShorthandLookup(a[j : j+1])) {
				if j == len(a)-1 {
					i++
				}
				break
			}
		}
	}
	return nil
}

// setBool returns the function that sets a bool flag: pflag's BoolFunc
// flags are shown by -h without [=true|false].
func setBool(p *bool) func(string) error {
	return func(v string) (err error) {
		*p, err = strconv.ParseBool(v)
		return err
	}
}

func takesValue(f *pflag.Flag) bool { return f != nil && f.NoOptDefVal == "" }

// headers collects repeated -H flags. As curl takes them, "Name: value"
// adds a value, "Name;" an empty one, and "Name:" with no value removes
// Name, a header the command would send itself included: such a Name is in
// the map with no values.
type headers http.Header

// options returns the Fetcher's options that send the headers with every
// request: a header removed with "Name:" is left out (User-Agent made
// empty, which net/http then leaves out too).
func (h headers) options() []fetch.Option {
	var opts []fetch.Option
	for k, vs := range h {
		if len(vs) == 0 && k == "User-Agent" {
			opts = append(opts, fetch.WithHeader(k, "")) // net/http sends none
		}
		for _, v := range vs {
			opts = append(opts, fetch.WithHeader(k, v))
		}
	}
	return opts
}

// has reports whether -H set the header key (canonical), to a value or to
// none.
func (h headers) has(key string) bool {
	_, ok := h[key]
	return ok
}

func (h headers) String() string { return "" }
func (h headers) Type() string   { return `"Name: value"` }
func (h headers) Set(v string) error {
	k, val, ok := strings.Cut(v, ":")
	empty := false
	if !ok { // curl's "Name;": Name, with no value
		k, empty = strings.CutSuffix(strings.TrimSpace(v), ";")
		if !empty {
			// What was given may be a token without its name: not repeated.
			return errors.New("want \"Name: value\" (or \"Name;\" for an empty value, \"Name:\" for none)")
		}
	}
	k, val = strings.TrimSpace(k), strings.TrimSpace(val)
	switch {
	case (strings.EqualFold(k, "http") || strings.EqualFold(k, "https")) && strings.HasPrefix(val, "//"):
		return errors.New(`a URL, not "Name: value": -H is --header here; wget's -H is --span-hosts`)
	case k == "":
		return errors.New("the header name is empty")
	case !isToken(k):
		return badName(k)
	case strings.ContainsFunc(val, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }):
		// The value, which may be a credential, is not repeated.
		return fmt.Errorf("header %s: the value holds a control character", k)
	}
	k = http.CanonicalHeaderKey(k)
	if val == "" && !empty {
		h[k] = nil // "Name:": send none
		return nil
	}
	h[k] = append(h[k], val)
	return nil
}

// badName returns the error for k, a header name that is not a token. It
// quotes k only up to the character that cannot be in a name: what follows
// may be a credential ("Authorization Bearer key:secret", its colon
// missing).
func badName(k string) error {
	i := strings.IndexFunc(k, notToken)
	r, _ := utf8.DecodeRuneInString(k[i:])
	if i == 0 {
		return fmt.Errorf("a header name cannot start with %q", r)
	}
	return fmt.Errorf("header name %q is followed by %q, which a name cannot hold", k[:i], r)
}

// isToken reports whether s is an HTTP token, as a header name or a method
// must be.
func isToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s, notToken)
}

// notToken reports whether r cannot be in an HTTP token.
func notToken(r rune) bool {
	return r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}

// dataPart is the value of one -d or --data-binary flag.
type dataPart struct {
	value  string
	binary bool // --data-binary: @FILE as it is
}

// dataFlag appends -d and --data-binary values, in the order given, to one
// list.
type dataFlag struct {
	parts  *[]dataPart
	binary bool
}

func (d dataFlag) String() string { return "" }
func (d dataFlag) Type() string   { return "DATA" }
func (d dataFlag) Set(v string) error {
	*d.parts = append(*d.parts, dataPart{v, d.binary})
	return nil
}
