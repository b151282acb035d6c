-- reserve: take up to N pending jobs of one queue under a lease.
-- KEYS[1] pending  KEYS[2] active  KEYS[3] jobs  KEYS[4] conf  KEYS[5] wake
-- KEYS[6] dead  KEYS[7] unique  KEYS[8] stats
-- ARGV[1] now_ms  ARGV[2] count  ARGV[3] lease_until_ms  ARGV[4] dead_max_len  ARGV[5] dead_max_age_ms
-- Returns {-1} when the queue is paused, else {remaining_pending, id, attempt, envelope, ...}.
-- A job whose data is missing or whose attempt count is damaged goes to the dead
-- set here, so it never reaches a worker and never blocks the queue.
local pending, active, jobs, conf, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local dead, unique, stats = KEYS[6], KEYS[7], KEYS[8]
local now, count, lease_until = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local dead_len, dead_age = tonumber(ARGV[4]), tonumber(ARGV[5])

if redis.call('HEXISTS', conf, 'paused') == 1 then return { -1 } end

local out = { 0 }
local popped = redis.call('ZPOPMIN', pending, count)
for i = 1, #popped, 2 do
  local id = popped[i]
  local env = redis.call('HGET', jobs, id)
  local attempts = tonumber(redis.call('HGET', jobs, id .. ':a') or '0')
  if not env then
    append_error(jobs, id, 0, now, 'job data missing from the jobs hash')
    bury(dead, jobs, unique, stats, id, now, dead_len, dead_age)
  elseif not attempts then
    append_error(jobs, id, 0, now, 'attempt count damaged: ' .. tostring(redis.call('HGET', jobs, id .. ':a')))
    bury(dead, jobs, unique, stats, id, now, dead_len, dead_age)
  else
    attempts = attempts + 1
    redis.call('HSET', jobs, id .. ':a', attempts)
    redis.call('ZADD', active, lease_until, id)
    out[#out + 1] = id
    out[#out + 1] = attempts
    out[#out + 1] = env
  end
end
local remaining = redis.call('ZCARD', pending)
out[1] = remaining
-- Pass the baton: another idle worker may take what this batch left.
if remaining > 0 then wake_one(wake) end
return out
