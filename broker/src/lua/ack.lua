-- ack: finish reserved jobs (state active -> done: the job's data is deleted,
-- and with a retention a done record is kept).
-- KEYS[1] active  KEYS[2] jobs  KEYS[3] unique  KEYS[4] stats  KEYS[5] conf  KEYS[6] pending  KEYS[7] wake
-- KEYS[8] done  KEYS[9] results
-- ARGV[1] elapsed_ms_total (run time of these jobs, for the stats)  ARGV[2] clock_offset_ms
-- ARGV[3] keep_done_ms (0 = keep nothing: the data is deleted and nothing else is written),
-- then triples: id, attempt, result (JSON text, checked by the caller; '' = none)
-- Returns, per job, 1 when acked and 0 when this reservation no longer holds the
-- job (its lease expired and it was reclaimed).
local active, jobs, unique, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local done_set, results = KEYS[8], KEYS[9]
local keep = tonumber(ARGV[3]) or 0
local types = { [active] = 'zset', [jobs] = 'hash', [unique] = 'hash', [stats] = 'hash',
  [KEYS[5]] = 'hash', [KEYS[6]] = 'zset', [KEYS[7]] = 'list' }
if keep > 0 then types[done_set], types[results] = 'zset', 'hash' end
local bad = check_types(types)
if bad then return bad end
local now = 0
if keep > 0 then now = now_ms(ARGV[2]) end
local out = {}
local done = 0
-- Done records are written with one HSET and one ZADD per call.
local records, scored = {}, {}
for i = 4, #ARGV, 3 do
  local id, attempt, result = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if take_lease(active, jobs, id, attempt) then
    free_unique(jobs, unique, id)
    if keep > 0 then
      local kept = redis.call('HMGET', jobs, f_err(id), f_prg(id))
      local rec = '{"at":' .. now .. ',"attempts":' .. attempt
      if result ~= '' then rec = rec .. ',"result":' .. result end
      if kept[1] then rec = rec .. ',"errors":' .. kept[1] end
      if kept[2] then rec = rec .. ',"progress":' .. kept[2] end
      records[#records + 1], records[#records + 2] = id, rec .. '}'
      scored[#scored + 1], scored[#scored + 2] = now, id
    end
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
if #records > 0 then
  redis.call('HSET', results, unpack(records))
  redis.call('ZADD', done_set, unpack(scored))
  -- Records past the retention go, oldest first, 100 per call; and both keys
  -- expire on their own a retention after the last ack, when the queue goes quiet.
  local old = redis.call('ZRANGEBYSCORE', done_set, '-inf', '(' .. (now - keep), 'LIMIT', 0, 100)
  if #old > 0 then
    redis.call('ZREM', done_set, unpack(old))
    redis.call('HDEL', results, unpack(old))
  end
  redis.call('PEXPIRE', done_set, keep)
  redis.call('PEXPIRE', results, keep)
end
return out
