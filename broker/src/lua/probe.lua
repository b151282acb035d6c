-- probe: the smallest script that does something (two commands), for
-- measuring how many script round trips one client gets from this Redis
-- (`weir bench`, broker/src/probe.rs). Not a queue operation.
-- KEYS[1] probe
-- Returns the counter after the increment.
redis.call('INCR', KEYS[1])
return redis.call('GET', KEYS[1])
