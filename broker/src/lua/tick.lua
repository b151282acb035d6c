-- tick: enqueue one tick of a schedule, once across every scheduler: the
-- claim (the schedule's last enqueued tick) and the enqueue are one step.
-- KEYS[1] ticks  KEYS[2] pending  KEYS[3] jobs  KEYS[4] wake
-- ARGV[1] clock_offset_ms  ARGV[2] name  ARGV[3] tick_ms  ARGV[4] id  ARGV[5] envelope  ARGV[6] max_attempts
-- Returns 1 when this call enqueued the tick, 0 when that tick or a later
-- one of the schedule was already enqueued (by this or another scheduler).
-- The job is ready at once, ranked by its tick time; its id is the tick's
-- deterministic id (cron:<name>:<tick ms>), so it is written like enqueue's.
local ticks, pending, jobs, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local bad = check_types({ [ticks] = 'hash', [pending] = 'zset', [jobs] = 'hash', [wake] = 'list' })
if bad then return bad end
local name, tick, id = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local last = tonumber(redis.call('HGET', ticks, name) or '')
if last and last >= tick then return 0 end
redis.call('HSET', ticks, name, tick)
if redis.call('HEXISTS', jobs, f_env(id)) == 1 then return 0 end
local now = now_ms(ARGV[1])
redis.call('HSET', jobs, f_env(id), ARGV[5], f_max(id), ARGV[6])
redis.call('ZADD', pending, math.min(tick, now), id)
wake_one(wake)
return 1
