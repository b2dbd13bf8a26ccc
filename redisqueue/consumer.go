package redisqueue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/c989c033/fetch/internal/ctxsleep"
	"github.com/redis/go-redis/v9"
)

// consumer is one worker's reading side: it takes entries from the group,
// new ones with XREADGROUP and abandoned ones with takeOverScript, never holding
// more than MaxHeld, renews those it holds, and waits out Redis failures.
type consumer struct {
	q    *Queue
	name string
	fail func(error) // told of an error Redis will not get over
	// existing makes the first join refuse a stream that does not exist
	// (ErrNoStream), as Run does without Follow: a worker that would find
	// it drained at once makes nothing, and says why.
	existing bool

	mu       sync.Mutex
	held     map[string]struct{} // read and not yet acknowledged in Redis
	suspect  string              // the held entry taken over from a worker that did not release it, if any (see takeOverScript)
	seen     bool                // a read of the group has worked
	epoch    string              // the token of the group joined (see joinGroup); "" before joining
	lost     error               // the group vanished after a read had worked (see noteLost)
	freed    chan struct{}       // kicked when held shrinks or retry grows
	retry    []retryEntry        // held entries to hand out again
	claimed  time.Time           // when the last take-over scan ended
	cursor   string              // where the take-over scan goes on
	failures int                 // Redis calls failed in a row
}

// retryEntry is an entry to hand out again once due.
type retryEntry struct {
	e     entry
	tries int
	due   time.Time
}

func (q *Queue) newConsumer() *consumer {
	return &consumer{
		q:      q,
		name:   q.cfg.consumer + "/" + strconv.FormatInt(q.runs.Add(1), 10),
		held:   make(map[string]struct{}),
		freed:  make(chan struct{}, 1),
		cursor: "0-0",
	}
}

// next returns the next entries to handle, now held, waiting for them. It
// returns ok false when ctx ends, or, unless follow, when the group is
// drained and busy reports that nothing local is left to write, or when
// Redis refuses a read for good (see permanent), or when the consumer's
// very first call, joining the group, gets no answer (ErrUnreachable) or
// finds no stream to join (ErrNoStream, if existing): all three it tells
// fail. Once Redis has answered, it waits for Redis.
func (c *consumer) next(ctx context.Context, follow bool, busy func() bool) (es []entry, ok bool) {
	for ctx.Err() == nil {
		if es := c.dueRetries(); len(es) > 0 {
			return es, true
		}
		free := c.waitFree(ctx)
		if free < 0 {
			return nil, false
		}
		if free == 0 {
			continue // an entry to hand out again is due
		}
		es, err := c.read(ctx, free)
		if err == nil && len(es) == 0 && !follow && !busy() {
			var n int
			n, err = drainedScript.Run(ctx, c.q.rdb, []string{c.q.stream, c.q.epoch}, c.q.group, c.epochOf()).Int()
			if err == nil && n == 1 {
				return nil, false
			}
			if err != nil {
				err = c.readError(ctx, err)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, ErrNoStream) {
				c.fail(err)
				return nil, false
			}
			// A Redis never reached (a wrong address, or one not up yet) is
			// the caller's to know at once, not to wait on.
			if permanent(err) || c.epochOf() == "" && !isReply(err) {
				c.fail(c.q.callError(ctx, fmt.Sprintf("reading %q as group %q", c.q.stream, c.q.group), err))
				return nil, false
			}
			c.failed(ctx, err)
			continue
		}
		c.recovered()
		c.mu.Lock()
		c.seen = true
		c.mu.Unlock()
		if len(es) > 0 {
			return es, true
		}
	}
	return nil, false
}

// waitFree waits until the consumer may hold more entries and returns how
// many more; or 0 when an entry to hand out again is due, as those held
// are only acknowledged once handed out; or -1 when ctx ends.
func (c *consumer) waitFree(ctx context.Context) int {
	for {
		c.mu.Lock()
		free := c.q.cfg.maxHeld - len(c.held)
		var due time.Time
		for _, r := range c.retry {
			if due.IsZero() || r.due.Before(due) {
				due = r.due
			}
		}
		c.mu.Unlock()
		if free > 0 {
			return free
		}
		var retry <-chan time.Time
		var t *time.Timer
		if !due.IsZero() {
			t = time.NewTimer(time.Until(due))
			retry = t.C
		}
		n := 1
		select {
		case <-c.freed:
		case <-retry:
			n = 0
		case <-ctx.Done():
			n = -1
		}
		if t != nil {
			t.Stop()
		}
		if n <= 0 {
			return n
		}
	}
}

