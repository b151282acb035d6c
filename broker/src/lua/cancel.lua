-- cancel: cancel one job by id. A pending or delayed job is removed at once
-- (its data deleted, its unique key freed). A running one is marked (the
-- `c:<id>` field): its worker stops it and buries it as cancelled (fail),
-- or reclaim does when that worker died; it never runs again.
-- KEYS[1] pending  KEYS[2] delayed  KEYS[3] active  KEYS[4] dead  KEYS[5] jobs  KEYS[6] unique
-- KEYS[7] stats  KEYS[8] done
-- ARGV[1] clock_offset_ms  ARGV[2] id
-- Returns {'removed', 'pending'|'delayed'}; {'requested', worker id} (a
-- running job, marked now) or {'requested_before', worker id} (marked by an
-- earlier call), the worker id '' when unknown; {'dead'}; {'done'} (acked,
-- its done record kept); {'unknown'}.
local pending, delayed, active, dead, jobs, unique = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local stats, done = KEYS[7], KEYS[8]
local bad = check_types({ [pending] = 'zset', [delayed] = 'zset', [active] = 'zset', [dead] = 'zset',
  [jobs] = 'hash', [unique] = 'hash', [stats] = 'hash', [done] = 'zset' })
if bad then return bad end
local id = ARGV[2]
local from = remove_waiting(pending, delayed, jobs, unique, id)
if from then
  redis.call('HINCRBY', stats, CANCELLED, 1)
  return { 'removed', from }
end
if redis.call('ZSCORE', active, id) then
  local worker = redis.call('HGET', jobs, f_wrk(id)) or ''
  if redis.call('HSETNX', jobs, f_cnc(id), now_ms(ARGV[1])) == 1 then
    return { 'requested', worker }
  end
  return { 'requested_before', worker }
end
if redis.call('ZSCORE', dead, id) then return { 'dead' } end
if redis.call('ZSCORE', done, id) then return { 'done' } end
return { 'unknown' }
