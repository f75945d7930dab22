-- Ends a conversation: its new state, off the queue, off its agent's load.
-- KEYS[1] the conversation, KEYS[2] agents, KEYS[3] queue order, KEYS[4] queue entries,
-- KEYS[5] queue ranks.
-- ARGV[1] conversation id, ARGV[2] the new state, ARGV[3] now (RFC 3339).
-- Returns {conversation JSON} or {conversation JSON, released agent JSON}, or nil when the
-- conversation is missing or has ended already.
local raw = redis.call('GET', KEYS[1])
if not raw then
  return false
end
local conversation = cjson.decode(raw)
if ENDED[conversation.state] then
  return false
end
dequeue(KEYS[3], KEYS[4], KEYS[5], ARGV[1])
local released = nil
local assignee = conversation.assignee
if type(assignee) == 'table' and type(assignee.id) == 'string' then
  local raw_agent = redis.call('HGET', KEYS[2], assignee.id)
  if raw_agent then
    local agent = cjson.decode(raw_agent)
    release(agent, ARGV[1])
    released = encode(agent)
    redis.call('HSET', KEYS[2], assignee.id, released)
  end
end
conversation.state = ARGV[2]
conversation.updated_at = ARGV[3]
conversation.ended_at = ARGV[3]
local updated = encode(conversation)
redis.call('SET', KEYS[1], updated)
if released then
  return { updated, released }
end
return { updated }
