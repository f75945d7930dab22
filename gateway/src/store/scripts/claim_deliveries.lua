-- Claims the webhook deliveries due now: moves each to the end of its lease, so no other
-- claim takes it meanwhile, and returns their records.
-- KEYS[1] the due index (sorted set, score = due time in ms), KEYS[2] the outbox (hash).
-- ARGV[1] now (ms), ARGV[2] the lease's end (ms), ARGV[3] the most to claim.
local ids = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
local claimed = {}
for _, id in ipairs(ids) do
  local raw = redis.call('HGET', KEYS[2], id)
  if raw then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    claimed[#claimed + 1] = raw
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return claimed
