// Package redisqueue shares the work of fetching a URL list, or of one
// crawl, between any number of processes, through a Redis stream read by a
// consumer group, with nothing lost when a process dies or Redis restarts.
//
//	opts, stream, _ := redisqueue.ParseURL("redis://127.0.0.1:6379/urls")
//	q, _ := redisqueue.New(redis.NewClient(opts), stream, "fetchers")
//	q.Add(ctx, slices.Values(urls))                      // any process, any time
//	redisqueue.WriteJSONL(os.Stdout, q.Run(ctx, f))      // in each worker
//
//	c, _ := fetch.NewCrawler(f, fetch.CrawlFrontier(q.Frontier())) // one crawl, N processes
//
// Each worker fetches through its own [fetch.Fetcher], so the per-host
// scheduling of the core library applies within each worker; a rate limit
// shared by all of them comes from the redisrate module's Limiter, given to
// every Fetcher with [fetch.WithLimiter] or [fetch.WithHostLimiter].
//
// # Guarantees
//
// Delivery is at least once. A worker reads entries with XREADGROUP and
// holds at most [MaxHeld] of them; an entry is acknowledged (XACK) only
// after its result has been handed over: the loop body of [Queue.Run] has
// returned for it, or, in a crawl, the loop body has returned for its page
// and the links it followed have been written. A worker renews the entries
// it holds every third of the visibility timeout ([Visibility]); those of
// a worker that died are taken over by another (XPENDING, XCLAIM) once the
// timeout has passed since their last renewal, and fetched again. So the
// only duplicates are entries a dead worker held (fetched, or yielded and
// not yet acknowledged), entries of a worker cut off from Redis for
// longer than the visibility timeout, and those a worker held when it
// stopped while Redis did not answer.
//
// A worker that stops (its Run returns, or the crawl closes its Frontier)
// writes its last acknowledgements and releases the entries it still
// holds, which other workers take at once. It waits no longer than
// [FlushTimeout] for that: if Redis does not answer (down, or frozen), the
// worker stops all the same, and what it held is taken over after the
// visibility timeout, as a dead worker's is.
//
// An entry whose handling kills every worker that takes it (a poison
// entry) is handed out at most [MaxDeliveries] times without an
// acknowledgement; then it is set aside in the dead-letter stream
// stream+":dead" and reported, not handed out again. A worker that dies
// counts for the entries it held, which are then taken over one at a time,
// so that a poison entry takes no other with it: a worker holds at most
// one of them, and takes the next as soon as that one is acknowledged. A
// worker that stops unharmed does not count.
//
// Workers delete acknowledged entries from the stream as they go, never
// one that is pending or not yet delivered to some group of the stream, so
// the stream holds what is left to do ([KeepAcknowledged] keeps them).
//
// A worker without [Follow] returns once the queue is drained, at once on
// a stream that exists with nothing left in it. A stream that does not
// exist is another matter, most often a mistyped name: [Queue.Run] makes
// nothing and ends with an error matching [ErrNoStream].
//
// # Deduplication
//
// Every URL added, by [Queue.Add] or by a crawl's links, is deduplicated
// against everything the stream has ever taken in, in every process: its
// key ([fetch.NormalizeURL] by default) is added to a Redis set, the key
// stream+":seen", in the same atomic script that queues it. Measured on
// Redis 7.0 with URLs of about 40 bytes, a key costs about 100 bytes in
// the set (the key's length plus about 60), and an entry about 50 bytes in
// the stream until it is acknowledged and deleted: 100 million URLs need
// about 10 GB, plus the entries not yet done. A Bloom filter would
// need about 1.2 bytes per URL at a 1% false-positive rate, but it would
// silently skip 1% of new URLs, and it needs a Redis module (RedisBloom)
// that stock Redis lacks; the set is exact, and used.
//
// # When Redis is unavailable
//
// A worker whose very first call gets no answer from Redis (a wrong
// address, a Redis not up yet) stops at once with an error matching
// [ErrUnreachable] that names Redis's address and the cause: [Queue.Run]
// yields it as its last Result, a crawl's Frontier returns it from Next.
// Once Redis has answered, workers that lose it stop taking new entries
// and retry with backoff (up to 2 s apart) until Redis answers again,
// then go on; nothing is given up. The entries a
// worker holds are still fetched and their results yielded; their
// acknowledgements, and a crawl's new links, are kept in order in memory and
// written once Redis is back. A fetch refused because the Fetcher's limiter
// is unavailable (as redisrate's fails closed while Redis is down) is not
// a result: the entry is fetched again later. Whether the queue itself
// survives a Redis restart is Redis's business: with appendonly yes and
// appendfsync always, every entry, acknowledgement and key written is on
// disk before Redis answers; without persistence, a restart loses the
// queue, and each worker that had read from it ends with an error matching
// [ErrGroupLost], whichever worker makes the group again. An error reply
// that waiting will not cure (a wrong type, a permission, a database the
// server does not have) is not waited out: [Queue.Run] ends with it.
//
// # Entries
//
// An entry is a stream message with the field "url", and for a crawl
// "depth" and "ref" (the referring page). A message without a url, or with
// a depth that is not a number, is malformed: [Queue.Run] yields it as a
// result whose Err matches [ErrMalformed], and acknowledges it.
package redisqueue
