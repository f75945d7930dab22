-- Counts one repeated question after the handoff.
-- KEYS[1] the conversation (string, JSON). Returns the new count, 0 when there is none.
local raw = redis.call('GET', KEYS[1])
if not raw then
  return 0
end
local conversation = cjson.decode(raw)
conversation.repeats_after_handoff = (tonumber(conversation.repeats_after_handoff) or 0) + 1
redis.call('SET', KEYS[1], encode(conversation))
return conversation.repeats_after_handoff
