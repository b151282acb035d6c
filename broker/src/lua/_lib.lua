-- Shared helpers, prepended to every weir script at load time (see scripts.rs).
-- A job's data lives in the queue's `jobs` hash under fields named by a
-- one-letter tag, a colon, then the id, so no id can name another job's field
-- (whatever bytes the id holds):
--   j:<id>  the JSON envelope (immutable)
--   a:<id>  attempts started (integer)
--   m:<id>  max attempts (integer)
--   u:<id>  unique key, when the job has one
--   e:<id>  JSON array of {attempt, at, error} for failed attempts
--   r:<id>  rate key, when the job has one
--   p:<id>  JSON {percent, message, at} of the running attempt's latest progress
--   w:<id>  the id of the worker that reserved it last (reserve)
--   c:<id>  when a cancel of the running job was requested (ms; cancel.lua):
--           it must not run again, and whoever takes it out of `active`
--           (fail, reclaim) or finds it in `pending` (reserve) buries it
-- Field names are built here; keys never are (Redis Cluster).

local function f_env(id) return 'j:' .. id end
local function f_att(id) return 'a:' .. id end
local function f_max(id) return 'm:' .. id end
local function f_unq(id) return 'u:' .. id end
local function f_err(id) return 'e:' .. id end
local function f_rky(id) return 'r:' .. id end
local function f_prg(id) return 'p:' .. id end
local function f_wrk(id) return 'w:' .. id end
local function f_cnc(id) return 'c:' .. id end

