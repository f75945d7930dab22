-- Moves a conversation from the bot to the queue.
-- KEYS[1] the conversation, KEYS[2] queue order (sorted set of ranks, all score 0),
-- KEYS[3] queue entries (hash id -> JSON), KEYS[4] queue ranks (hash id -> rank).
-- ARGV[1] conversation id, ARGV[2] its rank, ARGV[3] the entry JSON, ARGV[4] now (RFC 3339).
-- Returns the updated conversation JSON, or nil when it is missing or not with the bot.
local raw = redis.call('GET', KEYS[1])
if not raw then
  return false
end
local conversation = cjson.decode(raw)
if conversation.state ~= 'bot' then
  return false
end
conversation.state = 'queued'
conversation.handed_off_at = ARGV[4]
conversation.updated_at = ARGV[4]
local updated = encode(conversation)
redis.call('SET', KEYS[1], updated)
dequeue(KEYS[2], KEYS[3], KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
return updated
