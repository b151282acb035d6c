-- ack: finish reserved jobs (state active -> done: the job's data is deleted,
-- and with a retention a done record is kept).
-- KEYS[1] active  KEYS[2] jobs  KEYS[3] unique  KEYS[4] stats  KEYS[5] conf  KEYS[6] pending  KEYS[7] wake
-- KEYS[8] done  KEYS[9] results
-- ARGV[1] elapsed_ms_total (run time of these jobs, for the stats)  ARGV[2] clock_offset_ms
-- ARGV[3] keep_done_ms (0 = keep nothing: the data is deleted and nothing else is written),
-- ARGV[4] keep_done_max_len (done records kept, newest first; 0 = bounded by the retention only),
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
-- The batch's attempt counts and unique keys are read with one HMGET and
-- the finished jobs' data removed with one HDEL. The lease is taken with one
-- ZREM per job, whose integer reply says whether this reservation held it
-- (ZMSCORE would format every score as a float: measurably slower).
-- Lengths are kept in counters (`#t` searches the table each time it is read).
local ids, attempts, results_in, fields = {}, {}, {}, {}
local width = keep > 0 and 4 or 2
local max_len = tonumber(ARGV[4]) or 0
local n, nf = 0, 0
for i = 5, #ARGV, 3 do
  local id = ARGV[i]
  n = n + 1
  ids[n], attempts[n], results_in[n] = id, ARGV[i + 1], ARGV[i + 2]
  fields[nf + 1], fields[nf + 2] = f_att(id), f_unq(id)
  if keep > 0 then fields[nf + 3], fields[nf + 4] = f_err(id), f_prg(id) end
  nf = nf + width
end
local data = call_chunked('HMGET', jobs, fields, width)
-- Done records are written with one HSET and one ZADD per call.
local records, scored, nr = {}, {}, 0
local drop, nd = {}, 0
-- The time as text once, not formatted again for every record.
local now_text = string.format('%d', now)
for k = 1, n do
  local id, at = ids[k], (k - 1) * width
  -- An id twice in one call is finished once: ZREM answers 0 the second time.
  if data[at + 1] == attempts[k] and redis.call('ZREM', active, id) == 1 then
    free_unique_key(unique, data[at + 2], id)
    if keep > 0 then
      local rec = '{"at":' .. now_text .. ',"attempts":' .. attempts[k]
      if results_in[k] ~= '' then rec = rec .. ',"result":' .. results_in[k] end
      if data[at + 3] then rec = rec .. ',"errors":' .. data[at + 3] end
      if data[at + 4] then rec = rec .. ',"progress":' .. data[at + 4] end
      records[nr + 1], records[nr + 2] = id, rec .. '}'
      scored[nr + 1], scored[nr + 2] = now_text, id
      nr = nr + 2
    end
    -- The HMGET's names of this job's attempt and unique fields serve again.
    nd = push_job_fields(drop, nd, id, fields[at + 1], fields[at + 2])
    done = done + 1
    out[k] = 1
  else
    out[k] = 0
  end
end
if done > 0 then
  call_chunked('HDEL', jobs, drop, JOB_FIELDS)
  redis.call('HINCRBY', stats, 'processed', done)
  redis.call('HINCRBY', stats, 'runtime_ms', tonumber(ARGV[1]) or 0)
  slot_freed(KEYS[5], KEYS[6], KEYS[7])
end
if nr > 0 then
  call_chunked('HSET', results, records, 2)
  call_chunked('ZADD', done_set, scored, 2)
  -- Records past the retention go, oldest first, 100 per call; and both keys
  -- expire on their own a retention after the last ack, when the queue goes quiet.
  local old = redis.call('ZRANGEBYSCORE', done_set, '-inf', '(' .. (now - keep), 'LIMIT', 0, 100)
  if #old > 0 then
    redis.call('ZREM', done_set, unpack(old))
    redis.call('HDEL', results, unpack(old))
  end
  -- And past the length bound, the oldest go whatever their age.
  if max_len > 0 then
    local over = redis.call('ZCARD', done_set) - max_len
    if over > 0 then
      local oldest = redis.call('ZRANGE', done_set, 0, over - 1)
      call_chunked('ZREM', done_set, oldest, 1)
      call_chunked('HDEL', results, oldest, 1)
    end
  end
  redis.call('PEXPIRE', done_set, keep)
  redis.call('PEXPIRE', results, keep)
end
return out
