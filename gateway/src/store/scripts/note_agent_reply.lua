-- Records the first answer of the agent holding a conversation since it was assigned.
-- KEYS[1] the conversation. ARGV[1] agent id, ARGV[2] now (RFC 3339).
-- Returns the updated conversation JSON, or nil when nothing changed.
local raw = redis.call('GET', KEYS[1])
if not raw then
  return false
end
local conversation = cjson.decode(raw)
local assignee = conversation.assignee
if conversation.state ~= 'assigned' or type(assignee) ~= 'table' or assignee.id ~= ARGV[1] then
  return false
end
if conversation.accepted_at ~= nil then
  return false
end
conversation.accepted_at = ARGV[2]
if conversation.first_response_at == nil then
  conversation.first_response_at = ARGV[2]
end
local updated = encode(conversation)
redis.call('SET', KEYS[1], updated)
return updated
