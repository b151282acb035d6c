-- release: put reserved jobs back to pending without counting the attempt
-- (graceful shutdown).
-- KEYS[1] active  KEYS[2] pending  KEYS[3] jobs  KEYS[4] wake
-- ARGV[1] clock_offset_ms, then pairs: id, attempt
-- Returns, per job, 1 when released and 0 when the lease was already lost.
local active, pending, jobs, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local bad = check_types({ [active] = 'zset', [pending] = 'zset', [jobs] = 'hash', [wake] = 'list' })
if bad then return bad end
local now = now_ms(ARGV[1])
local out = {}
local any = false
for i = 2, #ARGV, 2 do
  local id, attempt = ARGV[i], ARGV[i + 1]
  if take_lease(active, jobs, id, attempt) then
    redis.call('HSET', jobs, f_att(id), tonumber(attempt) - 1)
    redis.call('ZADD', pending, now, id)
    any = true
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
if any then wake_one(wake) end
return out
