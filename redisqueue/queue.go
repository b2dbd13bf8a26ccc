package redisqueue

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// ErrMalformed marks the result of a stream entry that does not hold a URL
// this package can read (no "url" field, or a "depth" that is not a
// number). The entry is acknowledged like any other, so it is reported
// once, not retried.
var ErrMalformed = errors.New("redisqueue: malformed entry")

// ErrGroupLost says that the consumer group vanished while a worker used
// it: Redis restarted without persistence, or the stream was deleted. The
// entries queued before are lost; the group is made again, empty. A
// worker knows it too when another worker made the group again first: the
// group it finds has another token (see [Queue]).
var ErrGroupLost = errors.New("redisqueue: the consumer group vanished")

// ErrDeliveryLimit marks the result of an entry handed out more times
// than [MaxDeliveries] allows without being acknowledged: it was set aside
// in the dead-letter stream, not fetched again.
var ErrDeliveryLimit = errors.New("redisqueue: entry delivered too many times")

// ErrUnreachable marks an error of a call that got no answer from Redis:
// no connection (a wrong address, a Redis not up yet, or down), or none in
// the client's timeouts. Its message names Redis's address and the cause.
// [Queue.Run] ends with it when its very first call gets no answer (see
// there); once Redis has answered, a worker waits it out instead.
var ErrUnreachable = errors.New("redisqueue: no answer from Redis")

// ErrNoStream says that [Queue.Run], without [Follow], was started on a
// stream that does not exist: nothing was ever added to it (its name may
// be mistyped), or it was deleted. Its message names the stream and
// Redis's address. Run makes nothing then: not the stream, not the group.
var ErrNoStream = errors.New("redisqueue: no such stream")

// A Queue is a list of URLs in a Redis stream, read by a consumer group:
// any number of processes add URLs with [Queue.Add] and fetch them with
// [Queue.Run] (or crawl with [Queue.Frontier]), each URL delivered to one
// of them at a time, at least once. See the package documentation for the
// guarantees.
//
// The stream is the key named stream; the keys of the URLs queued so far
// are kept in the set stream+":seen", entries set aside (see
// [MaxDeliveries]) in the stream stream+":dead", and a random token naming
// each consumer group, written when the group is made, in the hash
// stream+":epoch", so that a worker can tell the group it joined from one
// made again after a loss (see [ErrGroupLost]). On Redis Cluster the four
// must share a slot, so the stream's name must hold a hash tag, as
// "{crawl}" does.
// A Queue is safe for concurrent use.
type Queue struct {
	rdb    redis.UniversalClient
	stream string
	seen   string
	dead   string
	epoch  string // the hash of each group's token, written when it is made
	group  string
	addr   string // where Redis is, for messages; "" if not known
	cfg    config
	runs   atomic.Int64 // consumers made, for their names
}

