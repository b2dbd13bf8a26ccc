package redisqueue

import "github.com/redis/go-redis/v9"

// applyScript applies a batch of operations in order, atomically.
// KEYS: the stream, the seen set. ARGV[1]: the group; then operations:
//
//	a KEY URL DEPTH REF   queue URL unless KEY ("" for never) is in the set
//	s KEY                 add KEY to the set
//	k ID                  acknowledge entry ID
//
// It returns a string with a character for each "a" and "s" operation, in
// order: "1" if it queued the URL or added the key, "0" if the key was in
// the set.
var applyScript = redis.NewScript(`
local added, i = {}, 2
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'a' then
    local key = ARGV[i+1]
    if key == '' or redis.call('SADD', KEYS[2], key) == 1 then
      local f = {'url', ARGV[i+2]}
      if ARGV[i+3] ~= '0' then f[#f+1] = 'depth'; f[#f+1] = ARGV[i+3] end
      if ARGV[i+4] ~= '' then f[#f+1] = 'ref'; f[#f+1] = ARGV[i+4] end
      redis.call('XADD', KEYS[1], '*', unpack(f))
      added[#added+1] = '1'
    else
      added[#added+1] = '0'
    end
    i = i + 5
  elseif op == 's' then
    added[#added+1] = tostring(redis.call('SADD', KEYS[2], ARGV[i+1]))
    i = i + 2
  elseif op == 'k' then
    redis.call('XACK', KEYS[1], ARGV[1], ARGV[i+1])
    i = i + 2
  else
    return redis.error_reply('redisqueue: unknown operation ' .. tostring(op))
  end
end
return table.concat(added)
`)

// groupScript makes the group, reading from the start, if it does not
// exist, and the stream too if ARGV[3] is "1" (else it returns nil, making
// nothing, if the stream does not exist), and returns the group's token:
// the one in the hash KEYS[2] under the group's name, or ARGV[2], written
// there when the group is made now (or was made without one, by an older
// version). A group made again after a loss (Redis restarted without
// persistence, the stream deleted) so gets a token of its own, whichever
// worker makes it. KEYS: the stream, the hash of tokens. ARGV[1]: the
// group.
var groupScript = redis.NewScript(`
if ARGV[3] ~= '1' and redis.call('EXISTS', KEYS[1]) == 0 then return false end
local made = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
if type(made) == 'table' and made.err then
  if string.sub(made.err, 1, 9) ~= 'BUSYGROUP' then return made end
  local token = redis.call('HGET', KEYS[2], ARGV[1])
  if token then return token end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return ARGV[2]
`)

// drainedScript reports 1 when the group has nothing left: no entry
// pending (delivered and not acknowledged) and none not yet delivered. A
// group that does not exist, or whose token in the hash KEYS[2] is not
// ARGV[2] (it was made again since the worker joined it), is a NOGROUP
// error. KEYS: the stream, the hash of tokens. ARGV[1]: the group.
var drainedScript = redis.NewScript(groupInfo + `
local delivered = lastDelivered(KEYS[1], ARGV[1])
if not delivered then return redis.error_reply('NOGROUP no consumer group ' .. ARGV[1]) end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then
  return redis.error_reply('NOGROUP consumer group ' .. ARGV[1] .. ' was made again since this worker joined it')
end
return drained(KEYS[1], ARGV[1], delivered)
`)

// statsScript reads a queue's counts at one instant, without changing
// anything: the entries in the stream, those pending, the keys in the
// set, 1 if the group is drained, and the entries in the dead-letter
// stream. A stream or group that does not exist has nothing. KEYS: the
// stream, the seen set, the dead-letter stream. ARGV[1]: the group.
var statsScript = redis.NewScript(groupInfo + `
local seen = redis.call('SCARD', KEYS[2])
local dead = 0
if redis.call('EXISTS', KEYS[3]) == 1 then dead = redis.call('XLEN', KEYS[3]) end
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0, seen, 1, dead} end
local len = redis.call('XLEN', KEYS[1])
local delivered = lastDelivered(KEYS[1], ARGV[1])
if not delivered then
  if len == 0 then return {0, 0, seen, 1, dead} end
  return {len, 0, seen, 0, dead}
end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1])[1]
return {len, pending, seen, drained(KEYS[1], ARGV[1], delivered), dead}
`)

// groupInfo is the Lua functions drainedScript and statsScript share.
const groupInfo = `
local function lastDelivered(stream, group)
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local name, delivered
    for j = 1, #g, 2 do
      if g[j] == 'name' then name = g[j+1] elseif g[j] == 'last-delivered-id' then delivered = g[j+1] end
    end
    if name == group then return delivered end
  end
  return nil
end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function drained(stream, group, delivered)
  local p = redis.call('XPENDING', stream, group)
  if p[1] > 0 then return 0 end
  local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  if #last == 0 then return 1 end
  local dm, ds = parse(delivered)
  local lm, ls = parse(last[1][1])
  if dm > lm or (dm == lm and ds >= ls) then return 1 end
  return 0
end
`

