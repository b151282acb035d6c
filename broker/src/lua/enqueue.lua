-- enqueue: add one or more jobs to one queue.
-- KEYS[1] pending  KEYS[2] delayed  KEYS[3] jobs  KEYS[4] unique  KEYS[5] wake  KEYS[6] conf
-- ARGV[1] clock_offset_ms  ARGV[2] default_unique_ttl_ms, then 8 values per job:
--   id, envelope, delay_ms, run_at_ms (0 = none; an absolute time wins over
--   the delay), max_attempts, unique_key ('' = none), unique_ttl_ms (-1 = the
--   default, counted from the run time), rate_key ('' = none)
-- Returns, per job: {1, id} when enqueued, {0, existing_id} when a job with the
-- same id, or a live job holding the same unique key, already exists.
local pending, delayed, jobs, unique, wake, conf = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local bad = check_types({ [pending] = 'zset', [delayed] = 'zset', [jobs] = 'hash', [unique] = 'hash',
  [wake] = 'list', [conf] = 'hash' })
if bad then return bad end
local now = now_ms(ARGV[1])
local default_ttl = tonumber(ARGV[2])
local out = {}
local woke = false
local rate_keys = false
-- The jobs hash and the two sets are written with one command each per call
-- rather than one per job (the per-command cost dominates a bulk enqueue).
-- `fresh` remembers the ids added by this call, which those deferred writes
-- have not stored yet.
local fresh = {}
local fields, now_set, later_set = {}, {}, {}
local function flush()
  if #fields > 0 then redis.call('HSET', jobs, unpack(fields)) end
  if #now_set > 0 then redis.call('ZADD', pending, unpack(now_set)) end
  if #later_set > 0 then redis.call('ZADD', delayed, unpack(later_set)) end
  fields, now_set, later_set = {}, {}, {}
end
for i = 3, #ARGV, 8 do
  local id, env, delay, at = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local max, ukey, ttl, rkey = ARGV[i + 4], ARGV[i + 5], tonumber(ARGV[i + 6]), ARGV[i + 7]
  local ready = now + delay
  if at > 0 then ready = at end
  if ready < now then ready = now end
  local existing = nil
  if fresh[id] or redis.call('HEXISTS', jobs, f_env(id)) == 1 then
    existing = id
  elseif ukey ~= '' then
    local entry = redis.call('HGET', unique, ukey)
    if entry then
      local owner, expires = unique_owner(entry)
      if owner and expires > now and (fresh[owner] or redis.call('HEXISTS', jobs, f_env(owner)) == 1) then
        existing = owner
      end
    end
  end
  if existing then
    out[#out + 1] = { 0, existing }
  else
    fresh[id] = true
    local n = #fields
    fields[n + 1], fields[n + 2], fields[n + 3], fields[n + 4] = f_env(id), env, f_max(id), max
    if rkey ~= '' then
      fields[n + 5], fields[n + 6] = f_rky(id), rkey
      rate_keys = true
    end
    if ukey ~= '' then
      local m = #fields
      fields[m + 1], fields[m + 2] = f_unq(id), ukey
      local expires = ready + default_ttl
      if ttl >= 0 then expires = now + ttl end
      redis.call('HSET', unique, ukey, expires .. ':' .. id)
    end
    if ready <= now then
      now_set[#now_set + 1], now_set[#now_set + 2] = ready, id
      woke = true
    else
      later_set[#later_set + 1], later_set[#later_set + 2] = ready, id
    end
    out[#out + 1] = { 1, id }
    -- Lua's unpack takes a few thousand values at most.
    if #fields > 4000 then flush() end
  end
end
flush()
-- Reserve looks up rate keys only in queues that have seen one.
if rate_keys then redis.call('HSETNX', conf, 'rate_keys', '1') end
if woke then wake_one(wake) end
return out
