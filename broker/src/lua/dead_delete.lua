-- dead_delete: delete dead jobs by id, with their data. Ids that are not in
-- the dead set are skipped (a job in any other state is left alone).
-- KEYS[1] dead  KEYS[2] jobs  KEYS[3] unique
-- ARGV[1..] ids (at most bounds::MAX_DEAD_BATCH)
-- Returns how many jobs were deleted.
local dead, jobs, unique = KEYS[1], KEYS[2], KEYS[3]
local bad = check_types({ [dead] = 'zset', [jobs] = 'hash', [unique] = 'hash' })
if bad then return bad end
local deleted = 0
for i = 1, #ARGV do
  local id = ARGV[i]
  if redis.call('ZREM', dead, id) == 1 then
    free_unique(jobs, unique, id)
    delete_job(jobs, id)
    deleted = deleted + 1
  end
end
return deleted
