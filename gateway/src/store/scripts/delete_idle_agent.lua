-- Deletes an agent that holds no conversation.
-- KEYS[1] agents (hash id -> JSON). ARGV[1] agent id.
-- Returns -1 when there is no such agent, 0 when it was deleted, n > 0 when it holds n.
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then
  return -1
end
local agent = cjson.decode(raw)
local held = 0
if type(agent.active) == 'table' then
  held = #agent.active
end
if held > 0 then
  return held
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 0
