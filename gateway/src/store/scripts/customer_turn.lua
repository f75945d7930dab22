-- A customer's message in one step, with what the bot's turn reads: the conversation and the
-- messages before the new one (or, for a repeated client_message_id, the original and what
-- followed it). A new message to a closed conversation is not stored.
-- KEYS[1] conversation (string, JSON), KEYS[2] seq counter, KEYS[3] messages,
-- KEYS[4] client message ids (see append.lua).
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
local client_id = nil
if ARGV[1] == '1' then
  client_id = ARGV[2]
  local seen, original = seen_message(KEYS[3], KEYS[4], client_id)
  if original then
    local following = {}
    if history > 0 then
      following = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. seen, '+inf', 'LIMIT', 0, history)
    end
    return { 2, conversation, original, following }
  end
end
if cjson.decode(conversation).state == 'closed' then
  return { 3, conversation, '', {} }
end
local seq, message = store_message(KEYS[2], KEYS[3], KEYS[4], client_id, ARGV[3])
local earlier = {}
if history > 0 then
  earlier = redis.call('ZREVRANGEBYSCORE', KEYS[3], '(' .. seq, '-inf', 'LIMIT', 0, history)
end
return { 1, conversation, message, earlier }
