-- ring: ring a queue's doorbell unless it already rings (a waiter on Redis
-- Cluster gives back a ring that came after its worker stopped waiting).
-- KEYS[1] wake
-- Returns 1.
local bad = check_types({ [KEYS[1]] = 'list' })
if bad then return bad end
wake_one(KEYS[1])
return 1
