-- A customer's message in one step, with what the bot's turn reads: the conversation and the
-- messages before the new one (or, for a repeated client_message_id, the original and what
-- followed it). A new message to a closed conversation is not stored.
-- KEYS[1] conversation (string, JSON), KEYS[2] seq counter (string),
-- KEYS[3] messages (sorted set, score = seq, member = JSON),
-- KEYS[4] client message ids (hash client_message_id -> seq).
-- ARGV[1] '1' when the message has a client_message_id, ARGV[2] that id,
-- ARGV[3] the message JSON without its "seq" field (a non-empty object),
-- ARGV[4] how many messages of history to return.
-- Returns {code, conversation JSON, message JSON, messages}: code 0 no such conversation,
-- 1 appended (messages = those before it, newest first), 2 a repeat (message = the original,
-- messages = those after it, oldest first), 3 closed (nothing stored).
local conversation = redis.call('GET', KEYS[1])
if not conversation then
  return { 0, '', '', {} }
end
local history = tonumber(ARGV[4])
local has_client_id = ARGV[1] == '1'
if has_client_id then
  local seen = redis.call('HGET', KEYS[4], ARGV[2])
  if seen then
    local original = redis.call('ZRANGEBYSCORE', KEYS[3], seen, seen)
    if original[1] then
      local following = {}
      if history > 0 then
        following = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. seen, '+inf', 'LIMIT', 0, history)
      end
      return { 2, conversation, original[1], following }
    end
  end
end
if cjson.decode(conversation).state == 'closed' then
  return { 3, conversation, '', {} }
end
local seq = string.format('%d', redis.call('INCR', KEYS[2]))
local message = '{"seq":' .. seq .. ',' .. string.sub(ARGV[3], 2)
redis.call('ZADD', KEYS[3], seq, message)
if has_client_id then
  redis.call('HSET', KEYS[4], ARGV[2], seq)
end
local earlier = {}
if history > 0 then
  earlier = redis.call('ZREVRANGEBYSCORE', KEYS[3], '(' .. seq, '-inf', 'LIMIT', 0, history)
end
return { 1, conversation, message, earlier }
