-- enqueue: add one or more jobs to one queue.
-- KEYS[1] pending  KEYS[2] delayed  KEYS[3] jobs  KEYS[4] unique  KEYS[5] wake  KEYS[6] conf
-- ARGV[1] now_ms, then 7 values per job:
--   id, envelope, ready_at_ms, max_attempts, unique_key ('' = none), unique_ttl_ms,
--   rate_key ('' = none)
-- Returns, per job: {1, id} when enqueued, {0, existing_id} when a job with the
-- same id, or a live job holding the same unique key, already exists.
local pending, delayed, jobs, unique, wake, conf = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local now = tonumber(ARGV[1])
local out = {}
local woke = false
local rate_keys = false
for i = 2, #ARGV, 7 do
  local id, env, ready = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local max, ukey, ttl, rkey = ARGV[i + 3], ARGV[i + 4], tonumber(ARGV[i + 5]), ARGV[i + 6]
  local existing = nil
  if redis.call('HEXISTS', jobs, id) == 1 then
    existing = id
  elseif ukey ~= '' then
    local entry = redis.call('HGET', unique, ukey)
    if entry then
      local owner, expires = unique_owner(entry)
      if owner and expires > now and redis.call('HEXISTS', jobs, owner) == 1 then
        existing = owner
      end
    end
  end
  if existing then
    out[#out + 1] = { 0, existing }
  else
    redis.call('HSET', jobs, id, env, id .. ':m', max)
    if rkey ~= '' then
      redis.call('HSET', jobs, id .. ':r', rkey)
      rate_keys = true
    end
    if ukey ~= '' then
      redis.call('HSET', jobs, id .. ':u', ukey)
      redis.call('HSET', unique, ukey, (now + ttl) .. ':' .. id)
    end
    if ready <= now then
      redis.call('ZADD', pending, ready, id)
      woke = true
    else
      redis.call('ZADD', delayed, ready, id)
    end
    out[#out + 1] = { 1, id }
  end
end
-- Reserve looks up rate keys only in queues that have seen one.
if rate_keys then redis.call('HSETNX', conf, 'rate_keys', '1') end
if woke then wake_one(wake) end
return out