// New returns a Queue on the stream named stream, read by the consumer
// group named group (created, reading from the stream's start, when first
// needed; the stream too, but by a [Queue.Run] without [Follow], which
// reports a stream that does not exist: see [ErrNoStream]), configured by
// opts. It makes no call to Redis. With a
// [*redis.ClusterClient], stream must hold a hash tag (see [Queue]).
func New(rdb redis.UniversalClient, stream, group string, opts ...Option) (*Queue, error) {
	switch {
	case rdb == nil:
		return nil, errors.New("redisqueue: New: nil Redis client")
	case stream == "":
		return nil, errors.New("redisqueue: New: empty stream name")
	case group == "":
		return nil, errors.New("redisqueue: New: empty group name")
	}
	if _, ok := rdb.(*redis.ClusterClient); ok && !hasHashTag(stream) {
		return nil, fmt.Errorf("redisqueue: New: stream %q: on Redis Cluster the name needs a hash tag, as in %q, so that the stream and its keys %q, %q and %q share a slot", stream, "{"+stream+"}", stream+":seen", stream+":dead", stream+":epoch")
	}
	q := &Queue{rdb: rdb, stream: stream, seen: stream + ":seen", dead: stream + ":dead", epoch: stream + ":epoch", group: group, addr: addrOf(rdb), cfg: defaultConfig()}
	for _, opt := range opts {
		if err := opt(&q.cfg); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// ParseURL splits a queue address, redis://[USER:PASSWORD@]HOST:PORT/STREAM
// (or rediss:// for TLS), into the options of its Redis client and the
// stream's name. The query may set the database (?db=2) and the other
// parameters [redis.ParseURL] knows. A "#", "?", "/" or "@" in the
// password, and a "#" or "?" in the stream's name, must be
// percent-encoded (%23, %3F, %2F, %40): an address with a "#" is refused,
// and so is one whose path starts with a number and a "/", as Redis's
// own URLs name a database (redis://HOST:PORT/2/urls), unless the "/" is
// written %2F. Its errors do not show the password.
func ParseURL(raw string) (opts *redis.Options, stream string, err error) {
	const want = "want redis://HOST:PORT/STREAM"
	shown := redactAddr(raw)
	u, err := url.Parse(raw)
	if err != nil {
		if authorityCutShort(raw) {
			// The password holds a character that ends the address's
			// authority (#, / or ?), and net/url's message quotes it.
			return nil, "", fmt.Errorf("redisqueue: ParseURL(%q): not a URL; %s, with any #, /, ? or @ of the password percent-encoded (%%23, %%2F, %%3F, %%40)", shown, want)
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its message holds raw
		}
		return nil, "", fmt.Errorf("redisqueue: ParseURL(%q): %w; %s", shown, err, want)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, "", fmt.Errorf("redisqueue: ParseURL(%q): scheme must be redis or rediss; %s", shown, want)
	}
	if strings.Contains(raw, "#") {
		// A fragment is no part of the stream's name: "urls#2" would read
		// the stream "urls", another address's.
		return nil, "", fmt.Errorf("redisqueue: ParseURL(%q): a # in the stream's name or the password must be written %%23; %s", shown, want)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, "", fmt.Errorf("redisqueue: ParseURL(%q): port %s is not a port number (1 to 65535)", shown, p)
		}
	}
	stream = strings.TrimPrefix(u.Path, "/")
	if stream == "" {
		return nil, "", fmt.Errorf("redisqueue: ParseURL(%q): no stream name; %s", shown, want)
	}
	if db, rest, ok := strings.Cut(strings.TrimPrefix(u.EscapedPath(), "/"), "/"); ok && isDigits(db) {
		// Redis's own URLs put the database there (redis://HOST:PORT/2):
		// taken as part of the stream's name, it would be database 0's.
		return nil, "", fmt.Errorf("redisqueue: ParseURL(%q): the stream would be %q, in database 0: for database %s, write redis://HOST:PORT/%s?db=%s (for a stream so named, write %s%%2F%s)", shown, stream, db, rest, db, db, rest)
	}
	u.Path, u.RawPath = "", ""
	opts, err = redis.ParseURL(u.String())
	if err != nil {
		return nil, "", fmt.Errorf("redisqueue: ParseURL(%q): %w", shown, err)
	}
	return opts, stream, nil
}

// isDigits reports whether s is a number: digits, at least one.
func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// authorityCutShort reports whether raw's authority, as net/url reads it
// (up to the first "/", "?" or "#" after the "//"), holds no "@" while the
// rest does: what net/url took for the host and port is the start of a
// password holding one of those characters.
func authorityCutShort(raw string) bool {
	i := strings.Index(raw, "//")
	if i < 0 {
		return false
	}
	rest := raw[i+2:]
	end := strings.IndexAny(rest, "/?#")
	return end >= 0 && !strings.Contains(rest[:end], "@") && strings.Contains(rest[end:], "@")
}

// redactAddr is raw, a queue address, as its errors show it: with what
// lies between its "//" and its last "@" hidden but for the user name, as
// in redis://user:xxxxx@host:6379/urls. It looks for the last "@" of all,
// not of the authority as parsed: a password holding a "#", "/" or "?" not
// percent-encoded ends the authority where the user did not mean it to.
func redactAddr(raw string) string {
	i := strings.Index(raw, "//")
	if i < 0 {
		return raw
	}
	rest := raw[i+2:]
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return raw
	}
	user, _, ok := strings.Cut(rest[:at], ":")
	if !ok {
		return raw // a user name alone: nothing secret
	}
	return raw[:i+2] + user + ":xxxxx" + rest[at:]
}