-- Every field a job may have, the one list of them: appends job `id`'s
-- field names to `t` after its first `n` values (an HDEL list), returning the
-- new length. `att` and `unq` are the names f_att(id) and f_unq(id) when the
-- caller built them already (ack's batch).
local JOB_FIELDS = 9
local function push_job_fields(t, n, id, att, unq)
  t[n + 1], t[n + 2], t[n + 3] = f_env(id), att or f_att(id), f_max(id)
  t[n + 4], t[n + 5], t[n + 6] = unq or f_unq(id), f_err(id), f_rky(id)
  t[n + 7], t[n + 8], t[n + 9] = f_prg(id), f_wrk(id), f_cnc(id)
  return n + JOB_FIELDS
end

-- Now, by the Redis server's clock: one clock for the whole fleet, whatever
-- the callers' clocks say. `offset` is the documented test hook
-- (BrokerConfig::clock, 0 in production) that moves time without sleeping:
-- an offset in ms, or '=T' for a frozen time T.
-- Redis 7 replicates scripts by their effects, so TIME is safe here.
local function now_ms(offset)
  if string.sub(offset or '', 1, 1) == '=' then return tonumber(string.sub(offset, 2)) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + (tonumber(offset) or 0)
end

local function delete_job(jobs, id)
  local fields = {}
  push_job_fields(fields, 0, id)
  redis.call('HDEL', jobs, unpack(fields))
end

-- Unique entries are "<expires_ms>:<owner id>".
local function unique_owner(entry)
  local sep = string.find(entry, ':', 1, true)
  if not sep then return nil, 0 end
  return string.sub(entry, sep + 1), tonumber(string.sub(entry, 1, sep - 1)) or 0
end

-- Frees unique key `u` (false: the job has none) if job `id` still owns it.
local function free_unique_key(unique, u, id)
  if u then
    local entry = redis.call('HGET', unique, u)
    if entry and unique_owner(entry) == id then
      redis.call('HDEL', unique, u)
    end
  end
end

local function free_unique(jobs, unique, id)
  free_unique_key(unique, redis.call('HGET', jobs, f_unq(id)), id)
end

-- Removes a waiting job (pending or delayed) with its data, freeing its
-- unique key (delete, cancel). Returns the state it was in, or false.
local function remove_waiting(pending, delayed, jobs, unique, id)
  local from = false
  if redis.call('ZREM', pending, id) == 1 then from = 'pending'
  elseif redis.call('ZREM', delayed, id) == 1 then from = 'delayed'
  end
  if from then
    free_unique(jobs, unique, id)
    delete_job(jobs, id)
  end
  return from
end

local function append_error(jobs, id, attempt, now, message)
  local list = {}
  local raw = redis.call('HGET', jobs, f_err(id))
  if raw then
    local ok, decoded = pcall(cjson.decode, raw)
    if ok and type(decoded) == 'table' then list = decoded end
  end
  list[#list + 1] = { attempt = attempt, at = now, error = message }
  redis.call('HSET', jobs, f_err(id), cjson.encode(list))
end

local CANCELLED = 'cancelled'

local function drop_dead(dead, jobs, ids)
  for _, old in ipairs(ids) do
    delete_job(jobs, old)
    redis.call('ZREM', dead, old)
  end
end

-- Moves a job to the dead set, frees its unique key, and keeps the dead set
-- bounded by age and by length (0 = unbounded).
local function bury(dead, jobs, unique, stats, id, now, max_len, max_age_ms)
  free_unique(jobs, unique, id)
  redis.call('ZADD', dead, now, id)
  redis.call('HINCRBY', stats, 'dead', 1)
  if max_age_ms > 0 then
    drop_dead(dead, jobs, redis.call('ZRANGEBYSCORE', dead, '-inf', '(' .. (now - max_age_ms), 'LIMIT', 0, 100))
  end
  if max_len > 0 then
    local n = redis.call('ZCARD', dead)
    if n > max_len then
      drop_dead(dead, jobs, redis.call('ZRANGE', dead, 0, n - max_len - 1))
    end
  end
end

-- A cancelled job ends here (fail, reclaim, reserve), never retried: its
-- error is "cancelled", it is counted in `cancelled` (not `failed`), and it
-- is buried like any dead job, so `weir dead retry` can bring it back.
local function bury_cancelled(dead, jobs, unique, stats, id, attempt, now, max_len, max_age_ms)
  append_error(jobs, id, attempt, now, CANCELLED)
  redis.call('HDEL', jobs, f_cnc(id))
  redis.call('HINCRBY', stats, CANCELLED, 1)
  bury(dead, jobs, unique, stats, id, now, max_len, max_age_ms)
end

-- The lease fence: a job may be finished only by the reservation that holds it.
-- The attempt number is the fencing token: every reserve raises it.
-- holds_lease only looks (extend keeps the job active); take_lease checks the
-- same fence and takes the job out of `active`, with ZREM's reply standing in
-- for ZSCORE (no float to format on the ack path).
local function holds_lease(active, jobs, id, attempt)
  return redis.call('ZSCORE', active, id) and redis.call('HGET', jobs, f_att(id)) == attempt
end

local function take_lease(active, jobs, id, attempt)
  return redis.call('HGET', jobs, f_att(id)) == attempt and redis.call('ZREM', active, id) == 1
end

-- One command over a long argument list: Redis's Lua unpacks at most a few
-- thousand values into one call, so the list goes out in chunks of whole
-- records (`width` values each). A table reply is returned as one list, in
-- order; a missing value (false) keeps its place.
local CHUNK = 960
local function call_chunked(cmd, key, args, width)
  local out = {}
  local step = CHUNK - CHUNK % width
  for i = 1, #args, step do
    local r = redis.call(cmd, key, unpack(args, i, math.min(i + step - 1, #args)))
    if type(r) == 'table' then
      for k = 1, #r do out[#out + 1] = r[k] end
    end
  end
  return out
end

-- Moves up to `limit` due jobs from `delayed` to `pending`, keeping their
-- run times as ready times, in one ZADD and one ZREM. Returns how many moved.
-- Retry or dead is decided here, and only here, for a failed attempt
-- (fail.lua) and for an expired lease (reclaim.lua): a job may run again
-- while its attempts are fewer than its limit, capped by the worker's
-- --tries when cap > 0. A missing or damaged count or limit never retries.
-- Returns whether it may, and the job's own limit (nil when damaged).
local function attempts_left(jobs, id, attempt, cap)
  local max = tonumber(redis.call('HGET', jobs, f_max(id)) or '')
  if not max or not attempt then return false, max end
  local limit = max
  if cap and cap > 0 and cap < limit then limit = cap end
  return attempt < limit, max
end

local function promote_due(delayed, pending, now, limit)
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
  if #due == 0 then return 0 end
  local scored, ids = {}, {}
  for i = 1, #due, 2 do
    scored[#scored + 1], scored[#scored + 2] = due[i + 1], due[i]
    ids[#ids + 1] = due[i]
  end
  redis.call('ZADD', pending, unpack(scored))
  redis.call('ZREM', delayed, unpack(ids))
  return #ids
end

-- A finished job frees a concurrency slot: wake a worker that waits for one.
local function slot_freed(conf, pending, wake)
  if redis.call('HEXISTS', conf, 'concurrency') == 1 and redis.call('ZCARD', pending) > 0 then
    if redis.call('LLEN', wake) == 0 then redis.call('RPUSH', wake, '1') end
  end
end

-- Refuses to run on keys of the wrong type (hand-edited, or another app's
-- keys under our prefix) before anything is written: a script that failed
-- half-way would keep its earlier writes and could drop jobs.
-- Every script calls it first, with every key it may write, so a damaged
-- key fails that one call cleanly and the job stays where it was.
local function check_types(expected)
  for key, kind in pairs(expected) do
    local t = redis.call('TYPE', key)['ok']
    if t ~= kind and t ~= 'none' then
      return redis.error_reply('WRONGTYPE weir key ' .. key .. ' holds a ' .. t .. ', expected a ' .. kind)
    end
  end
  return nil
end

local function wake_one(wake)
  if redis.call('LLEN', wake) == 0 then
    redis.call('RPUSH', wake, '1')
  end
end
