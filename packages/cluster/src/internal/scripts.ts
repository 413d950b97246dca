/**
 * The Lua scripts that change cluster presence. Each runs atomically in Redis, so a
 * change, its `seq` and its pub/sub event are one step: every node sees the events in
 * the order the data changed, and two nodes racing to clean up a lost node cannot
 * both do it. Every write is fenced by the writer's lease token.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Shared by every script. KEYS[1] is the `seq` key (it routes the call to the slot of
 * the namespace's hash tag); ARGV[1] is the key prefix.
 */
const PRELUDE = `
local P = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function emit(ev)
  ev.seq = redis.call('INCR', KEYS[1])
  ev.at = now_ms()
  redis.call('PUBLISH', P .. 'events', cjson.encode(ev))
  return ev.seq
end
local function holds(node, inc)
  return redis.call('GET', P .. 'lease:' .. node) == inc
end
local function entry(id)
  local raw = redis.call('HGET', P .. 'peers', id)
  if raw then return cjson.decode(raw) end
  return nil
end
local function bury(id, epoch, ms)
  local k = P .. 'tomb:' .. id
  if tonumber(redis.call('GET', k) or '0') < epoch then redis.call('SET', k, epoch, 'PX', ms) end
end
local function remove(id, cur, ms)
  redis.call('HDEL', P .. 'peers', id)
  redis.call('SREM', P .. 'owned:' .. cur.node, id)
  bury(id, cur.epoch, ms)
end
local function opt(s)
  if s == '' then return cjson.null end
  return s
end
`;

/**
 * ARGV: prefix, node, incarnation, ttlMs, node record (JSON).
 * Takes the lease if nobody holds it. → {'OK', seq} | {'TAKEN', holder, pttl}
 */
const ACQUIRE = `
local node, inc = ARGV[2], ARGV[3]
local lk = P .. 'lease:' .. node
if not redis.call('SET', lk, inc, 'PX', ARGV[4], 'NX') then
  return {'TAKEN', redis.call('GET', lk) or '', redis.call('PTTL', lk)}
end
local rec = cjson.decode(ARGV[5])
rec.acquiredAt = now_ms()
redis.call('HSET', P .. 'nodes', node, cjson.encode(rec))
return {'OK', emit({type = 'node-joined', node = node, incarnation = inc})}
`;

/** ARGV: prefix, node, incarnation, ttlMs. → {1 if still held (and extended) else 0, seq} */
const RENEW = `
local lk = P .. 'lease:' .. ARGV[2]
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
if redis.call('GET', lk) ~= ARGV[3] then return {0, seq} end
redis.call('PEXPIRE', lk, ARGV[4])
return {1, seq}
`;

/**
 * ARGV: prefix, reaping node, tombstoneMs, budget (peers per call).
 * Every node whose lease is gone: announce it lost (once: the record is flagged), then
 * remove its peers as dead with cause node-lost (each removal conditional, so exactly
 * once), then drop the record. → {more (0/1), nodes announced lost..., }
 */
const REAP = `
local self, ms, budget = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {0}
for _, n in ipairs(redis.call('HKEYS', P .. 'nodes')) do
  if redis.call('EXISTS', P .. 'lease:' .. n) == 0 then
    if budget <= 0 then out[1] = 1; break end
    local ok = P .. 'owned:' .. n
    local rec = cjson.decode(redis.call('HGET', P .. 'nodes', n))
    if not rec.lostAt then
      rec.lostAt = now_ms()
      rec.lostBy = self
      redis.call('HSET', P .. 'nodes', n, cjson.encode(rec))
      emit({type = 'node-lost', node = n, incarnation = rec.incarnation, by = self, peers = redis.call('SCARD', ok)})
      table.insert(out, n)
    end
    local ids = redis.call('SPOP', ok, budget)
    budget = budget - #ids
    for _, id in ipairs(ids) do
      local cur = entry(id)
      if cur and cur.node == n then
        remove(id, cur, ms)
        emit({type = 'dead', node = n, peerId = id, sessionId = cur.sessionId, epoch = cur.epoch, cause = 'node-lost', by = self})
      end
    end
    if redis.call('SCARD', ok) == 0 then redis.call('HDEL', P .. 'nodes', n) else out[1] = 1 end
  end
end
return out
`;

