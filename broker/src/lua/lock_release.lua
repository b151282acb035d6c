-- Releases a fleet lock if this holder still has it.
-- KEYS[1] lock: the lock (STRING holding the holder's token)
-- ARGV[1]: the holder's token
-- Returns 1 when released, 0 when the lock is gone or held by someone else.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
