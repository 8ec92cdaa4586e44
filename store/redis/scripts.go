package redis

import goredis "github.com/redis/go-redis/v9"

// Every write is one Lua script: Redis runs a script alone (no other command
// interleaves) and, since Redis 7, appends its effects to the AOF wrapped in
// MULTI/EXEC, so a crash leaves all of a script's writes or none.
//
// Every script takes ARGV[1] = key prefix and ARGV[2] = the writer's fencing
// epoch (0: not fenced), and returns an integer: a non-negative result, or one
// of the negative codes below. Keys are built inside the scripts from the
// prefix, so the store needs a standalone server (not Redis Cluster).

// Result codes of the scripts.
const (
	codeNotFound = -1
	codeConflict = -2
	codeFenced   = -3
	codeNoRecord = -4
	codeLocked   = -5
	codeExists   = -6 // a job has the submit key
)

// prelude checks the fence and defines the index helpers. Ids are decimal
// strings; an index entry's score is the id (the ended index: the end time
// in whole seconds, computed by the caller). index queues its ZADDs so that
// an array's tasks go into each index a thousand per call: flush sends what
// is left, and every script that indexes ends with it.
const prelude = `
local p, epoch = ARGV[1], tonumber(ARGV[2])
if epoch > 0 and tonumber(redis.call('GET', p .. 'epoch') or '0') > epoch then
  return -3
end
local queued = {}
local function zadd(key, score, id)
  local q = queued[key]
  if not q then q = {}; queued[key] = q end
  q[#q + 1] = score
  q[#q + 1] = id
  if #q >= 2000 then
    redis.call('ZADD', key, unpack(q))
    queued[key] = nil
  end
end
local function flush()
  for key, q in pairs(queued) do redis.call('ZADD', key, unpack(q)) end
  queued = {}
end
local function index(id, uid, state, parent, endedScore)
  zadd(p .. 'uid:' .. uid, id, id)
  zadd(p .. 'state:' .. state, id, id)
  if parent ~= '0' then zadd(p .. 'parent:' .. parent, id, id) end
  if endedScore ~= '' then zadd(p .. 'ended', endedScore, id) end
end
local function unindex(id, uid, state, parent)
  redis.call('ZREM', p .. 'uid:' .. uid, id)
  redis.call('ZREM', p .. 'state:' .. state, id)
  if parent ~= '0' then redis.call('ZREM', p .. 'parent:' .. parent, id) end
  redis.call('ZREM', p .. 'ended', id)
end
`

// createScript stores n jobs with consecutive new ids and returns the first
// id. ARGV[3] is the first job's parent id; the others are its tasks.
// ARGV[4] is the first job's submit key ("" for none): if <prefix>submit:
// <key> exists the script stores nothing and returns codeExists; otherwise
// it points the key at the first id and keeps it in the job's sk field,
// for deleteScript. Then 5 arguments per job: uid, state, ended (unix ns
// or ""), ended score, data.
var createScript = goredis.NewScript(prelude + `
local n = (#ARGV - 4) / 5
local sk = ARGV[4]
if sk ~= '' and redis.call('EXISTS', p .. 'submit:' .. sk) == 1 then return -6 end
local first = redis.call('INCRBY', p .. 'next_id', n) - n + 1
local firstID = string.format('%d', first)
for i = 0, n - 1 do
  local id = string.format('%d', first + i)
  local a = 5 + 5 * i
  local parent = ARGV[3]
  if i > 0 then parent = firstID end
  redis.call('HSET', p .. 'job:' .. id, 'v', '1', 'uid', ARGV[a], 'state', ARGV[a + 1],
    'parent', parent, 'ended', ARGV[a + 2], 'data', ARGV[a + 4])
  zadd(p .. 'jobs', id, id)
  index(id, ARGV[a], ARGV[a + 1], parent, ARGV[a + 3])
end
if sk ~= '' then
  redis.call('SET', p .. 'submit:' .. sk, firstID)
  redis.call('HSET', p .. 'job:' .. firstID, 'sk', sk)
end
flush()
return first
`)