/**
 * ARGV: prefix, node, incarnation, peer entry (JSON, no epoch/node), epoch ('' = a new session).
 * A new session takes a fresh epoch and replaces whatever entry the peer id had (the
 * newest session wins). A re-published session keeps its epoch and is refused if the
 * peer id has a newer live or ended session. → {'OK', epoch} | {'STALE', epoch} | {'NOLEASE'}
 */
const UPSERT = `
local node, inc = ARGV[2], ARGV[3]
if not holds(node, inc) then return {'NOLEASE'} end
local e = cjson.decode(ARGV[4])
local id = e.id
local cur = entry(id)
if cur and cur.sessionId == e.sessionId then
  local was = cur.state
  cur.state, cur.cause, cur.since, cur.rttMs = e.state, e.cause, e.since, e.rttMs
  redis.call('HSET', P .. 'peers', id, cjson.encode(cur))
  redis.call('SADD', P .. 'owned:' .. node, id)
  if was ~= cur.state then
    local t = 'recovered'
    if cur.state == 'suspect' then t = 'suspect' end
    emit({type = t, node = node, peerId = id, sessionId = cur.sessionId, epoch = cur.epoch, cause = cur.cause, since = cur.since})
  end
  return {'OK', cur.epoch}
end
local epoch = tonumber(ARGV[5])
if epoch then
  local newest = tonumber(redis.call('GET', P .. 'tomb:' .. id) or '0')
  if cur and cur.epoch > newest then newest = cur.epoch end
  if newest > epoch then return {'STALE', newest} end
  if tonumber(redis.call('GET', P .. 'epoch') or '0') < epoch then redis.call('SET', P .. 'epoch', epoch) end
else
  epoch = redis.call('INCR', P .. 'epoch')
end
e.epoch = epoch
e.node = node
local replaced = cjson.null
if cur then
  redis.call('SREM', P .. 'owned:' .. cur.node, id)
  replaced = {node = cur.node, sessionId = cur.sessionId, epoch = cur.epoch}
end
redis.call('HSET', P .. 'peers', id, cjson.encode(e))
redis.call('SADD', P .. 'owned:' .. node, id)
emit({type = 'joined', node = node, peer = e, replaced = replaced})
return {'OK', epoch}
`;

/**
 * ARGV: prefix, node, incarnation, peer id, session id, state (alive|suspect), cause, since.
 * Applies only to the session that holds the entry. → {'OK'} | {'STALE'} | {'NOLEASE'}
 */
const UPDATE = `
local node, inc, id, sid, state = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if not holds(node, inc) then return {'NOLEASE'} end
local cur = entry(id)
if not cur or cur.sessionId ~= sid then return {'STALE'} end
if cur.state == state then return {'OK'} end
cur.state, cur.cause, cur.since = state, opt(ARGV[7]), tonumber(ARGV[8])
redis.call('HSET', P .. 'peers', id, cjson.encode(cur))
local t = 'recovered'
if state == 'suspect' then t = 'suspect' end
emit({type = t, node = node, peerId = id, sessionId = sid, epoch = cur.epoch, cause = cur.cause, since = cur.since})
return {'OK'}
`;

/**
 * ARGV: prefix, node, incarnation, tombstoneMs, peer id, session id, final state (dead|closed), cause.
 * Removes the entry if this session still holds it. → {'OK'} | {'STALE'} | {'NOLEASE'}
 */
const END = `
local node, inc, id, sid = ARGV[2], ARGV[3], ARGV[5], ARGV[6]
if not holds(node, inc) then return {'NOLEASE'} end
local cur = entry(id)
if not cur or cur.sessionId ~= sid then return {'STALE'} end
remove(id, cur, tonumber(ARGV[4]))
local t = 'dead'
if ARGV[7] == 'closed' then t = 'left' end
emit({type = t, node = node, peerId = id, sessionId = sid, epoch = cur.epoch, cause = opt(ARGV[8])})
return {'OK'}
`;

