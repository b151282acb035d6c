-- reclaim: take back jobs whose lease expired (their worker died or hung).
-- The attempt stays counted: back to pending, or to the dead set when spent.
-- A job whose cancel was requested is buried as cancelled, never requeued.
-- KEYS[1] active  KEYS[2] pending  KEYS[3] dead  KEYS[4] jobs  KEYS[5] unique  KEYS[6] stats  KEYS[7] wake
-- KEYS[8] conf
-- ARGV[1] clock_offset_ms  ARGV[2] limit  ARGV[3] dead_max_len  ARGV[4] dead_max_age_ms
-- Returns {requeued, buried, still_expired}.
local active, pending, dead, jobs, unique, stats, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local bad = check_types({ [active] = 'zset', [pending] = 'zset', [dead] = 'zset', [jobs] = 'hash',
  [unique] = 'hash', [stats] = 'hash', [wake] = 'list', [KEYS[8]] = 'hash' })
if bad then return bad end
local now, limit, dead_len, dead_age = now_ms(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local expired = redis.call('ZRANGEBYSCORE', active, '-inf', now, 'LIMIT', 0, limit)
local requeued, buried = 0, 0
for _, id in ipairs(expired) do
  redis.call('ZREM', active, id)
  local attempt = tonumber(redis.call('HGET', jobs, f_att(id)) or '')
  if redis.call('HEXISTS', jobs, f_cnc(id)) == 1 then
    bury_cancelled(dead, jobs, unique, stats, id, attempt or 0, now, dead_len, dead_age)
    buried = buried + 1
  else
    append_error(jobs, id, attempt or 0, now, 'lease expired: the worker running this attempt stopped or hung')
    if attempts_left(jobs, id, attempt, 0) and redis.call('HEXISTS', jobs, f_env(id)) == 1 then
      redis.call('ZADD', pending, now, id)
      requeued = requeued + 1
    else
      redis.call('HINCRBY', stats, 'failed', 1)
      bury(dead, jobs, unique, stats, id, now, dead_len, dead_age)
      buried = buried + 1
    end
  end
end
if requeued > 0 then wake_one(wake) end
if #expired > 0 then slot_freed(KEYS[8], pending, wake) end
return { requeued, buried, redis.call('ZCOUNT', active, '-inf', now) }
