-- Assigns a queued conversation to an agent.
-- KEYS[1] the conversation, KEYS[2] agents (hash id -> JSON), KEYS[3] queue order,
-- KEYS[4] queue entries, KEYS[5] queue ranks.
-- ARGV[1] conversation id, ARGV[2] agent id, ARGV[3] now (RFC 3339).
-- Returns {conversation JSON, agent JSON}, or nil (stale) without changing anything.
if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 0 then
  return false
end
local raw_conversation = redis.call('GET', KEYS[1])
local raw_agent = redis.call('HGET', KEYS[2], ARGV[2])
if not raw_conversation or not raw_agent then
  return false
end
local conversation = cjson.decode(raw_conversation)
local agent = cjson.decode(raw_agent)
if conversation.state ~= 'queued' or agent.presence ~= 'online' then
  return false
end
local active = agent.active
if type(active) ~= 'table' then
  active = {}
end
if #active >= (tonumber(agent.max_concurrent) or 0) then
  return false
end
for _, held in ipairs(active) do
  if held == ARGV[1] then
    return false
  end
end
dequeue(KEYS[3], KEYS[4], KEYS[5], ARGV[1])
conversation.state = 'assigned'
conversation.assignee = { id = agent.id, name = agent.name }
conversation.updated_at = ARGV[3]
conversation.assigned_at = ARGV[3]
conversation.accepted_at = nil
active[#active + 1] = ARGV[1]
agent.active = active
agent.last_assigned_at = ARGV[3]
local updated_conversation = encode(conversation)
local updated_agent = encode(agent)
redis.call('SET', KEYS[1], updated_conversation)
redis.call('HSET', KEYS[2], ARGV[2], updated_agent)
return { updated_conversation, updated_agent }
