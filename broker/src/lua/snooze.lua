-- snooze: a handler reported back-pressure ("rate limited, retry after D"):
-- put the job back without using an attempt, and hold its queue or its rate
-- key until then, for the whole fleet.
-- KEYS[1] active  KEYS[2] delayed  KEYS[3] jobs  KEYS[4] conf  KEYS[5] keyrate
-- KEYS[6] stats  KEYS[7] pending  KEYS[8] wake
-- ARGV[1] id  ARGV[2] attempt  ARGV[3] until_ms  ARGV[4] hold: 'queue', 'key' or 'none'
-- Returns 1, or 0 when this reservation no longer holds the job.
local active, delayed, jobs, conf, keyrate = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, attempt, until_ms, hold = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
if not take_lease(active, jobs, id, attempt) then return 0 end
redis.call('HSET', jobs, id .. ':a', tonumber(attempt) - 1)
redis.call('ZADD', delayed, until_ms, id)
redis.call('HINCRBY', KEYS[6], 'snoozed', 1)
if hold == 'queue' then
  local current = tonumber(redis.call('HGET', conf, 'held_until') or '0') or 0
  if until_ms > current then redis.call('HSET', conf, 'held_until', until_ms) end
elseif hold == 'key' then
  local rk = redis.call('HGET', jobs, id .. ':r')
  if rk then
    local current = tonumber(redis.call('HGET', keyrate, 'hold:' .. rk) or '0') or 0
    if until_ms > current then redis.call('HSET', keyrate, 'hold:' .. rk, until_ms) end
  end
end
slot_freed(conf, KEYS[7], KEYS[8])
return 1