/**
 * ARGV: prefix, node, incarnation, then (peer id, session id, rtt ms) triples.
 * One `rtt` event for the samples that still match their entry. → {'OK'} | {'NOLEASE'}
 */
const RTT = `
local node, inc = ARGV[2], ARGV[3]
if not holds(node, inc) then return {'NOLEASE'} end
local out = {}
for i = 4, #ARGV - 2, 3 do
  local cur = entry(ARGV[i])
  if cur and cur.sessionId == ARGV[i + 1] then
    cur.rttMs = tonumber(ARGV[i + 2])
    redis.call('HSET', P .. 'peers', ARGV[i], cjson.encode(cur))
    table.insert(out, {ARGV[i], ARGV[i + 1], cur.rttMs})
  end
end
if #out > 0 then emit({type = 'rtt', node = node, samples = out}) end
return {'OK'}
`;

/**
 * ARGV: prefix, node, incarnation, tombstoneMs, budget, cause.
 * Orderly leave: removes up to `budget` of the node's peers (as `left`); once none are
 * left, drops the record and the lease. → {'MORE'} | {'DONE'} | {'NOLEASE'}
 */
const LEAVE = `
local node, inc, ms, budget = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
if not holds(node, inc) then return {'NOLEASE'} end
local ok = P .. 'owned:' .. node
for _, id in ipairs(redis.call('SPOP', ok, budget)) do
  local cur = entry(id)
  if cur and cur.node == node then
    remove(id, cur, ms)
    emit({type = 'left', node = node, peerId = id, sessionId = cur.sessionId, epoch = cur.epoch, cause = opt(ARGV[6])})
  end
end
if redis.call('SCARD', ok) > 0 then return {'MORE'} end
redis.call('DEL', P .. 'lease:' .. node)
redis.call('HDEL', P .. 'nodes', node)
emit({type = 'node-left', node = node, incarnation = inc})
return {'DONE'}
`;

/** ARGV: prefix. → {seq, entry JSON...}: every entry at one instant, with the seq it reflects. */
const SNAPSHOT = `
local out = {tonumber(redis.call('GET', KEYS[1]) or '0')}
for _, v in ipairs(redis.call('HVALS', P .. 'peers')) do table.insert(out, v) end
return out
`;

/** ARGV: prefix, node. → entry JSON of each peer the node holds. */
const OWNED = `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', P .. 'owned:' .. ARGV[2])) do
  local raw = redis.call('HGET', P .. 'peers', id)
  if raw and cjson.decode(raw).node == ARGV[2] then table.insert(out, raw) end
end
return out
`;

/** ARGV: prefix. → flat (record JSON, lease PTTL, peers held) per node. */
const NODES = `
local out = {}
for _, n in ipairs(redis.call('HKEYS', P .. 'nodes')) do
  table.insert(out, redis.call('HGET', P .. 'nodes', n))
  table.insert(out, redis.call('PTTL', P .. 'lease:' .. n))
  table.insert(out, redis.call('SCARD', P .. 'owned:' .. n))
end
return out
`;

/** A Lua script run by SHA, loaded again after a Redis restart emptied the script cache. */
export class LuaScript {
  readonly sha: string;
  readonly source: string;

  constructor(
    readonly name: string,
    body: string,
  ) {
    this.source = PRELUDE + body;
    this.sha = createHash('sha1').update(this.source).digest('hex');
  }

  async run(redis: Redis, seqKey: string, args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, 1, seqKey, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await redis.eval(this.source, 1, seqKey, ...args);
    }
  }
}

export const Scripts = {
  acquire: new LuaScript('acquire', ACQUIRE),
  renew: new LuaScript('renew', RENEW),
  reap: new LuaScript('reap', REAP),
  upsert: new LuaScript('upsert', UPSERT),
  update: new LuaScript('update', UPDATE),
  end: new LuaScript('end', END),
  rtt: new LuaScript('rtt', RTT),
  leave: new LuaScript('leave', LEAVE),
  snapshot: new LuaScript('snapshot', SNAPSHOT),
  owned: new LuaScript('owned', OWNED),
  nodes: new LuaScript('nodes', NODES),
} as const;