// addBatch is how many URLs one call to Redis queues.
const addBatch = 500

// Add queues every URL urls yields that is not queued already, and
// returns how many it queued. A URL is deduplicated by its key (see
// [Key]) against every URL ever added to the stream, by any process, so
// Add is safe to run again after a failure: it queues only what is
// missing. A string that is not an absolute URL is queued too,
// deduplicated by its text, and its [Queue.Run] result carries the error.
//
// URLs are sent in batches of a few hundred, each queued atomically. On an
// error (Redis unreachable, ctx done) Add returns it with the number
// queued so far; the batch that failed may or may not have been queued.
func (q *Queue) Add(ctx context.Context, urls iter.Seq[string]) (int, error) {
	if err := q.ensureGroup(ctx); err != nil {
		return 0, err
	}
	added := 0
	args := make([]any, 0, 1+5*addBatch)
	send := func() error {
		if len(args) <= 1 {
			return nil
		}
		flags, err := applyScript.Run(ctx, q.rdb, []string{q.stream, q.seen}, args...).Text()
		if err != nil {
			return q.callError(ctx, fmt.Sprintf("adding to %q", q.stream), err)
		}
		added += strings.Count(flags, "1")
		args = args[:1]
		return nil
	}
	args = append(args, q.group)
	for raw := range urls {
		if err := ctx.Err(); err != nil {
			return added, err
		}
		args = append(args, "a", q.keyOf(raw), raw, "0", "")
		if len(args) >= 1+5*addBatch {
			if err := send(); err != nil {
				return added, err
			}
		}
	}
	return added, send()
}

// keyOf is the key raw is deduplicated by: the queue's key of the URL, or,
// for a string that is not an absolute URL, the string itself after a
// NUL, which no URL's key starts with; "" if deduplication is off.
func (q *Queue) keyOf(raw string) string {
	t := strings.TrimSpace(raw)
	u, err := url.Parse(t)
	if err != nil || u.Host == "" {
		if q.cfg.noDedup {
			return ""
		}
		return "\x00" + t
	}
	return q.cfg.key(u)
}

// ensureGroup creates the stream and the group, reading from the start,
// if they do not exist.
func (q *Queue) ensureGroup(ctx context.Context) error {
	if _, err := q.joinGroup(ctx, true); err != nil {
		return q.callError(ctx, fmt.Sprintf("creating group %q of %q", q.group, q.stream), err)
	}
	return nil
}

// joinGroup creates the group, reading from the start, if it does not
// exist, and the stream too if makeStream (else a stream that does not
// exist is an [ErrNoStream], and nothing is made), and returns the group's
// token: a random string written when the group is made (see
// groupScript), so that a worker that finds another token later knows that
// the group it read from was lost and made again, by whichever worker saw
// it missing first.
func (q *Queue) joinGroup(ctx context.Context, makeStream bool) (string, error) {
	token := strconv.FormatUint(rand.Uint64(), 36) + strconv.FormatUint(rand.Uint64(), 36)
	mk := "0"
	if makeStream {
		mk = "1"
	}
	epoch, err := groupScript.Run(ctx, q.rdb, []string{q.stream, q.epoch}, q.group, token, mk).Text()
	if errors.Is(err, redis.Nil) {
		return "", q.noStream()
	}
	if err != nil {
		return "", err
	}
	return epoch, nil
}

// noStream is the error of a worker started on a stream that does not
// exist: an [ErrNoStream] naming the stream and Redis's address.
func (q *Queue) noStream() error {
	at := ""
	if q.addr != "" {
		at = " at " + q.addr
	}
	return fmt.Errorf("%w: %q does not exist in Redis%s: nothing was ever added to it (is its name right?), or it was deleted", ErrNoStream, q.stream, at)
}

