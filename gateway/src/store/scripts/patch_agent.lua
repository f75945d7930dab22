-- Changes an agent's profile or presence, leaving its load as it is.
-- KEYS[1] agents (hash id -> JSON). ARGV[1] agent id, ARGV[2] a JSON object of the fields
-- to set (only those the patch gives). Returns the updated agent JSON, or nil.
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then
  return false
end
local agent = cjson.decode(raw)
for field, value in pairs(cjson.decode(ARGV[2])) do
  agent[field] = value
end
local updated = encode(agent)
redis.call('HSET', KEYS[1], ARGV[1], updated)
return updated
