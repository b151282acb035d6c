-- snooze: a handler reported back-pressure ("rate limited, retry after D"):
-- put the job back without using an attempt, and hold its queue or its rate
-- key until then, for the whole fleet. Also a job whose kind this worker has
-- no handler for, put back for another worker (hold 'none').
-- KEYS[1] active  KEYS[2] delayed  KEYS[3] jobs  KEYS[4] conf  KEYS[5] keyrate
-- KEYS[6] stats  KEYS[7] pending  KEYS[8] wake
-- ARGV[1] clock_offset_ms  ARGV[2] id  ARGV[3] attempt  ARGV[4] delay_ms  ARGV[5] hold: 'queue', 'key' or 'none'
-- ARGV[6] counter: the stats field to raise, 'snoozed' (back-pressure) or
-- 'unknown_kind' (put back by a worker with no handler for the job's kind)
-- Returns 1, or 0 when this reservation no longer holds the job.
local active, delayed, jobs, conf, keyrate = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local bad = check_types({ [active] = 'zset', [delayed] = 'zset', [jobs] = 'hash', [conf] = 'hash',
  [keyrate] = 'hash', [KEYS[6]] = 'hash', [KEYS[7]] = 'zset', [KEYS[8]] = 'list' })
if bad then return bad end
local id, attempt, hold = ARGV[2], ARGV[3], ARGV[5]
local until_ms = now_ms(ARGV[1]) + tonumber(ARGV[4])
if not take_lease(active, jobs, id, attempt) then return 0 end
redis.call('HSET', jobs, f_att(id), tonumber(attempt) - 1)
redis.call('ZADD', delayed, until_ms, id)
if ARGV[6] ~= 'unknown_kind' then ARGV[6] = 'snoozed' end
redis.call('HINCRBY', KEYS[6], ARGV[6], 1)
if hold == 'queue' then
  local current = tonumber(redis.call('HGET', conf, 'held_until') or '0') or 0
  if until_ms > current then redis.call('HSET', conf, 'held_until', until_ms) end
elseif hold == 'key' then
  local rk = redis.call('HGET', jobs, f_rky(id))
  if rk then
    local current = tonumber(redis.call('HGET', keyrate, 'hold:' .. rk) or '0') or 0
    if until_ms > current then redis.call('HSET', keyrate, 'hold:' .. rk, until_ms) end
  end
end
slot_freed(conf, KEYS[7], KEYS[8])
return 1
