-- fail: record a failed attempt of a reserved job; retry it later or bury it.
-- KEYS[1] active  KEYS[2] delayed  KEYS[3] dead  KEYS[4] jobs  KEYS[5] unique  KEYS[6] stats
-- KEYS[7] conf  KEYS[8] pending  KEYS[9] wake
-- ARGV[1] clock_offset_ms  ARGV[2] id  ARGV[3] attempt  ARGV[4] error
-- ARGV[5] retry_in_ms (-1 = do not retry)  ARGV[6] dead_max_len  ARGV[7] dead_max_age_ms
-- ARGV[8] attempts_cap (0 = none: the worker's --tries, capping the job's own limit)
-- Returns 'retry', 'dead', 'cancelled' (a cancel was requested while it ran:
-- buried whatever the error, never retried), or 'lost' (this reservation no
-- longer holds the job).
-- The caller says whether the error allows a retry and when; the attempts
-- left decide (attempts_left in _lib.lua, shared with reclaim).
local active, delayed, dead, jobs, unique, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local bad = check_types({ [active] = 'zset', [delayed] = 'zset', [dead] = 'zset', [jobs] = 'hash',
  [unique] = 'hash', [stats] = 'hash', [KEYS[7]] = 'hash', [KEYS[8]] = 'zset', [KEYS[9]] = 'list' })
if bad then return bad end
local now, id, attempt, message = now_ms(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local retry_in, dead_len, dead_age = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local cap = tonumber(ARGV[8]) or 0

if not take_lease(active, jobs, id, attempt) then return 'lost' end
slot_freed(KEYS[7], KEYS[8], KEYS[9])
if redis.call('HEXISTS', jobs, f_cnc(id)) == 1 then
  bury_cancelled(dead, jobs, unique, stats, id, tonumber(attempt), now, dead_len, dead_age)
  return 'cancelled'
end
redis.call('HINCRBY', stats, 'failed', 1)
append_error(jobs, id, tonumber(attempt), now, message)
local may_retry, max = attempts_left(jobs, id, tonumber(attempt), cap)
if retry_in >= 0 and may_retry then
  redis.call('ZADD', delayed, now + retry_in, id)
  return 'retry'
end
if retry_in >= 0 and not max then
  append_error(jobs, id, tonumber(attempt), now, 'max attempts damaged; not retried')
end
bury(dead, jobs, unique, stats, id, now, dead_len, dead_age)
return 'dead'
