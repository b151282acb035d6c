-- ack: finish reserved jobs (state active -> done: the job's data is deleted).
-- KEYS[1] active  KEYS[2] jobs  KEYS[3] unique  KEYS[4] stats  KEYS[5] conf  KEYS[6] pending  KEYS[7] wake
-- ARGV[1] elapsed_ms_total (run time of these jobs, for the stats), then pairs: id, attempt
-- Returns, per job, 1 when acked and 0 when this reservation no longer holds the
-- job (its lease expired and it was reclaimed).
local active, jobs, unique, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local bad = check_types({ [active] = 'zset', [jobs] = 'hash', [unique] = 'hash', [stats] = 'hash',
  [KEYS[5]] = 'hash', [KEYS[6]] = 'zset', [KEYS[7]] = 'list' })
if bad then return bad end
local out = {}
local done = 0
for i = 2, #ARGV, 2 do
  local id, attempt = ARGV[i], ARGV[i + 1]
  if take_lease(active, jobs, id, attempt) then
    free_unique(jobs, unique, id)
    delete_job(jobs, id)
    done = done + 1
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
if done > 0 then
  redis.call('HINCRBY', stats, 'processed', done)
  redis.call('HINCRBY', stats, 'runtime_ms', tonumber(ARGV[1]) or 0)
  slot_freed(KEYS[5], KEYS[6], KEYS[7])
end
return out
