package redisstore

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
)

// The Lua functions below are the Store's rules. Each runs atomically on
// the Redis server, so every rule that spans several records (an invite
// and a seat, a seat and the room's owner, a room and its invites) holds
// across processes. They are one Redis function library (FUNCTION LOAD,
// Redis 7), loaded by New: the prelude, the key names and helpers, runs
// once when the library loads, not at every call as it would in a script
// sent with EVALSHA, and each call runs only its function's body. Every
// function gets the key prefix as ARGV[1] and builds the other key names
// from it; KEYS[1] names the function's main key so that a cluster client
// routes the call to the right node (all keys of one prefix share a hash
// slot, see WithPrefix).
//
// Times arrive encoded by encTime: "" for the zero time, otherwise the Unix
// nanoseconds as 20 decimal digits. The prelude's earlier compares two of
// them exactly, as two 10-digit numbers: a double cannot hold the
// nanoseconds, and Lua's string < follows the locale Redis runs with. The
// first 14 digits are the Unix milliseconds, used as sorted-set scores
// (exact in a double).

// prelude opens the library: key names and the helpers that keep the
// indexes right. KEYS, ARGV and P are set by each function as it starts
// (Redis runs one function at a time).
const prelude = `
local KEYS, ARGV, P
local function k(kind, id) return P .. kind .. ':' .. id end
local RIDX, IIDX, SIDX, DIDX, NIDX, HBS, NUSERS
-- NUSERS: the users, counted by CreateUser and forgetUser
-- begin sets the call's names. ARGV[1] is the prefix "{name}:" followed by
-- the deployment's epoch as the caller knows it (see Store.call): when
-- the epoch key says otherwise, Redis lost the data the caller knows of
-- (a restart, a flush), and the call fails with 'lost' before it acts.
local A1, EPOCH = nil, ''
local function begin(keys, args)
  KEYS, ARGV = keys, args
  if A1 ~= args[1] then
    A1 = args[1]
    local i = string.find(A1, '}:', 1, true)
    P, EPOCH = string.sub(A1, 1, i + 1), string.sub(A1, i + 2)
    RIDX, IIDX, SIDX, DIDX = P .. 'rooms', P .. 'invites', P .. 'seen', P .. 'detached'
    NIDX, HBS, NUSERS = P .. 'nodes', P .. 'hb', P .. 'nusers'
  end
  if EPOCH ~= '' and redis.call('GET', P .. 'epoch') ~= EPOCH then
    return redis.error_reply('EPCHAT lost')
  end
end
local function fail(code) return redis.error_reply('EPCHAT ' .. code) end
-- earlier tells whether encoded time a is before encoded time b, exactly:
-- it compares the two 10-digit halves as numbers.
local function earlier(a, b)
  if a == b or b == '' then return false end
  if a == '' then return true end
  local ah, bh = tonumber(string.sub(a, 1, 10)), tonumber(string.sub(b, 1, 10))
  if ah ~= bh then return ah < bh end
  return tonumber(string.sub(a, 11)) < tonumber(string.sub(b, 11))
end
local function ms(e)
  if not e or e == '' then return '-inf' end
  return string.sub(e, 1, 14)
end

-- hmget reads many fields in slices, to stay far below Lua's stack limit.
local function hmget(key, fields)
  local out = {}
  for i = 1, #fields, 500 do
    local part = {}
    for j = i, math.min(i + 499, #fields) do part[#part + 1] = fields[j] end
    local vals = redis.call('HMGET', key, unpack(part))
    for j = 1, #part do out[#out + 1] = vals[j] end
  end
  return out
end

-- roomReply is a room and its members in join order: id, owner, limit,
-- created, active, seq, locked (0/1), then id and "joined key\nnickname"
-- per member.
local function roomReply(rid)
  local r = redis.call('HMGET', k('r', rid), 'owner', 'limit', 'created', 'active', 'seq', 'locked')
  local out = {rid, r[1] or '', r[2] or '0', r[3] or '', r[4] or '', r[5] or '0', r[6] or '0'}
  local ids = redis.call('ZRANGE', k('rm', rid), 0, -1)
  local data = hmget(k('rd', rid), ids)
  for i, id in ipairs(ids) do
    out[#out + 1] = id
    out[#out + 1] = data[i] or ' '
  end
  return out
end

-- seat and unseat keep the user's room set and the index of offline seated
-- users (DIDX) in step.
local function seat(uid, rid)
  redis.call('SADD', k('ur', uid), rid)
  local f = redis.call('HMGET', k('u', uid), 'conns', 'det')
  if f[1] and tonumber(f[1]) == 0 then redis.call('ZADD', DIDX, ms(f[2]), uid) end
end
local function unseat(uid, rid)
  redis.call('SREM', k('ur', uid), rid)
  if redis.call('SCARD', k('ur', uid)) == 0 then redis.call('ZREM', DIDX, uid) end
end

-- closeRoom deletes a room with its seats and invites and returns its roomReply.
local function closeRoom(rid)
  local out = roomReply(rid)
  for _, h in ipairs(redis.call('SMEMBERS', k('ri', rid))) do
    redis.call('DEL', k('i', h))
    redis.call('ZREM', IIDX, h)
  end
  local ids = redis.call('ZRANGE', k('rm', rid), 0, -1)
  redis.call('DEL', k('r', rid), k('rm', rid), k('rd', rid), k('ri', rid))
  redis.call('ZREM', RIDX, rid)
  for _, uid in ipairs(ids) do unseat(uid, rid) end
  return out
end

-- leave removes a seat: {room, user, new owner or '', closed 0/1}, or nil
-- when the user holds no seat there.
local function leave(rid, uid)
  local rm = k('rm', rid)
  if not redis.call('ZSCORE', rm, uid) then return nil end
  redis.call('ZREM', rm, uid)
  redis.call('HDEL', k('rd', rid), uid)
  unseat(uid, rid)
  if redis.call('ZCARD', rm) == 0 then
    closeRoom(rid)
    return {rid, uid, '', 1}
  end
  if redis.call('HGET', k('r', rid), 'owner') == uid then
    local first = redis.call('ZRANGE', rm, 0, 0)[1]
    redis.call('HSET', k('r', rid), 'owner', first)
    return {rid, uid, first, 0}
  end
  return {rid, uid, '', 0}
end

-- leaveAll removes the user from every room, as leave does.
local function leaveAll(uid)
  local out = {}
  for _, rid in ipairs(redis.call('SMEMBERS', k('ur', uid))) do
    local res = leave(rid, uid)
    if res then out[#out + 1] = res else unseat(uid, rid) end
  end
  redis.call('ZREM', DIDX, uid)
  return out
end

-- forgetUser removes the user from every room and deletes it with its
-- token and node records; it returns the leave results.
local function forgetUser(uid)
  local left = leaveAll(uid)
  local u = k('u', uid)
  local all = redis.call('HGETALL', u)
  for j = 1, #all, 2 do
    local f = all[j]
    if f == 'tok' then
      redis.call('DEL', k('t', all[j + 1]))
    elseif string.sub(f, 1, 2) == 'd:' then
      redis.call('SREM', k('nd', string.sub(f, 3)), uid)
    elseif string.sub(f, 1, 2) == 'c:' then
      redis.call('SREM', k('n', string.sub(f, 3)), uid)
    end
  end
  redis.call('DEL', u, k('ur', uid))
  redis.call('ZREM', SIDX, uid)
  redis.call('ZREM', DIDX, uid)
  if redis.call('DECR', NUSERS) < 0 then redis.call('SET', NUSERS, 0) end
  return left
end
`

