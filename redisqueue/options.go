package redisqueue

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/c989c033/fetch"
)

// Defaults for what no option sets.
const (
	// DefaultVisibility is how long an entry may stay unacknowledged
	// without its worker renewing it before another worker takes it over.
	DefaultVisibility = 30 * time.Second
	// DefaultMaxHeld is how many entries one worker holds at most: read
	// from the stream and not yet acknowledged.
	DefaultMaxHeld = 256
	// DefaultFlushTimeout bounds how long a worker that stops keeps trying
	// to write its last acknowledgements, and to release what it held,
	// while Redis does not answer: a Run whose context ends returns within
	// it and a poll (a quarter of a second at most), whatever Redis does.
	DefaultFlushTimeout = time.Second
	// DefaultMaxDeliveries is how many times an entry is handed to a
	// worker that neither acknowledges nor releases it (see
	// [MaxDeliveries]).
	DefaultMaxDeliveries = 5
)

type config struct {
	consumer   string
	visibility time.Duration
	maxHeld    int
	follow     bool
	key        func(*url.URL) string
	logger     *slog.Logger
	poll       time.Duration // XREADGROUP's BLOCK: how often an idle worker looks again
	flush      time.Duration
	maxDeliver int  // 0: no limit
	keep       bool // do not trim acknowledged entries
	noDedup    bool // Key(nil): nothing is deduplicated
}

func defaultConfig() config {
	host, _ := os.Hostname()
	return config{
		consumer:   host + "-" + strconv.Itoa(os.Getpid()),
		visibility: DefaultVisibility,
		maxHeld:    DefaultMaxHeld,
		key:        fetch.NormalizeURL,
		logger:     slog.New(slog.DiscardHandler),
		poll:       250 * time.Millisecond,
		flush:      DefaultFlushTimeout,
		maxDeliver: DefaultMaxDeliveries,
	}
}

// An Option configures a [Queue] at construction.
type Option func(*config) error

// Consumer names this process in the consumer group; each [Queue.Run] and
// [Queue.Frontier] reads as name/1, name/2, and so on. The default is the
// host name and process id. Two live processes must not share a name.
func Consumer(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("redisqueue: Consumer(\"\"): must not be empty")
		}
		c.consumer = name
		return nil
	}
}

// Visibility sets how long an entry may stay unacknowledged, with its
// worker unheard of, before another worker takes it over (default
// [DefaultVisibility]). A live worker renews the entries it holds every
// third of d, so only a worker that died, or that cannot reach Redis for
// longer than d, loses its entries to another; those entries are then
// fetched twice. A shorter d recovers from a dead worker sooner. A dead
// worker's consumer, once it holds nothing and has been silent for 10 × d,
// is removed from the group by the live workers.
func Visibility(d time.Duration) Option {
	return func(c *config) error {
		if d < 100*time.Millisecond {
			return fmt.Errorf("redisqueue: Visibility(%v): must be at least 100ms", d)
		}
		c.visibility = d
		c.poll = min(250*time.Millisecond, d/4)
		return nil
	}
}

// MaxHeld caps the entries a worker holds, read from the stream and not
// yet acknowledged, at n (default [DefaultMaxHeld]). They are what another
// worker fetches again if this one dies; more of them let the per-host
// scheduler choose among more hosts.
func MaxHeld(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("redisqueue: MaxHeld(%d): must be at least 1", n)
		}
		c.maxHeld = n
		return nil
	}
}

// Follow makes [Queue.Run] wait for new entries when the queue is empty,
// until its context ends, instead of returning.
func Follow() Option {
	return func(c *config) error {
		c.follow = true
		return nil
	}
}