// claimScript moves the entries in ARGV[6:] that consumer ARGV[2] still
// holds to consumer ARGV[5], setting their idle time to ARGV[3]
// milliseconds: to itself with 0 renews them; to releasedConsumer with the
// visibility timeout releases them to the next worker that looks, and
// leaves the consumer holding nothing, so that it can leave the group.
// Entries another consumer has taken over are left alone. With ARGV[4]
// "1" (a release), each entry's delivery count is lowered by one, so that
// an entry handed back unharmed does not count toward the delivery limit
// when another worker takes it (see takeOverScript). KEYS: the stream.
// ARGV[1]: the group. It returns how many it touched.
var claimScript = redis.NewScript(`
local held = {KEYS[1], ARGV[1], ARGV[5], 0}
for i = 6, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if #p > 0 then
    if ARGV[4] == '1' then
      redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[5], 0, ARGV[i], 'IDLE', ARGV[3],
        'RETRYCOUNT', math.max(p[1][4] - 1, 0), 'JUSTID')
    end
    held[#held+1] = ARGV[i]
  end
end
local n = #held - 4
if n == 0 or ARGV[4] == '1' then return n end
held[#held+1] = 'IDLE'
held[#held+1] = ARGV[3]
held[#held+1] = 'JUSTID'
redis.call('XCLAIM', unpack(held))
return n
`)

// takeOverScript takes over, for consumer ARGV[2], entries pending for at
// least ARGV[3] milliseconds, looking at up to ARGV[5] of them from ARGV[4]
// on (an ID, or "(ID" for after it), and returns {where the scan goes on,
// "0-0" once it has gone round; entries}, each entry {id, fields,
// deliveries, dead}.
//
// An entry its last worker released (a delivery count of 0, see
// claimScript) is taken at once. One that was handed out and neither
// acknowledged nor released (its worker died, or lost Redis past the
// visibility timeout) is a suspect: it may be what killed its worker. At
// most ARGV[7] suspects are taken (a worker holds one at a time), so that
// one which kills its worker again takes no other with it. A suspect
// already handed out ARGV[6] times (if that is above 0) is not handed out
// again: it is copied to the dead-letter stream KEYS[2], with its ID, the
// group and the times it was handed out ("id", "group", "deliveries"),
// acknowledged, and returned with dead 1. KEYS: the stream, the dead-letter stream. ARGV[1]: the group.
var takeOverScript = redis.NewScript(`
local group, consumer, idle = ARGV[1], ARGV[2], ARGV[3]
local scan, max, suspects = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local p = redis.call('XPENDING', KEYS[1], group, 'IDLE', idle, ARGV[4], '+', scan)
local nxt = '0-0'
if #p == scan then nxt = '(' .. p[#p][1] end
local out = {}
for _, e in ipairs(p) do
  local id, n = e[1], e[4]
  if n == 0 or suspects > 0 then
    if max > 0 and n >= max then
      local m = redis.call('XRANGE', KEYS[1], id, id)
      local fields = {}
      if #m > 0 then fields = m[1][2] end
      local f = {'id', id, 'group', group, 'deliveries', n}
      for j = 1, #fields do f[#f+1] = fields[j] end
      redis.call('XADD', KEYS[2], '*', unpack(f))
      redis.call('XACK', KEYS[1], group, id)
      out[#out+1] = {id, fields, n, 1}
    else
      local m = redis.call('XCLAIM', KEYS[1], group, consumer, idle, id)
      if #m > 0 and m[1] then
        out[#out+1] = {id, m[1][2], n + 1, 0}
        if n > 0 then suspects = suspects - 1 end
      end
    end
  end
end
return {nxt, out}
`)

// trimScript deletes from the stream the entries every group of it has
// had delivered and acknowledged: those below the oldest entry pending
// with any group and up to the last delivered to every group. An entry not
// yet delivered, or pending, is never deleted. KEYS: the stream. It
// returns how many it deleted.
var trimScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local lm, ls
for _, g in ipairs(groups) do
  local name, delivered, pending
  for j = 1, #g, 2 do
    if g[j] == 'name' then name = g[j+1]
    elseif g[j] == 'last-delivered-id' then delivered = g[j+1]
    elseif g[j] == 'pending' then pending = g[j+1] end
  end
  local m, s
  if pending > 0 then
    m, s = parse(redis.call('XPENDING', KEYS[1], name)[2])
  else
    m, s = parse(delivered)
    s = s + 1
  end
  if not lm or m < lm or (m == lm and s < ls) then lm, ls = m, s end
end
if lm == 0 and ls == 0 then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-%d', lm, ls))
`)

// forgetScript removes from the group the consumers that hold nothing and
// have not been heard of (read, claimed) for ARGV[2] milliseconds: those of
// workers that died, whose entries were taken over. A live consumer removed
// so loses nothing: it holds nothing, and its next read adds it again. The
// check and the removal are one atomic step, so no entry is delivered to a
// consumer in between. KEYS: the stream. ARGV[1]: the group. It returns how
// many it removed; 0 if the group does not exist.
var forgetScript = redis.NewScript(`
local cs = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if type(cs) ~= 'table' or cs.err then return 0 end
local after, n = tonumber(ARGV[2]), 0
for _, c in ipairs(cs) do
  local name, pending, idle
  for j = 1, #c, 2 do
    if c[j] == 'name' then name = c[j+1]
    elseif c[j] == 'pending' then pending = c[j+1]
    elseif c[j] == 'idle' then idle = c[j+1] end
  end
  if pending == 0 and idle >= after then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    n = n + 1
  end
end
return n
`)

// leaveScript removes consumer ARGV[2] from the group if it holds nothing,
// and so does it with consumer ARGV[3] (releasedConsumer) once the entries
// released to it have all been taken. KEYS: the stream. ARGV[1]: the group.
var leaveScript = redis.NewScript(`
local n = 0
for i = 2, 3 do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[i])
  if #p == 0 then n = n + redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[i]) end
end
return n
`)