// script is one function of the library; newScript registers it.
type script struct {
	id   int
	body string
}

var (
	registry []*script
	libOnce  sync.Once
	libCode  string // the library, built at the first New
	libName  string // "epchat_" and the first 12 hex digits of the code's SHA-256
)

func newScript(body string) *script {
	sc := &script{id: len(registry), body: body}
	registry = append(registry, sc)
	return sc
}

// library builds the library's code once. Its name, and so every
// function's, carries a hash of the code: processes of two versions of
// this package can share a Redis during a rolling upgrade, each calling
// its own functions.
func library() (code, name string) {
	libOnce.Do(func() {
		var b strings.Builder
		b.WriteString(prelude)
		for _, sc := range registry {
			b.WriteString("\nredis.register_function('@" + itoa(sc.id) + "', function(keys, args)\n")
			b.WriteString("local lost = begin(keys, args)\nif lost then return lost end\n")
			b.WriteString(sc.body)
			b.WriteString("\nend)\n")
		}
		body := b.String()
		sum := sha256.Sum256([]byte(body))
		libName = "epchat_" + hex.EncodeToString(sum[:6])
		libCode = "#!lua name=" + libName + "\n" + strings.ReplaceAll(body, "'@", "'"+libName+"_")
	})
	return libCode, libName
}