// callError is the error of a call to Redis that failed with err while
// doing what: an [ErrUnreachable] naming Redis's address if Redis did not
// answer, else err (Redis's reply, ctx's end, the client closed) with a
// hint (see hint).
func (q *Queue) callError(ctx context.Context, what string, err error) error {
	if isReply(err) || errors.Is(err, redis.ErrClosed) || ctx.Err() != nil {
		return fmt.Errorf("redisqueue: %s: %w%s", what, err, hint(err))
	}
	at := ""
	if q.addr != "" {
		at = " at " + q.addr
	}
	return fmt.Errorf("%w%s, %s: %w", ErrUnreachable, at, what, err)
}

// addrOf is where rdb's Redis is, for messages: its address, or a
// cluster's seed addresses; "" where the client does not say (a Sentinel
// failover client, which asks Sentinel, or a client of another type).
func addrOf(rdb redis.UniversalClient) string {
	switch c := rdb.(type) {
	case *redis.Client:
		if a := c.Options().Addr; a != "FailoverClient" {
			return a
		}
	case *redis.ClusterClient:
		return strings.Join(c.Options().Addrs, ",")
	}
	return ""
}

// permanent reports whether err is an answer of Redis that asking again
// will not change: any error reply (the key holds another type, a command
// the server does not have, such as XPENDING IDLE before Redis 6.2, a
// permission or credentials it refuses, a database it does not have)
// except those that say to wait (see waitCodes). An error that is not
// Redis's answer (no connection, a timeout) is waited out too, but for the
// client's being closed, which nothing undoes.
func permanent(err error) bool {
	if errors.Is(err, redis.ErrClosed) {
		return true // the client was closed: nothing will reopen it
	}
	var rerr redis.Error
	if !errors.As(err, &rerr) || errors.Is(err, redis.Nil) {
		return false
	}
	msg := rerr.Error()
	if unknownInScript(msg) {
		return true
	}
	code, rest, _ := strings.Cut(msg, " ")
	if code == "ERR" && strings.HasPrefix(rest, "Error running script") {
		// Redis before 7.0 reports an error of a command a script called
		// within its own: "ERR Error running script (...): ...: -CODE ...".
		if i := strings.Index(rest, ": -"); i >= 0 {
			msg = rest[i+3:]
			code, _, _ = strings.Cut(msg, " ")
		}
	}
	if waitCodes[code] {
		return false
	}
	for _, p := range waitMessages {
		if strings.HasPrefix(msg, p) {
			return false
		}
	}
	return true
}

// waitCodes are the error codes with which Redis says that the command may
// work later: the server is loading its data, busy with a script, a
// replica or cluster failing over or refusing writes for now, out of
// memory or unable to persist, or short of replicas. NOGROUP, the stream
// or group missing, is waited out too: where the workers meet it, Redis
// lost them (a restart), and they make the group again (see noteLost), as
// they do after UNBLOCKED, a blocked read whose stream was deleted.
var waitCodes = map[string]bool{
	"LOADING": true, "BUSY": true, "MASTERDOWN": true, "TRYAGAIN": true,
	"CLUSTERDOWN": true, "READONLY": true, "NOGROUP": true, "OOM": true,
	"MISCONF": true, "NOREPLICAS": true, "UNBLOCKED": true,
}

// waitMessages are the generic errors (code ERR) that say to wait: too
// many clients are connected for now.
var waitMessages = []string{"ERR max number of clients reached"}

// hint is what to add to err's message to say what to do about it.
func hint(err error) string {
	switch {
	case err == nil:
	case strings.Contains(err.Error(), "unknown command"), unknownInScript(err.Error()):
		return " (redisqueue needs Redis 6.2 or later)"
	case strings.HasPrefix(err.Error(), "CROSSSLOT"):
		return " (on Redis Cluster, give the stream a name with a hash tag, as in {name})"
	case strings.HasPrefix(err.Error(), "MOVED"):
		return " (this Redis is a cluster: use a redis.ClusterClient, and a stream name with a hash tag, as in {name})"
	}
	return ""
}

