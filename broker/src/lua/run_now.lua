-- run_now: make one delayed job (scheduled for later, or waiting for its
-- retry after a failed attempt) pending at once, ready from now. Its
-- attempts and errors stay as they are. A job in any other state is left
-- alone (a dead job is retried by dead_retry).
-- KEYS[1] delayed  KEYS[2] pending  KEYS[3] wake
-- ARGV[1] clock_offset_ms  ARGV[2] id
-- Returns 1 when the job moved to pending, 0 when it was not delayed.
local delayed, pending, wake = KEYS[1], KEYS[2], KEYS[3]
local bad = check_types({ [delayed] = 'zset', [pending] = 'zset', [wake] = 'list' })
if bad then return bad end
local id = ARGV[2]
if redis.call('ZREM', delayed, id) == 0 then return 0 end
redis.call('ZADD', pending, now_ms(ARGV[1]), id)
wake_one(wake)
return 1