// Key sets the key [Queue.Add] deduplicates URLs by: two URLs with the
// same key are queued once, whoever adds them. The default is
// [fetch.NormalizeURL]. Key(nil) turns deduplication off. A crawl
// ([Queue.Frontier]) uses the crawler's key instead ([fetch.CrawlKey]).
func Key(key func(*url.URL) string) Option {
	return func(c *config) error {
		if key == nil {
			key, c.noDedup = func(*url.URL) string { return "" }, true
		}
		c.key = key
		return nil
	}
}

// Logger sets where the queue reports Redis going away and coming back,
// and entries it could not read; by default it is silent.
func Logger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("redisqueue: Logger(nil)")
		}
		c.logger = l
		return nil
	}
}

// FlushTimeout bounds how long a worker that stops (its Run ends, or the
// crawl closes its Frontier) keeps trying to write its last
// acknowledgements and links, and to release the entries it still holds,
// while Redis does not answer, down or frozen (default
// [DefaultFlushTimeout]): [Queue.Run] and [Frontier.Close] return within
// d of the end of the read under way, whatever Redis does. That read,
// which ends within its poll (a quarter of a second at most; less with a
// short [Visibility]) on a Redis that answers, or a tenth of a second after
// (Redis ends a blocking read on its own timer), is waited for however
// short d is, and for its poll, 200 ms and d at most: only once it has
// ended is what the worker holds known, and released.
// What the worker could not write is not lost:
// the entries stay pending and are delivered again after the visibility
// timeout, to another worker, which fetches again those whose results
// were handed over but not acknowledged. A call to Redis under way when d
// passes, which the Redis client does not cut short, ends in the
// background within the client's own timeouts (its ReadTimeout; a
// blocking read's, BLOCK plus 10 s), or when the client is closed. A
// longer d lets a worker whose Redis comes back in time acknowledge more.
func FlushTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("redisqueue: FlushTimeout(%v): must be positive", d)
		}
		c.flush = d
		return nil
	}
}

// MaxDeliveries sets how many times an entry may be handed to a worker
// that then neither acknowledges nor releases it before it is set aside
// rather than handed out again (default [DefaultMaxDeliveries]); 0 lifts
// the limit. So an entry whose handling kills its worker every time (a
// poison entry) stops at n deaths.
//
// A delivery counts when its worker dies holding the entry, is cut off
// from Redis past the visibility timeout, stops while Redis does not
// answer (see [FlushTimeout]), or panics in the loop body on its result
// (or page); not when the worker releases it unharmed (its Run
// ends, breaks out of the loop, or a crawl ends, while holding it). The
// entries a worker held when it died are taken over as suspects, one at
// a time by each worker, so that one which kills its worker again takes
// no other with it: an entry merely held alongside a poison one is counted
// once or twice, not n times.
//
// An entry set aside is copied to the dead-letter stream stream+":dead",
// with its ID, the group and its deliveries (fields "id", "group",
// "deliveries", then the entry's own), and acknowledged. [Queue.Run]
// yields it as a Result whose Err matches [ErrDeliveryLimit], and a crawl
// as a page with that error, unfetched; [Stats] counts them. To try one
// again, add its fields back to the stream with XADD ([Queue.Add] would
// not: its key is seen).
func MaxDeliveries(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("redisqueue: MaxDeliveries(%d): must be at least 0 (0: no limit)", n)
		}
		c.maxDeliver = n
		return nil
	}
}

// KeepAcknowledged keeps acknowledged entries in the stream. By default a
// worker deletes them (XTRIM MINID) as it goes, every third of the
// visibility timeout and when it stops, so that the stream holds only the
// entries not yet done and a long-running queue does not grow without
// bound; the set of keys seen, which deduplicates, keeps every key
// either way. An entry is deleted only once every consumer group of the
// stream has had it delivered and acknowledged.
//
// Trimming takes the stream to be the queue's: a reader outside its
// consumer groups (XREAD), or a group created later to read from the
// start, does not see what was deleted. Every worker that does not have
// this option trims, for all of them.
func KeepAcknowledged() Option {
	return func(c *config) error {
		c.keep = true
		return nil
	}
}