// unknownInScript reports whether msg is Redis's refusal of a command a
// script called that the server does not have, or of an argument a server
// older than 6.2 does not know (XPENDING's IDLE, an exclusive range).
func unknownInScript(msg string) bool {
	return strings.Contains(msg, "Unknown Redis command called from") || strings.Contains(msg, "Invalid stream ID specified")
}

// hasHashTag reports whether key holds a Redis Cluster hash tag: a "{"
// followed, later, by a "}" with something between them. Only that part
// of the key then decides its slot, so stream and stream+":seen" share one.
func hasHashTag(key string) bool {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return false
	}
	j := strings.IndexByte(key[i+1:], '}')
	return j > 0
}

// isReply reports whether err is Redis's own error reply, rather than no
// answer at all.
func isReply(err error) bool {
	var reply redis.Error
	return errors.As(err, &reply)
}

// isNoGroup reports whether err says the stream or group is missing, as
// after a Redis restart that lost them.
func isNoGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOGROUP")
}

// Stats is a snapshot of a queue, as [Queue.Stats] returns it.
type Stats struct {
	// Entries counts the entries in the stream: those not yet delivered,
	// those pending, and acknowledged ones not yet deleted (workers delete
	// them as they go, unless [KeepAcknowledged]).
	Entries int64
	Pending int64 // delivered to a worker and not yet acknowledged
	Seen    int64 // keys in the deduplication set
	Dead    int64 // entries set aside in the dead-letter stream (see [MaxDeliveries])
	Drained bool  // nothing pending and nothing left to deliver
}

// Stats reads the queue's counts from Redis, all at one instant. It
// changes nothing: a queue that does not exist (never added to, or
// deleted) has no entries and is drained.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	what := fmt.Sprintf("stats of %q", q.stream)
	vals, err := statsScript.Run(ctx, q.rdb, []string{q.stream, q.seen, q.dead}, q.group).Int64Slice()
	if err != nil {
		return Stats{}, q.callError(ctx, what, err)
	}
	if len(vals) != 5 {
		return Stats{}, fmt.Errorf("redisqueue: %s: %d values, want 5", what, len(vals))
	}
	return Stats{Entries: vals[0], Pending: vals[1], Seen: vals[2], Drained: vals[3] == 1, Dead: vals[4]}, nil
}

// Delete removes the stream, with its groups, the set of keys seen, the
// dead-letter stream and the groups' tokens: the queue starts empty again.
// Do it only when no worker uses it.
func (q *Queue) Delete(ctx context.Context) error {
	if err := q.rdb.Del(ctx, q.stream, q.seen, q.dead, q.epoch).Err(); err != nil {
		return q.callError(ctx, fmt.Sprintf("deleting %q", q.stream), err)
	}
	return nil
}

// entry is one stream entry as a worker reads it.
type entry struct {
	id        string
	url       string
	depth     int
	ref       string
	err       error // the entry is malformed, or set aside
	reclaimed bool  // taken over after the visibility timeout
	dead      bool  // set aside: handed out too many times (see MaxDeliveries)
}

// String is the entry's URL, which a Result reports.
func (e entry) String() string { return e.url }

// parseEntry reads a stream message.
func parseEntry(m redis.XMessage, reclaimed bool) entry {
	e := entry{id: m.ID, reclaimed: reclaimed}
	u, ok := m.Values["url"].(string)
	if !ok {
		e.err = fmt.Errorf("%w %s: no url field", ErrMalformed, m.ID)
		return e
	}
	e.url = u
	if d, ok := m.Values["depth"]; ok {
		s, _ := d.(string)
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			e.err = fmt.Errorf("%w %s: depth %q is not a number", ErrMalformed, m.ID, s)
			return e
		}
		e.depth = n
	}
	e.ref, _ = m.Values["ref"].(string)
	return e
}
