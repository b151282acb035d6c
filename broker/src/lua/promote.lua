-- promote: move due delayed and retry jobs to pending.
-- KEYS[1] delayed  KEYS[2] pending  KEYS[3] wake
-- ARGV[1] now_ms  ARGV[2] limit
-- Returns {moved, still_due} where still_due > 0 means call again.
local delayed, pending, wake = KEYS[1], KEYS[2], KEYS[3]
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
for i = 1, #due, 2 do
  redis.call('ZADD', pending, due[i + 1], due[i])
  redis.call('ZREM', delayed, due[i])
end
local moved = #due / 2
if moved > 0 then wake_one(wake) end
return { moved, redis.call('ZCOUNT', delayed, '-inf', now) }