// updateScript replaces job ARGV[3] if its version is still ARGV[4], moves
// its index entries and returns the new version. Then uid, state, parent,
// ended, ended score, data.
var updateScript = goredis.NewScript(prelude + `
local id = ARGV[3]
local key = p .. 'job:' .. id
local cur = redis.call('HMGET', key, 'v', 'uid', 'state', 'parent')
if not cur[1] then return -1 end
if cur[1] ~= ARGV[4] then return -2 end
unindex(id, cur[2], cur[3], cur[4])
redis.call('HSET', key, 'uid', ARGV[5], 'state', ARGV[6], 'parent', ARGV[7], 'ended', ARGV[8], 'data', ARGV[10])
index(id, ARGV[5], ARGV[6], ARGV[7], ARGV[9])
flush()
return redis.call('HINCRBY', key, 'v', 1)
`)

// deleteScript removes job ARGV[3], its index entries and its submit key.
var deleteScript = goredis.NewScript(prelude + `
local id = ARGV[3]
local key = p .. 'job:' .. id
local cur = redis.call('HMGET', key, 'uid', 'state', 'parent', 'sk')
if not cur[1] then return -1 end
unindex(id, cur[1], cur[2], cur[3])
if cur[4] then redis.call('DEL', p .. 'submit:' .. cur[4]) end
redis.call('ZREM', p .. 'jobs', id)
redis.call('DEL', key)
return 1
`)

// identityScript returns the store's id and legacy_max_job from the hash
// <prefix>store, creating it first with id ARGV[2] if the store has none:
// the jobs it holds then (up to next_id) are legacy. It writes only once
// in a store's life, before any agent uses the id, so it is not fenced.
var identityScript = goredis.NewScript(`
local key = ARGV[1] .. 'store'
if redis.call('HEXISTS', key, 'id') == 0 then
  redis.call('HSET', key, 'id', ARGV[2], 'legacy_max_job', redis.call('GET', ARGV[1] .. 'next_id') or '0')
end
return redis.call('HMGET', key, 'id', 'legacy_max_job')
`)

// fenceScript claims epoch ARGV[2]: the prelude has refused it if a greater
// one is stored.
var fenceScript = goredis.NewScript(prelude + `
if tonumber(redis.call('GET', p .. 'epoch') or '0') < epoch then
  redis.call('SET', p .. 'epoch', ARGV[2])
end
return 1
`)

// Records: <prefix>rec:<kind>:<key> is a hash of v (version) and data; the
// kind's sorted set <prefix>recs:<kind> holds its keys, all scored 0, so
// that they sort by key. A kind has no ':', so a key may have any.

// putRecordScript creates record ARGV[3] (kind), ARGV[4] (key) when ARGV[5]
// (its version) is "0", otherwise replaces it at that version, with data
// ARGV[6]. It returns the new version.
var putRecordScript = goredis.NewScript(prelude + `
local key = p .. 'rec:' .. ARGV[3] .. ':' .. ARGV[4]
local cur = redis.call('HGET', key, 'v')
if ARGV[5] == '0' then
  if cur then return -2 end
  redis.call('HSET', key, 'v', '1', 'data', ARGV[6])
  redis.call('ZADD', p .. 'recs:' .. ARGV[3], 0, ARGV[4])
  return 1
end
if not cur then return -4 end
if cur ~= ARGV[5] then return -2 end
redis.call('HSET', key, 'data', ARGV[6])
return redis.call('HINCRBY', key, 'v', 1)
`)

// deleteRecordScript removes record ARGV[3], ARGV[4] if its version is
// ARGV[5] ("0": any).
var deleteRecordScript = goredis.NewScript(prelude + `
local key = p .. 'rec:' .. ARGV[3] .. ':' .. ARGV[4]
local cur = redis.call('HGET', key, 'v')
if not cur then return -4 end
if ARGV[5] ~= '0' and cur ~= ARGV[5] then return -2 end
redis.call('DEL', key)
redis.call('ZREM', p .. 'recs:' .. ARGV[3], ARGV[4])
return 1
`)

// appendAuditScript stores an audit entry under the next id and indexes it:
// ARGV[3] actor, ARGV[4] action, ARGV[5] time score (whole Unix seconds,
// computed by the caller), ARGV[6] the entry as JSON. It returns the id.
var appendAuditScript = goredis.NewScript(prelude + `
local id = redis.call('INCR', p .. 'audit:next_id')
local sid = string.format('%d', id)
redis.call('HSET', p .. 'audit:entries', sid, ARGV[6])
redis.call('ZADD', p .. 'audit:ids', id, sid)
redis.call('ZADD', p .. 'audit:time', ARGV[5], sid)
redis.call('ZADD', p .. 'audit:actor:' .. ARGV[3], id, sid)
redis.call('ZADD', p .. 'audit:action:' .. ARGV[4], id, sid)
return id
`)
