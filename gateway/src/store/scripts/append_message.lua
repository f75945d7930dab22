-- Appends a message with the next seq, unless its client_message_id was seen before.
-- KEYS[1] seq counter (string), KEYS[2] messages (sorted set, score = seq, member = JSON),
-- KEYS[3] client message ids (hash client_message_id -> seq).
-- ARGV[1] '1' when the message has a client_message_id, ARGV[2] that id,
-- ARGV[3] the message JSON without its "seq" field (a non-empty object).
-- Returns {created (1 or 0), stored message JSON}.
local has_client_id = ARGV[1] == '1'
if has_client_id then
  local seen = redis.call('HGET', KEYS[3], ARGV[2])
  if seen then
    local original = redis.call('ZRANGEBYSCORE', KEYS[2], seen, seen)
    if original[1] then
      return { 0, original[1] }
    end
  end
end
local seq = string.format('%d', redis.call('INCR', KEYS[1]))
local message = '{"seq":' .. seq .. ',' .. string.sub(ARGV[3], 2)
redis.call('ZADD', KEYS[2], seq, message)
if has_client_id then
  redis.call('HSET', KEYS[3], ARGV[2], seq)
end
return { 1, message }
