-- Puts an assigned conversation back in the queue, if the agent still holds it.
-- KEYS[1] the conversation, KEYS[2] agents, KEYS[3] queue order, KEYS[4] queue entries,
-- KEYS[5] queue ranks.
-- ARGV[1] conversation id, ARGV[2] agent id, ARGV[3] its rank, ARGV[4] the entry JSON,
-- ARGV[5] now (RFC 3339), ARGV[6] '1' when the agent missed the accept timeout.
-- Returns {conversation JSON, agent JSON}, or nil when the agent no longer holds it.
local raw = redis.call('GET', KEYS[1])
local raw_agent = redis.call('HGET', KEYS[2], ARGV[2])
if not raw or not raw_agent then
  return false
end
local conversation = cjson.decode(raw)
local agent = cjson.decode(raw_agent)
local assignee = conversation.assignee
if conversation.state ~= 'assigned' or type(assignee) ~= 'table' or assignee.id ~= ARGV[2] then
  return false
end
release(agent, ARGV[1])
if ARGV[6] == '1' then
  agent.missed_accepts = (tonumber(agent.missed_accepts) or 0) + 1
end
conversation.state = 'queued'
conversation.assignee = nil
conversation.assigned_at = nil
conversation.accepted_at = nil
conversation.updated_at = ARGV[5]
local updated = encode(conversation)
local updated_agent = encode(agent)
redis.call('SET', KEYS[1], updated)
redis.call('HSET', KEYS[2], ARGV[2], updated_agent)
dequeue(KEYS[3], KEYS[4], KEYS[5], ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[3])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[5], ARGV[1], ARGV[3])
return { updated, updated_agent }
