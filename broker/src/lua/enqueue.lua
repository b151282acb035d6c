-- enqueue: add one or more jobs to one queue.
-- KEYS[1] pending  KEYS[2] delayed  KEYS[3] jobs  KEYS[4] unique  KEYS[5] wake  KEYS[6] conf
-- ARGV[1] clock_offset_ms  ARGV[2] default_unique_ttl_ms  ARGV[3] ids_fresh, then 8 values per job:
--   id, envelope, delay_ms, run_at_ms (0 = none; an absolute time wins over
--   the delay), max_attempts, unique_key ('' = none), unique_ttl_ms (-1 = the
--   default, counted from the run time), rate_key ('' = none).
-- ids_fresh: '1' when every id of the call was just generated (a new ULID),
-- so none can exist yet and the per-job existence check is skipped; '0' when
-- any id was chosen by the caller (a replay: enqueueing it again is a no-op).
-- Returns, per job: {1, id} when enqueued, {0, existing_id} when a job with the
-- same id, or a live job holding the same unique key, already exists.
local pending, delayed, jobs, unique, wake, conf = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local now = now_ms(ARGV[1])
local default_ttl = tonumber(ARGV[2])
local check_ids = ARGV[3] ~= '1'
-- First pass: each job's ready time, and which keys this call touches, so
-- only those have their type checked (before anything is written).
local ready_at = {}
local any_now, any_later, any_unique, any_rate = false, false, false, false
for i = 4, #ARGV, 8 do
  local delay, at = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local ready = now + delay
  if at > 0 then ready = at end
  if ready < now then ready = now end
  ready_at[i] = ready
  if ready <= now then any_now = true else any_later = true end
  if ARGV[i + 5] ~= '' then any_unique = true end
  if ARGV[i + 7] ~= '' then any_rate = true end
end
local expected = { [jobs] = 'hash' }
if any_now then expected[pending] = 'zset'; expected[wake] = 'list' end
if any_later then expected[delayed] = 'zset' end
if any_unique then expected[unique] = 'hash' end
if any_rate then expected[conf] = 'hash' end
local bad = check_types(expected)
if bad then return bad end
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
for i = 4, #ARGV, 8 do
  local id, env, ready = ARGV[i], ARGV[i + 1], ready_at[i]
  local max, ukey, ttl, rkey = ARGV[i + 4], ARGV[i + 5], tonumber(ARGV[i + 6]), ARGV[i + 7]
  local existing = nil
  if check_ids and (fresh[id] or redis.call('HEXISTS', jobs, f_env(id)) == 1) then
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
    if check_ids or ukey ~= '' then fresh[id] = true end
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
