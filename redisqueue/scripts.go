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

// drainedScript reports 1 when the group has nothing left: no entry
// pending (delivered and not acknowledged) and none not yet delivered.
// KEYS: the stream. ARGV[1]: the group.
var drainedScript = redis.NewScript(groupInfo + `
local delivered = lastDelivered(KEYS[1], ARGV[1])
if not delivered then return redis.error_reply('NOGROUP no consumer group ' .. ARGV[1]) end
return drained(KEYS[1], ARGV[1], delivered)
`)

// statsScript reads a queue's counts at one instant, without changing
// anything: the entries in the stream, those pending, the keys in the
// set, and 1 if the group is drained. A stream or group that does not
// exist has nothing. KEYS: the stream, the seen set. ARGV[1]: the group.
var statsScript = redis.NewScript(groupInfo + `
local seen = redis.call('SCARD', KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0, seen, 1} end
local len = redis.call('XLEN', KEYS[1])
local delivered = lastDelivered(KEYS[1], ARGV[1])
if not delivered then
  if len == 0 then return {0, 0, seen, 1} end
  return {len, 0, seen, 0}
end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1])[1]
return {len, pending, seen, drained(KEYS[1], ARGV[1], delivered)}
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

// claimScript renews the entries in ARGV[4:] that consumer ARGV[2] still
// holds, setting their idle time to ARGV[3] milliseconds: 0 renews them,
// the visibility timeout releases them to the next worker that looks.
// Entries another consumer has taken over are left alone. KEYS: the
// stream. ARGV[1]: the group. It returns how many it touched.
var claimScript = redis.NewScript(`
local args = {KEYS[1], ARGV[1], ARGV[2], 0}
for i = 4, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if #p > 0 then args[#args+1] = ARGV[i] end
end
local n = #args - 4
if n == 0 then return 0 end
args[#args+1] = 'IDLE'
args[#args+1] = ARGV[3]
args[#args+1] = 'JUSTID'
redis.call('XCLAIM', unpack(args))
return n
`)

// leaveScript removes consumer ARGV[2] from the group if it holds nothing.
// KEYS: the stream. ARGV[1]: the group.
var leaveScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p > 0 then return 0 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
`)
