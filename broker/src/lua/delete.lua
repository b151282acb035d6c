-- delete: remove a pending, delayed or dead job by id (never an active one:
-- its worker holds it).
-- KEYS[1] pending  KEYS[2] delayed  KEYS[3] dead  KEYS[4] jobs  KEYS[5] unique
-- ARGV[1] id
-- Returns the state the job was deleted from ('pending', 'delayed', 'dead'), or false.
local pending, delayed, dead, jobs, unique = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local bad = check_types({ [pending] = 'zset', [delayed] = 'zset', [dead] = 'zset', [jobs] = 'hash', [unique] = 'hash' })
if bad then return bad end
local id = ARGV[1]
local from = remove_waiting(pending, delayed, jobs, unique, id)
if not from and redis.call('ZREM', dead, id) == 1 then
  free_unique(jobs, unique, id)
  delete_job(jobs, id)
  from = 'dead'
end
return from