// read takes up to n entries: abandoned ones first, if a scan for them is
// due, then new ones, waiting up to the poll interval for some. While it
// holds a suspect, it waits for new ones not in Redis but here, where the
// suspect's acknowledgement ends the wait (see acked), so that the next
// suspect is taken over at once.
func (c *consumer) read(ctx context.Context, n int) ([]entry, error) {
	q := c.q
	if c.epochOf() == "" {
		if err := c.rejoin(ctx, !c.existing); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	scan := c.cursor != "0-0" || time.Since(c.claimed) >= q.cfg.visibility/4
	cursor := c.cursor
	vetting := c.suspect != ""
	c.mu.Unlock()
	if scan {
		msgs, next, err := c.takeOver(ctx, cursor, n)
		if err != nil {
			return nil, c.readError(ctx, err)
		}
		c.mu.Lock()
		if c.cursor = next; next == "0-0" {
			c.claimed = time.Now()
		}
		c.mu.Unlock()
		if len(msgs) > 0 {
			return c.take(msgs, true), nil
		}
	}
	block := q.cfg.poll
	if vetting {
		block = -1 // no BLOCK: Redis would not answer before the poll ends
	}
	streams, err := q.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: q.group, Consumer: c.name, Streams: []string{q.stream, ">"},
		Count: int64(n), Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		if vetting {
			c.pause(ctx, q.cfg.poll)
		}
		return nil, nil
	}
	if err != nil {
		return nil, c.readError(ctx, err)
	}
	var msgs []redis.XMessage
	for _, s := range streams {
		msgs = append(msgs, s.Messages...)
	}
	taken := make([]takenOver, len(msgs))
	for i, m := range msgs {
		taken[i] = takenOver{XMessage: m, deliveries: 1}
	}
	return c.take(taken, false), nil
}

// takenOver is an entry takeOver took over.
type takenOver struct {
	redis.XMessage
	deliveries int64
	dead       bool // set aside: delivered more than MaxDeliveries times
}

// takeOver takes over up to n entries held past the visibility timeout,
// scanning from cursor, and returns them with where the scan goes on
// ("0-0" once it has gone round). Those delivered too many times come
// back set aside (see takeOverScript).
func (c *consumer) takeOver(ctx context.Context, cursor string, n int) ([]takenOver, string, error) {
	q := c.q
	c.mu.Lock()
	suspects := 0
	if c.suspect == "" {
		suspects = 1
	}
	c.mu.Unlock()
	v, err := takeOverScript.Run(ctx, q.rdb, []string{q.stream, q.dead}, q.group, c.name,
		q.cfg.visibility.Milliseconds(), cursor, n, q.cfg.maxDeliver, suspects).Slice()
	if err != nil {
		if unknownInScript(err.Error()) { // its text does not name the command
			err = fmt.Errorf("taking over abandoned entries (XPENDING IDLE, XCLAIM): %w", err)
		}
		return nil, "", err
	}
	bad := func() ([]takenOver, string, error) {
		return nil, "", fmt.Errorf("redisqueue: unexpected answer to a take-over: %v", v)
	}
	if len(v) != 2 {
		return bad()
	}
	next, ok1 := v[0].(string)
	list, ok2 := v[1].([]any)
	if !ok1 || !ok2 {
		return bad()
	}
	msgs := make([]takenOver, 0, len(list))
	for _, x := range list {
		m, ok := x.([]any)
		if !ok || len(m) != 4 {
			return bad()
		}
		id, _ := m[0].(string)
		fields, _ := m[1].([]any)
		count, _ := m[2].(int64)
		dead, _ := m[3].(int64)
		values := make(map[string]any, len(fields)/2)
		for i := 0; i+1 < len(fields); i += 2 {
			if k, ok := fields[i].(string); ok {
				values[k] = fields[i+1]
			}
		}
		msgs = append(msgs, takenOver{XMessage: redis.XMessage{ID: id, Values: values}, deliveries: count, dead: dead == 1})
	}
	return msgs, next, nil
}

// readError makes the group again if Redis lost it, and returns err, or
// the error of making the group.
func (c *consumer) readError(ctx context.Context, err error) error {
	if isNoGroup(err) {
		c.noteLost(err)
		if gerr := c.rejoin(ctx, true); gerr != nil {
			return gerr
		}
	}
	return err
}

// rejoin makes the group if it does not exist, and the stream if
// makeStream, and takes the group's token as that of the group joined (see
// joinGroup).
func (c *consumer) rejoin(ctx context.Context, makeStream bool) error {
	epoch, err := c.q.joinGroup(ctx, makeStream)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.epoch = epoch
	c.mu.Unlock()
	return nil
}

