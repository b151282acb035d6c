-- promote: move due delayed and retry jobs to pending; and sweep a little of
-- the rate-key state, whose entries are stale once their time has passed
-- (a key never seen again would otherwise stay forever).
-- KEYS[1] delayed  KEYS[2] pending  KEYS[3] wake  KEYS[4] keyrate  KEYS[5] conf
-- ARGV[1] clock_offset_ms  ARGV[2] limit
-- Returns {moved, still_due} where still_due > 0 means call again.
local delayed, pending, wake = KEYS[1], KEYS[2], KEYS[3]
local bad = check_types({ [delayed] = 'zset', [pending] = 'zset', [wake] = 'list', [KEYS[4]] = 'hash', [KEYS[5]] = 'hash' })
if bad then return bad end
local now, limit = now_ms(ARGV[1]), tonumber(ARGV[2])
local moved = promote_due(delayed, pending, now, limit)
if redis.call('EXISTS', KEYS[4]) == 1 then
  local cursor = redis.call('HGET', KEYS[5], 'keyrate_cursor') or '0'
  local scan = redis.call('HSCAN', KEYS[4], cursor, 'COUNT', 100)
  local fields = scan[2]
  for i = 1, #fields, 2 do
    local t = tonumber(fields[i + 1])
    if not t or t <= now then redis.call('HDEL', KEYS[4], fields[i]) end
  end
  redis.call('HSET', KEYS[5], 'keyrate_cursor', scan[1])
end
if moved > 0 then wake_one(wake) end
return { moved, redis.call('ZCOUNT', delayed, '-inf', now) }
