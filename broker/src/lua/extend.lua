-- extend: push out the leases of running jobs (heartbeat of long jobs).
-- KEYS[1] active  KEYS[2] jobs
-- ARGV[1] clock_offset_ms  ARGV[2] lease_ms, then pairs: id, attempt
-- Returns, per job, 1 when extended, 2 when extended and a cancel of the job
-- was requested (its worker stops it), and 0 when the lease was already lost.
local active, jobs = KEYS[1], KEYS[2]
local bad = check_types({ [active] = 'zset', [jobs] = 'hash' })
if bad then return bad end
local until_ms = now_ms(ARGV[1]) + tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV, 2 do
  local id, attempt = ARGV[i], ARGV[i + 1]
  if holds_lease(active, jobs, id, attempt) then
    redis.call('ZADD', active, 'XX', until_ms, id)
    if redis.call('HEXISTS', jobs, f_cnc(id)) == 1 then out[#out + 1] = 2 else out[#out + 1] = 1 end
  else
    out[#out + 1] = 0
  end
end
return out