// epochOf is the token of the group joined; "" before joining.
func (c *consumer) epochOf() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// checkGroup notes the group's loss (see noteLost) if its token is not
// that of the group joined: another worker found the group missing (Redis
// restarted without persistence, or the stream was deleted) and made it
// again, empty, before this one saw it gone. A failure is only logged:
// the next renewal checks again.
func (c *consumer) checkGroup(ctx context.Context) {
	joined := c.epochOf()
	if joined == "" {
		return
	}
	epoch, err := c.q.rdb.HGet(ctx, c.q.epoch, c.q.group).Result()
	if errors.Is(err, redis.Nil) {
		epoch, err = "", nil // the group is missing: lost too
	}
	if err != nil {
		if ctx.Err() == nil {
			c.q.cfg.logger.Debug("redisqueue: checking the group", "consumer", c.name, "err", err)
		}
		return
	}
	if epoch != joined {
		c.noteLost(fmt.Errorf("NOGROUP consumer group %s was made again since this worker joined it", c.q.group))
		if epoch != "" {
			c.mu.Lock()
			c.epoch = epoch // the group now read from
			c.mu.Unlock()
		}
	}
}

// noteLost records err, Redis saying the group is missing, as the group's
// loss if a read of it had worked: the queue's entries are gone, which
// Run and the Frontier report when they end, rather than ending drained
// as if all were done.
func (c *consumer) noteLost(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.seen || c.lost != nil {
		return
	}
	c.lost = fmt.Errorf("%w while this worker ran (Redis restarted without persistence, or %q was deleted): the entries queued before are lost (%v)",
		ErrGroupLost, c.q.stream, err)
	c.q.cfg.logger.Error("redisqueue: consumer group lost", "consumer", c.name, "err", c.lost)
}

// lostErr returns the group's loss, if noteLost saw it.
func (c *consumer) lostErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

// take marks msgs held and parses them. An entry set aside is not held:
// the take-over acknowledged it.
func (c *consumer) take(msgs []takenOver, reclaimed bool) []entry {
	es := make([]entry, 0, len(msgs))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		if _, ok := c.held[m.ID]; ok && reclaimed {
			continue // its own, renewals having failed: it is being handled
		}
		e := parseEntry(m.XMessage, reclaimed)
		switch {
		case m.dead:
			e.dead = true
			times := "times"
			if m.deliveries == 1 {
				times = "time"
			}
			e.err = fmt.Errorf("%w: %s was handed out %d %s, and each time its worker stopped without acknowledging or releasing it; set aside in %q",
				ErrDeliveryLimit, m.ID, m.deliveries, times, c.q.dead)
		case m.deliveries > 1:
			c.suspect = m.ID
			fallthrough
		default:
			c.held[m.ID] = struct{}{}
		}
		es = append(es, e)
	}
	return es
}

// again hands e out again after a pause that grows with its tries.
func (c *consumer) again(e entry, tries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.retry = append(c.retry, retryEntry{e: e, tries: tries, due: time.Now().Add(backoff(tries))})
	c.kick() // a waitFree under way waits for it too
}

// kick wakes a waitFree under way.
func (c *consumer) kick() {
	select {
	case c.freed <- struct{}{}:
	default:
	}
}

// pause waits up to d, or until kicked (see kick), or until ctx ends.
func (c *consumer) pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.freed:
	case <-t.C:
	case <-ctx.Done():
	}
}

// dueRetries takes the entries to hand out again that are due.
func (c *consumer) dueRetries() []entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	var due []entry
	now := time.Now()
	keep := c.retry[:0]
	for _, r := range c.retry {
		if r.due.After(now) {
			keep = append(keep, r)
			continue
		}
		due = append(due, r.e)
	}
	c.retry = keep
	return due
}

// acked forgets ids, acknowledged in Redis.
func (c *consumer) acked(ids []string) {
	if len(ids) == 0 {
		return
	}
	c.mu.Lock()
	for _, id := range ids {
		delete(c.held, id)
		if id == c.suspect {
			// Done with it: another may be taken, at once.
			c.suspect, c.claimed = "", time.Time{}
		}
	}
	c.mu.Unlock()
	c.kick()
}

// heldIDs lists what the consumer holds.
func (c *consumer) heldIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.held))
	for id := range c.held {
		ids = append(ids, id)
	}
	return ids
}

// claimBatch is how many entries one call renews or releases.
const claimBatch = 500

// releasedConsumer holds in the group the entries workers released (see
// claim) until another worker takes them over; no worker is named so.
const releasedConsumer = "(released)"

