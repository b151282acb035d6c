-- reserve: take up to N pending jobs of one queue under a lease, within the
-- queue's limits.
-- KEYS[1] pending  KEYS[2] active  KEYS[3] jobs  KEYS[4] conf  KEYS[5] wake
-- KEYS[6] dead  KEYS[7] unique  KEYS[8] stats  KEYS[9] delayed  KEYS[10] keyrate
-- ARGV[1] clock_offset_ms  ARGV[2] count  ARGV[3] lease_ms  ARGV[4] dead_max_len  ARGV[5] dead_max_age_ms
-- ARGV[6] worker: the reserving worker's id, kept in `w:<id>` ('' = none)
-- ARGV[7] number of rate-key rules, then 3 values per rule: Lua pattern, interval_ms, burst
-- Every time in the reply is a wait in ms from now (by Redis's clock), so the
-- caller never compares its own clock with Redis's.
-- Returns {-1} when the queue is paused; {-2, wait_ms} when a limit allows
-- nothing now (0: until a concurrency slot frees); else
-- {remaining_pending, limit_wait, next_due_in, id, attempt, envelope, ...} where
-- limit_wait is -1 when no limit cut the batch short, and next_due_in is the
-- wait until the earliest delayed job comes due (-1: none), so an idle caller
-- can come back then and this script promotes it.
--
-- A job whose data is missing or whose attempt count is damaged goes to the
-- dead set here, so it never reaches a worker and never blocks the queue; so
-- does a job whose cancel was requested while it ran and that came back
-- (released at a shutdown, snoozed) before its worker buried it: as cancelled.
-- A job over its rate key's limit goes back to `delayed` until its key's next
-- allowed time, without using an attempt, and the scan moves on to the jobs
-- behind it; the earliest such time comes back as the limit hint, so the
-- caller returns then. Due delayed jobs (retries, schedules, deferrals) are
-- promoted here first, so a busy queue never waits for housekeeping.
local pending, active, jobs, conf, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local dead, unique, stats, delayed, keyrate = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local count = tonumber(ARGV[2])
local dead_len, dead_age = tonumber(ARGV[4]), tonumber(ARGV[5])
local worker = ARGV[6]
local nrules = tonumber(ARGV[7])

local bad = check_types({ [pending] = 'zset', [active] = 'zset', [delayed] = 'zset', [jobs] = 'hash', [conf] = 'hash',
  [keyrate] = 'hash', [wake] = 'list', [dead] = 'zset', [unique] = 'hash', [stats] = 'hash' })
if bad then return bad end
local now = now_ms(ARGV[1])
local lease_until = now + tonumber(ARGV[3])
-- A wait from now, never negative; 0 stays 0 ("until a slot frees").
local function wait_from_now(t)
  if t <= 0 then return t end
  return math.max(1, math.ceil(t - now))
end

local c = redis.call('HMGET', conf, 'paused', 'held_until', 'concurrency', 'rate_interval', 'rate_burst', 'rate_tat', 'rate_keys')
if c[1] then return { -1 } end
local held = tonumber(c[2] or '')
if held and held > now then return { -2, wait_from_now(held) } end

local allowed, hint = count, -1
local cap = tonumber(c[3] or '')
if cap then
  local free = cap - redis.call('ZCARD', active)
  if free <= 0 then return { -2, 0 } end
  if free < allowed then allowed, hint = free, 0 end
end
local interval = tonumber(c[4] or '')
local tat0, tau
if interval then
  tau = interval * ((tonumber(c[5] or '1') or 1) - 1)
  tat0 = math.max(tonumber(c[6] or '0') or 0, now)
  local k = math.floor((tau - (tat0 - now)) / interval) + 1
  if k <= 0 then return { -2, wait_from_now(math.ceil(tat0 - tau)) } end
  if k < allowed then allowed, hint = k, math.ceil(tat0 + k * interval - tau) end
end
local check_keys = c[7] ~= false and c[7] ~= nil

promote_due(delayed, pending, now, 1000)

-- A rate key's verdict: nil when the job may run now, else the time it may.
local function key_wait(rk)
  local hold = tonumber(redis.call('HGET', keyrate, 'hold:' .. rk) or '')
  if hold and hold > now then return hold end
  for r = 0, nrules - 1 do
    local pattern, iv, burst = ARGV[8 + r * 3], tonumber(ARGV[9 + r * 3]), tonumber(ARGV[10 + r * 3])
    if string.match(rk, pattern) then
      local ktau = iv * (burst - 1)
      local ktat = math.max(tonumber(redis.call('HGET', keyrate, 'tat:' .. rk) or '0') or 0, now)
      if ktat - now > ktau then return math.ceil(ktat - ktau) end
      redis.call('HSET', keyrate, 'tat:' .. rk, ktat + iv)
      return nil
    end
  end
  return nil
end

local out, nout = { 0, hint, -1 }, 3
local reserved, scanned = 0, 0
-- The batch's attempt counts and leases are written with one HSET and one
-- ZADD at the end, and each popped run's data is read with one HMGET: the
-- cost per job is in the values, not in commands.
-- Lengths are kept in counters (`#t` searches the table each time it is read).
local counts, leases, nc, nl = {}, {}, 0, 0
-- The deadline as text once: a Lua number is formatted anew for every use.
local lease_text = string.format('%d', lease_until)
local width = check_keys and 4 or 3
-- Jobs deferred by their keys do not fill the batch; look a bounded way further.
local scan_limit = allowed * 4 + 16
while reserved < allowed and scanned < scan_limit do
  -- ZRANGE + ZREMRANGEBYRANK rather than ZPOPMIN: the same jobs, without
  -- formatting every score as a float reply (a measurable share of Redis CPU).
  local popped = redis.call('ZRANGE', pending, 0, allowed - reserved - 1)
  if #popped == 0 then break end
  redis.call('ZREMRANGEBYRANK', pending, 0, #popped - 1)
  local fields = {}
  for i = 1, #popped do
    local id, at = popped[i], (i - 1) * width
    fields[at + 1], fields[at + 2], fields[at + 3] = f_env(id), f_att(id), f_cnc(id)
    if check_keys then fields[at + 4] = f_rky(id) end
  end
  local data = call_chunked('HMGET', jobs, fields, width)
  for i = 1, #popped do
    local id = popped[i]
    local at = (i - 1) * width
    scanned = scanned + 1
    local env = data[at + 1]
    local attempts = tonumber(data[at + 2] or '0')
    if data[at + 3] then
      bury_cancelled(dead, jobs, unique, stats, id, attempts or 0, now, dead_len, dead_age)
    elseif not env then
      append_error(jobs, id, 0, now, 'job data missing from the jobs hash')
      bury(dead, jobs, unique, stats, id, now, dead_len, dead_age)
    elseif not attempts then
      append_error(jobs, id, 0, now, 'attempt count damaged: ' .. tostring(data[at + 2]))
      bury(dead, jobs, unique, stats, id, now, dead_len, dead_age)
    else
      local wait_until = nil
      if check_keys then
        local rk = data[at + 4]
        if rk then wait_until = key_wait(rk) end
      end
      if wait_until then
        redis.call('ZADD', delayed, wait_until, id)
        redis.call('HINCRBY', stats, 'deferred', 1)
        if hint == -1 or (hint > 0 and wait_until < hint) then hint = wait_until end
      else
        attempts = attempts + 1
        -- The HMGET's name of the attempt field serves again.
        counts[nc + 1], counts[nc + 2] = fields[at + 2], attempts
        nc = nc + 2
        if worker ~= '' then
          counts[nc + 1], counts[nc + 2] = f_wrk(id), worker
          nc = nc + 2
        end
        leases[nl + 1], leases[nl + 2] = lease_text, id
        nl = nl + 2
        reserved = reserved + 1
        out[nout + 1], out[nout + 2], out[nout + 3] = id, attempts, env
        nout = nout + 3
      end
    end
  end
end
if reserved > 0 then
  call_chunked('HSET', jobs, counts, 2)
  call_chunked('ZADD', active, leases, 2)
end
if interval and reserved > 0 then
  redis.call('HSET', conf, 'rate_tat', tat0 + reserved * interval)
end
local remaining = redis.call('ZCARD', pending)
out[1] = remaining
out[2] = wait_from_now(hint)
local next_due = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
if next_due[2] then out[3] = math.max(1, math.ceil(tonumber(next_due[2]) - now)) end
-- Pass the baton: another idle worker may take what this batch left, unless
-- a limit is what left it (waking workers then would only spin).
if remaining > 0 and hint == -1 then wake_one(wake) end
return out
