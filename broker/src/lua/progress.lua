-- progress: store the latest progress of a running attempt.
-- KEYS[1] active  KEYS[2] jobs
-- ARGV[1] id  ARGV[2] attempt  ARGV[3] progress (JSON {percent, message, at}, built by the caller)
-- Returns 1 when stored, 0 when this reservation no longer holds the job
-- (nothing is written, so a finished job's data is never brought back).
local active, jobs = KEYS[1], KEYS[2]
local bad = check_types({ [active] = 'zset', [jobs] = 'hash' })
if bad then return bad end
if not holds_lease(active, jobs, ARGV[1], ARGV[2]) then return 0 end
redis.call('HSET', jobs, f_prg(ARGV[1]), ARGV[3])
return 1
