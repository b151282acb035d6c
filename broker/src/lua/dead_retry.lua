-- dead_retry: move dead jobs back to pending by id, their attempts reset to 0
-- (they get their full max attempts again; the errors of earlier attempts
-- are kept). Ids that are not in the dead set (retried, deleted or trimmed
-- meanwhile) are skipped. The unique key freed when the job died is not
-- taken again.
-- KEYS[1] dead  KEYS[2] pending  KEYS[3] jobs  KEYS[4] wake
-- ARGV[1] clock_offset_ms  ARGV[2..] ids (at most bounds::MAX_DEAD_BATCH)
-- Returns how many jobs moved to pending.
local dead, pending, jobs, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local bad = check_types({ [dead] = 'zset', [pending] = 'zset', [jobs] = 'hash', [wake] = 'list' })
if bad then return bad end
local now = now_ms(ARGV[1])
local moved = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('ZREM', dead, id) == 1 then
    if redis.call('HEXISTS', jobs, f_env(id)) == 1 then
      redis.call('HSET', jobs, f_att(id), 0)
      redis.call('ZADD', pending, now, id)
      moved = moved + 1
    else
      -- No data left to run: drop what remains of it.
      delete_job(jobs, id)
    end
  end
end
if moved > 0 then wake_one(wake) end
return moved