// fn is the name the script's function is registered under.
func (sc *script) fn() string {
	_, name := library()
	return name + "_" + itoa(sc.id)
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// scriptCreateUser: ARGV id, nick, token, seen, detached, max users (<= 0:
// no limit).
var scriptCreateUser = newScript(`
local id, tok = ARGV[2], ARGV[4]
if redis.call('EXISTS', k('u', id)) == 1 or redis.call('EXISTS', k('t', tok)) == 1 then
  return fail('exists')
end
local max = tonumber(ARGV[7])
if max > 0 and tonumber(redis.call('GET', NUSERS) or '0') >= max then return fail('toomanyusers') end
redis.call('INCR', NUSERS)
redis.call('HSET', k('u', id), 'nick', ARGV[3], 'tok', tok, 'seen', ARGV[5], 'det', ARGV[6], 'conns', 0)
redis.call('SET', k('t', tok), id)
redis.call('ZADD', SIDX, ms(ARGV[5]), id)
if redis.call('SCARD', k('ur', id)) > 0 then redis.call('ZADD', DIDX, ms(ARGV[6]), id) end
return 'OK'
`)

// scriptUserByToken: ARGV token. Returns id, nick, seen, conns, detached.
var scriptUserByToken = newScript(`
local id = redis.call('GET', k('t', ARGV[2]))
if not id then return fail('notfound') end
local f = redis.call('HMGET', k('u', id), 'nick', 'seen', 'conns', 'det')
if not f[1] then return fail('notfound') end
return {id, f[1], f[2], f[3], f[4]}
`)

// scriptAttach: ARGV user, node, now. Counts the connection on the node.
var scriptAttach = newScript(`
local uid, node, now = ARGV[2], ARGV[3], ARGV[4]
local u = k('u', uid)
local conns = redis.call('HGET', u, 'conns')
if not conns then return fail('notfound') end
redis.call('HINCRBY', u, 'c:' .. node, 1)
redis.call('HINCRBY', u, 'conns', 1)
redis.call('HSET', u, 'seen', now)
redis.call('SADD', k('n', node), uid)
if redis.call('ZADD', NIDX, 'NX', ms(now), node) == 1 then redis.call('HSET', HBS, node, now) end
if conns == '0' then
  redis.call('ZREM', SIDX, uid)
  redis.call('ZREM', DIDX, uid)
end
return 'OK'
`)

// scriptDetach: ARGV user, node, now. Uncounts a connection of the node: a
// live one, or one the node's reaping made dormant.
var scriptDetach = newScript(`
local uid, node, now = ARGV[2], ARGV[3], ARGV[4]
local u = k('u', uid)
if redis.call('EXISTS', u) == 0 then return fail('notfound') end
local c = tonumber(redis.call('HGET', u, 'c:' .. node) or '0')
if c > 0 then
  if c == 1 then
    redis.call('HDEL', u, 'c:' .. node)
    redis.call('SREM', k('n', node), uid)
  else
    redis.call('HINCRBY', u, 'c:' .. node, -1)
  end
  redis.call('HINCRBY', u, 'conns', -1)
else
  local d = tonumber(redis.call('HGET', u, 'd:' .. node) or '0')
  if d == 1 then
    redis.call('HDEL', u, 'd:' .. node)
    redis.call('SREM', k('nd', node), uid)
  elseif d > 1 then
    redis.call('HINCRBY', u, 'd:' .. node, -1)
  end
end
redis.call('HSET', u, 'seen', now)
if redis.call('HGET', u, 'conns') == '0' then
  redis.call('HSET', u, 'det', now)
  redis.call('ZADD', SIDX, ms(now), uid)
  if redis.call('SCARD', k('ur', uid)) > 0 then redis.call('ZADD', DIDX, ms(now), uid) end
end
return 'OK'
`)

// scriptTouch: ARGV user, now.
var scriptTouch = newScript(`
local uid, now = ARGV[2], ARGV[3]
local u = k('u', uid)
local conns = redis.call('HGET', u, 'conns')
if not conns then return fail('notfound') end
redis.call('HSET', u, 'seen', now)
if conns == '0' then redis.call('ZADD', SIDX, ms(now), uid) end
return 'OK'
`)

// scriptCreateRoom: ARGV room, owner, limit, created, active, seq,
// has-owner-member (0/1), member id, member "joined key\nnickname", maxRooms.
var scriptCreateRoom = newScript(`
local rid = ARGV[2]
local r = k('r', rid)
if redis.call('EXISTS', r) == 1 then return fail('exists') end
local seated, mid = ARGV[8] == '1', ARGV[9]
-- Only users are seated.
if seated and redis.call('EXISTS', k('u', mid)) == 0 then return fail('notfound') end
local maxRooms = tonumber(ARGV[11])
if seated and maxRooms > 0 and redis.call('SCARD', k('ur', mid)) >= maxRooms then
  return fail('toomanyrooms')
end
redis.call('HSET', r, 'owner', ARGV[3], 'limit', ARGV[4], 'created', ARGV[5], 'active', ARGV[6], 'seq', ARGV[7], 'jc', 0)
redis.call('ZADD', RIDX, ms(ARGV[6]), rid)
if seated then
  local jc = redis.call('HINCRBY', r, 'jc', 1)
  redis.call('ZADD', k('rm', rid), jc, mid)
  redis.call('HSET', k('rd', rid), mid, ARGV[10])
  seat(mid, rid)
end
return 'OK'
`)

// scriptRoom: ARGV room.
var scriptRoom = newScript(`
if redis.call('EXISTS', k('r', ARGV[2])) == 0 then return fail('notfound') end
return roomReply(ARGV[2])
`)

// scriptRoomsInfo: ARGV room ids. Returns, per room that still exists:
// id, owner, limit, created, active, seq, locked (0/1), member count.
var scriptRoomsInfo = newScript(`
local out = {}
for i = 2, #ARGV do
  local rid = ARGV[i]
  local r = redis.call('HMGET', k('r', rid), 'owner', 'limit', 'created', 'active', 'seq', 'locked')
  if r[2] then
    local n = redis.call('ZCARD', k('rm', rid))
    out[#out + 1] = {rid, r[1] or '', r[2], r[3] or '', r[4] or '', r[5] or '0', r[6] or '0', n}
  end
end
return out
`)

// scriptCloseRoom: ARGV room.
var scriptCloseRoom = newScript(`
if redis.call('EXISTS', k('r', ARGV[2])) == 0 then return fail('notfound') end
return closeRoom(ARGV[2])
`)

// scriptCreateInvite: ARGV token, room, owner-invite (0/1), expires, by,
// now, backstop TTL in ms.
var scriptCreateInvite = newScript(`
local hex, rid, exp, by, now = ARGV[2], ARGV[3], ARGV[5], ARGV[6], ARGV[7]
local f = redis.call('HMGET', k('r', rid), 'owner', 'limit', 'locked')
if not f[2] then return fail('notfound') end
if by ~= '' and f[1] ~= by then return fail('forbidden') end
if f[3] == '1' then return fail('locked') end
local limit = tonumber(f[2])
if redis.call('ZCARD', k('rm', rid)) >= limit then return fail('full') end
local i = k('i', hex)
if redis.call('EXISTS', i) == 1 then return fail('exists') end
local pending = 0
for _, h in ipairs(redis.call('SMEMBERS', k('ri', rid))) do
  local e = redis.call('HGET', k('i', h), 'exp')
  if not e then
    redis.call('SREM', k('ri', rid), h)
  elseif earlier(now, e) then
    pending = pending + 1
  end
end
if pending >= limit then return fail('toomanyinvites') end
redis.call('HSET', i, 'room', rid, 'owner', ARGV[4], 'exp', exp)
redis.call('PEXPIRE', i, ARGV[8])
redis.call('SADD', k('ri', rid), hex)
redis.call('ZADD', IIDX, ms(exp), hex)
return 'OK'
`)

// scriptInvite: ARGV token, now. Returns the invite's room, owner-invite
// (0/1) and expiry, without consuming it.
var scriptInvite = newScript(`
local f = redis.call('HMGET', k('i', ARGV[2]), 'room', 'owner', 'exp')
if not f[1] or not earlier(ARGV[3], f[3]) then return fail('invalid') end
if redis.call('EXISTS', k('r', f[1])) == 0 then return fail('invalid') end
return {f[1], f[2] or '0', f[3]}
`)

// scriptRedeem: ARGV token, member id, member "joined key\nnickname", now,
// maxRooms, nickname key. The key is compared with those of the seats
// (memberValue), in the script, so no racing join seats a look-alike
// between the check and the seat.
var scriptRedeem = newScript(`
local hex, uid, now = ARGV[2], ARGV[3], ARGV[5]
local i = k('i', hex)
local f = redis.call('HMGET', i, 'room', 'owner', 'exp')
if not f[1] or not earlier(now, f[3]) then return fail('invalid') end
local rid = f[1]
local r = k('r', rid)
local rf = redis.call('HMGET', r, 'limit', 'locked')
local limit = rf[1]
if not limit then return fail('invalid') end
if rf[2] == '1' then return fail('locked') end
if redis.call('EXISTS', k('u', uid)) == 0 then return fail('notfound') end -- only users are seated
local rm = k('rm', rid)
if redis.call('ZSCORE', rm, uid) then return fail('already') end
if redis.call('ZCARD', rm) >= tonumber(limit) then return fail('full') end
local maxRooms = tonumber(ARGV[6])
if maxRooms > 0 and redis.call('SCARD', k('ur', uid)) >= maxRooms then return fail('toomanyrooms') end
local key = ARGV[7]
for _, v in ipairs(key ~= '' and redis.call('HVALS', k('rd', rid)) or {}) do
  local sp = string.find(v, ' ', 1, true)
  local nl = sp and string.find(v, '\n', sp + 1, true)
  if nl and string.sub(v, sp + 1, nl - 1) == key then return fail('nicknametaken') end
end
redis.call('DEL', i)
redis.call('SREM', k('ri', rid), hex)
redis.call('ZREM', IIDX, hex)
local jc = redis.call('HINCRBY', r, 'jc', 1)
redis.call('ZADD', rm, jc, uid)
redis.call('HSET', k('rd', rid), uid, ARGV[4])
seat(uid, rid)
if f[2] == '1' and redis.call('HGET', r, 'owner') == '' then redis.call('HSET', r, 'owner', uid) end
return roomReply(rid)
`)

// scriptLeave: ARGV room, user.
var scriptLeave = newScript(`
if redis.call('EXISTS', k('r', ARGV[2])) == 0 then return fail('notfound') end
local res = leave(ARGV[2], ARGV[3])
if not res then return fail('notmember') end
return res
`)

// scriptKick: ARGV room, by, member. The ownership check, the seat and
// the revocation of the room's pending invites are one script.
var scriptKick = newScript(`
local rid, by, uid = ARGV[2], ARGV[3], ARGV[4]
local r = k('r', rid)
if redis.call('EXISTS', r) == 0 then return fail('notfound') end
if by ~= '' and (redis.call('HGET', r, 'owner') ~= by or by == uid) then return fail('forbidden') end
local res = leave(rid, uid)
if not res then return fail('notmember') end
if res[4] == 0 then
  for _, h in ipairs(redis.call('SMEMBERS', k('ri', rid))) do
    redis.call('DEL', k('i', h))
    redis.call('ZREM', IIDX, h)
  end
  redis.call('DEL', k('ri', rid))
end
return res
`)

// scriptSetLocked: ARGV room, by, locked (0/1).
var scriptSetLocked = newScript(`
local rid, by = ARGV[2], ARGV[3]
local r = k('r', rid)
local owner = redis.call('HGET', r, 'owner')
if not owner then return fail('notfound') end
if by ~= '' and owner ~= by then return fail('forbidden') end
redis.call('HSET', r, 'locked', ARGV[4])
return 'OK'
`)

// scriptMessage: ARGV room, user, now, node, op, then optionally the
// publish command (PUBLISH or SPUBLISH), channel, head and tail. Returns the
// new Seq. It is the hot path: it touches the room's two keys only (the
// rooms index catches up in the idle sweep), and it is idempotent: the
// room remembers the last op of each node (o:<node> = "op seq"), so a
// call sent again after a lost reply (go-redis retries a read timeout)
// returns the seq of the first run and neither takes another seq nor
// publishes again. A node's calls for one room are one at a time (the
// Hub holds the room's lock), so the last op is enough. With a publish,
// the event head .. seq .. tail goes out in the same atomic step as the
// seq: no seq is taken without its event.
var scriptMessage = newScript(`
local rid, uid, now, of, op = ARGV[2], ARGV[3], ARGV[4], 'o:' .. ARGV[5], ARGV[6]
local r = k('r', rid)
local f = redis.call('HMGET', r, 'seq', of)
if not f[1] then return fail('notfound') end
if f[2] then
  local last, seq = string.match(f[2], '^(%S+) (%d+)$')
  if last == op then return tonumber(seq) end
end
if not redis.call('ZSCORE', k('rm', rid), uid) then return fail('notmember') end
local seq = redis.call('HINCRBY', r, 'seq', 1)
redis.call('HSET', r, 'active', now, of, op .. ' ' .. seq)
if ARGV[7] then redis.call(ARGV[7], ARGV[8], ARGV[9] .. seq .. ARGV[10]) end
return seq
`)

// scriptMessages: ARGV room, now, node, op, the publish command, channel,
// n, then n times user, head, tail. It is scriptMessage for n messages of
// one room (epchat.MessageBatcher): each recorded if its user holds a
// seat, with the next seq, and the events of those recorded published as
// one batch (length:event, one after the other). Returns the n seqs, 0 for
// a message whose user holds no seat. Idempotent as scriptMessage is: the
// node's last op keeps the seqs it returned.
var scriptMessages = newScript(`
local rid, now, of, op, cmd, ch, n = ARGV[2], ARGV[3], 'o:' .. ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
local r = k('r', rid)
local f = redis.call('HMGET', r, 'seq', of)
if not f[1] then return fail('notfound') end
if f[2] then
  local last, res = string.match(f[2], '^(%S+) (.*)$')
  if last == op then
    local out = {}
    for v in string.gmatch(res, '%d+') do out[#out + 1] = tonumber(v) end
    return out
  end
end
local rm, seq = k('rm', rid), tonumber(f[1])
local out, ev, seated = {}, {}, {}
for i = 0, n - 1 do
  local uid = ARGV[9 + 3 * i]
  local ok = seated[uid]
  if ok == nil then
    ok = redis.call('ZSCORE', rm, uid) ~= false
    seated[uid] = ok
  end
  if ok then
    seq = seq + 1
    out[#out + 1] = seq
    local e = ARGV[10 + 3 * i] .. seq .. ARGV[11 + 3 * i]
    ev[#ev + 1] = #e .. ':' .. e
  else
    out[#out + 1] = 0
  end
end
local done = op .. ' ' .. table.concat(out, ',')
if #ev > 0 then
  redis.call('HSET', r, 'seq', seq, 'active', now, of, done)
  redis.call(cmd, ch, table.concat(ev))
else
  redis.call('HSET', r, of, done)
end
return out
`)

// sweep is the loop shared by the sweeps: it walks the index (a sorted set
// by time) up to the given instant, asks check about each candidate ('act',
// 'skip' to leave it, 'drop' to remove a stale index entry) and acts on at
// most batch of them ('left': check re-indexed it past the instant, which
// counts as work but returns nothing). Acting removes the candidate from the index, so a
// concurrent sweep never sees it again: each item goes to one caller. It
// returns {more (0/1), results...}.
const sweep = `
local function sweep(idx, maxms, batch, check, act)
  local out, acted, skip = {0}, 0, 0
  while acted < batch do
    local ids = redis.call('ZRANGEBYSCORE', idx, '-inf', maxms, 'LIMIT', skip, batch - acted)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      local v = check(id)
      if v == 'act' then
        out[#out + 1] = act(id)
        redis.call('ZREM', idx, id)
        acted = acted + 1
      elseif v == 'drop' then
        redis.call('ZREM', idx, id)
      elseif v == 'left' then
        acted = acted + 1
      else
        skip = skip + 1
      end
    end
  end
  if acted >= batch then out[1] = 1 end
  return out
end
`

// scriptCloseIdle: ARGV before, before ms, batch.
var scriptCloseIdle = newScript(sweep + `
local before = ARGV[2]
return sweep(RIDX, ARGV[3], tonumber(ARGV[4]), function(rid)
  local a = redis.call('HGET', k('r', rid), 'active')
  if not a then return 'drop' end
  if earlier(a, before) then return 'act' end
  -- Message leaves the index behind (it touches the room's keys only):
  -- the room is re-indexed at its ActiveAt here, once per sweep at most.
  local m = ms(a)
  redis.call('ZADD', RIDX, m, rid)
  if ARGV[3] ~= '-inf' and tonumber(m) > tonumber(ARGV[3]) then return 'left' end
  return 'skip'
end, closeRoom)
`)

// scriptVacate: ARGV before, before ms, batch.
var scriptVacate = newScript(sweep + `
local before = ARGV[2]
return sweep(DIDX, ARGV[3], tonumber(ARGV[4]), function(uid)
  local f = redis.call('HMGET', k('u', uid), 'conns', 'det')
  if not f[1] or f[1] ~= '0' or redis.call('SCARD', k('ur', uid)) == 0 then return 'drop' end
  if earlier(f[2], before) then return 'act' end
  return 'skip'
end, function(uid) return {uid, leaveAll(uid)} end)
`)

// scriptForget: ARGV seatless, seatless ms, batch, before. The seen index
// is walked to the later cut, seatless; a user seated somewhere is
// forgotten only before the earlier one.
var scriptForget = newScript(sweep + `
local seatless, before = ARGV[2], ARGV[5]
return sweep(SIDX, ARGV[3], tonumber(ARGV[4]), function(uid)
  local f = redis.call('HMGET', k('u', uid), 'conns', 'seen')
  if not f[1] or f[1] ~= '0' then return 'drop' end
  if earlier(f[2], before) then return 'act' end
  if earlier(f[2], seatless) and redis.call('SCARD', k('ur', uid)) == 0 then return 'act' end
  return 'skip'
end, function(uid) return {uid, forgetUser(uid)} end)
`)

// scriptDeleteUser: ARGV user. Returns the leave results.
var scriptDeleteUser = newScript(`
if redis.call('EXISTS', k('u', ARGV[2])) == 0 then return fail('notfound') end
return forgetUser(ARGV[2])
`)

// scriptExpireInvites: ARGV now, now ms, batch. Returns {more, 1, 1, ...}.
var scriptExpireInvites = newScript(sweep + `
local now = ARGV[2]
return sweep(IIDX, ARGV[3], tonumber(ARGV[4]), function(hex)
  local e = redis.call('HGET', k('i', hex), 'exp')
  if not e then return 'act' end
  if not earlier(now, e) then return 'act' end
  return 'skip'
end, function(hex)
  local i = k('i', hex)
  local rid = redis.call('HGET', i, 'room')
  if rid then redis.call('SREM', k('ri', rid), hex) end
  redis.call('DEL', i)
  redis.call('ZREM', IIDX, hex)
  return 1
end)
`)

// scriptHeartbeat: ARGV node, now, now ms, deadline ms, batch.
//
// It records the node's heartbeat, then, within a budget of batch users:
// revives the node's dormant connections (the node was taken for dead and
// reaped, but it is alive), and reaps nodes whose last heartbeat is before
// the deadline: each connection they counted is moved aside as dormant and
// the user is detached as of that last heartbeat. SPOP hands each user of
// a dead node to one caller, so concurrent reapers never fold a count twice.
// Returns {more (0/1), revived users, reaped users, removed nodes}.
var scriptHeartbeat = newScript(`
local node, now, nowms, deadline = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local budget = tonumber(ARGV[6])
redis.call('ZADD', NIDX, 'GT', nowms, node)
local last = redis.call('HGET', HBS, node)
if not last or earlier(last, now) then redis.call('HSET', HBS, node, now) end

local revived, reaped, removed = 0, 0, 0
while budget > 0 do
  local uids = redis.call('SPOP', k('nd', node), budget)
  if #uids == 0 then break end
  for _, uid in ipairs(uids) do
    budget = budget - 1
    local u = k('u', uid)
    local d = tonumber(redis.call('HGET', u, 'd:' .. node) or '0')
    if d > 0 then
      redis.call('HDEL', u, 'd:' .. node)
      local conns = redis.call('HGET', u, 'conns')
      redis.call('HINCRBY', u, 'c:' .. node, d)
      redis.call('HINCRBY', u, 'conns', d)
      redis.call('SADD', k('n', node), uid)
      if conns == '0' then
        redis.call('ZREM', SIDX, uid)
        redis.call('ZREM', DIDX, uid)
      end
      revived = revived + 1
    end
  end
end

for _, n in ipairs(redis.call('ZRANGEBYSCORE', NIDX, '-inf', '(' .. deadline)) do
  if budget <= 0 then break end
  if n ~= node then
    local h = redis.call('HGET', HBS, n) or ''
    while budget > 0 do
      local uids = redis.call('SPOP', k('n', n), budget)
      if #uids == 0 then break end
      for _, uid in ipairs(uids) do
        budget = budget - 1
        local u = k('u', uid)
        local c = tonumber(redis.call('HGET', u, 'c:' .. n) or '0')
        if c > 0 then
          redis.call('HDEL', u, 'c:' .. n)
          redis.call('HINCRBY', u, 'd:' .. n, c)
          redis.call('SADD', k('nd', n), uid)
          local conns = redis.call('HINCRBY', u, 'conns', -c)
          local f = redis.call('HMGET', u, 'seen', 'det')
          local seen, det = f[1] or '', f[2] or ''
          if earlier(seen, h) then
            seen = h
            redis.call('HSET', u, 'seen', h)
          end
          if conns == 0 then
            if earlier(det, h) then
              det = h
              redis.call('HSET', u, 'det', h)
            end
            redis.call('ZADD', SIDX, ms(seen), uid)
            if redis.call('SCARD', k('ur', uid)) > 0 then redis.call('ZADD', DIDX, ms(det), uid) end
          end
          reaped = reaped + 1
        end
      end
    end
    if redis.call('SCARD', k('n', n)) == 0 then
      redis.call('ZREM', NIDX, n)
      redis.call('HDEL', HBS, n)
      removed = removed + 1
    end
  end
end
local more = 0
if budget <= 0 then more = 1 end
return {more, revived, reaped, removed}
`)

// scriptEpoch: ARGV (the prefix alone) a new epoch. Sets the deployment's
// epoch unless it has one, and returns it.
var scriptEpoch = newScript(`
local e = P .. 'epoch'
redis.call('SET', e, ARGV[2], 'NX')
return redis.call('GET', e)
`)
