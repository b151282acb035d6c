-- resume: let reserve take a paused queue's jobs again, and wake a waiting worker.
-- KEYS[1] conf  KEYS[2] pending  KEYS[3] wake
-- Returns 1 when the queue was paused.
local bad = check_types({ [KEYS[1]] = 'hash', [KEYS[2]] = 'zset', [KEYS[3]] = 'list' })
if bad then return bad end
local was = redis.call('HDEL', KEYS[1], 'paused')
if redis.call('ZCARD', KEYS[2]) > 0 then wake_one(KEYS[3]) end
return was