// claim sets the idle time of the entries the consumer still holds in
// Redis to idle: 0 renews them; the visibility timeout releases them,
// handing them to releasedConsumer, so that the consumer holds nothing
// and can leave the group. A release also takes back their last delivery,
// which did them no harm, unless harmed: that of an entry whose handling
// failed (its loop body panicked) counts toward the delivery limit.
func (c *consumer) claim(ctx context.Context, ids []string, idle time.Duration, harmed bool) error {
	q := c.q
	release, to := "0", c.name
	if idle > 0 {
		to = releasedConsumer
		if !harmed {
			release = "1"
		}
	}
	for len(ids) > 0 {
		n := min(len(ids), claimBatch)
		args := make([]any, 0, 5+n)
		args = append(args, q.group, c.name, idle.Milliseconds(), release, to)
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		if err := claimScript.Run(ctx, q.rdb, []string{q.stream}, args...).Err(); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// renew renews the entries held, every third of the visibility timeout,
// until ctx ends, so that no other worker takes them over, and checks that
// the group is still the one joined (see checkGroup).
func (c *consumer) renew(ctx context.Context) {
	t := time.NewTicker(c.q.cfg.visibility / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := c.claim(ctx, c.heldIDs(), 0, false); err != nil && ctx.Err() == nil {
			c.q.cfg.logger.Debug("redisqueue: renewing held entries", "consumer", c.name, "err", err)
		}
		c.checkGroup(ctx)
		c.trim(ctx)
		c.forget(ctx)
	}
}

// forgetAfter is how long, in visibility timeouts, a consumer that holds
// nothing may go unheard of before the live workers remove it from the
// group (see forget).
const forgetAfter = 10

// forget removes from the group the consumers of workers that died, once
// their entries have been taken over and they have been silent for
// forgetAfter visibility timeouts, so that the group's list of consumers
// (XINFO CONSUMERS) does not grow with every worker ever started. A
// failure is only logged: the next renewal tries again.
func (c *consumer) forget(ctx context.Context) {
	after := forgetAfter * c.q.cfg.visibility
	if err := forgetScript.Run(ctx, c.q.rdb, []string{c.q.stream}, c.q.group, after.Milliseconds()).Err(); err != nil && ctx.Err() == nil {
		c.q.cfg.logger.Debug("redisqueue: removing dead consumers", "consumer", c.name, "err", err)
	}
}

// trim deletes the entries every group has had delivered and
// acknowledged, unless KeepAcknowledged. A failure is only logged: the
// next trim deletes them.
func (c *consumer) trim(ctx context.Context) {
	if c.q.cfg.keep {
		return
	}
	if err := trimScript.Run(ctx, c.q.rdb, []string{c.q.stream}).Err(); err != nil && ctx.Err() == nil {
		c.q.cfg.logger.Debug("redisqueue: deleting acknowledged entries", "consumer", c.name, "err", err)
	}
}

// leave releases what the consumer still holds to the other workers, at
// once, and removes the consumer from the group if it then holds nothing.
// The delivery of harmed, if not "" (the entry whose loop body panicked),
// still counts. It gives up when ctx ends; what it held is then taken over
// after the visibility timeout.
func (c *consumer) leave(ctx context.Context, harmed string) {
	q := c.q
	ids := c.heldIDs()
	if len(ids) == 0 && c.epochOf() == "" {
		return // it never joined: nothing of it is in Redis
	}
	if i := slices.Index(ids, harmed); harmed != "" && i >= 0 {
		ids = slices.Delete(ids, i, i+1)
		if err := c.claim(ctx, []string{harmed}, q.cfg.visibility, true); err != nil {
			q.cfg.logger.Warn("redisqueue: releasing an entry whose handling panicked", "consumer", c.name, "err", err)
		}
	}
	err := c.claim(ctx, ids, q.cfg.visibility, false)
	if err == nil {
		err = leaveScript.Run(ctx, q.rdb, []string{q.stream}, q.group, c.name, releasedConsumer).Err()
	}
	if err == nil {
		c.trim(ctx)
	}
	if err != nil {
		q.cfg.logger.Warn("redisqueue: leaving the group", "consumer", c.name, "err", err)
	}
}

// failed notes a failed call to Redis and waits before the next one.
func (c *consumer) failed(ctx context.Context, err error) {
	c.mu.Lock()
	c.failures++
	n := c.failures
	c.mu.Unlock()
	if n == 1 {
		c.q.cfg.logger.Warn("redisqueue: Redis unavailable; waiting for it", "consumer", c.name, "err", err)
	}
	ctxsleep.Sleep(ctx, backoff(n)) // its error: ctx ended, which the caller checks
}

// recovered notes a call to Redis that worked.
func (c *consumer) recovered() {
	c.mu.Lock()
	n := c.failures
	c.failures = 0
	c.mu.Unlock()
	if n > 0 {
		c.q.cfg.logger.Info("redisqueue: Redis is back", "consumer", c.name, "failures", n)
	}
}

// backoff is the pause after the n-th failure in a row: from 50ms,
// doubling, capped at 2s, with equal jitter.
func backoff(n int) time.Duration {
	d := 2 * time.Second
	if n < 6 {
		d = 50 * time.Millisecond << n
	}
	return d/2 + rand.N(d/2+1)
}
