-- Prepended to the scripts that append a message to a conversation: its seq counter (string),
-- its messages (sorted set, score = seq, member = JSON) and its client message ids (hash
-- client_message_id -> seq).

-- The seq and JSON of the message stored under client_id, or nil.
local function seen_message(msgs_key, cmid_key, client_id)
  local seen = redis.call('HGET', cmid_key, client_id)
  if seen then
    local original = redis.call('ZRANGEBYSCORE', msgs_key, seen, seen)
    if original[1] then
      return seen, original[1]
    end
  end
  return nil
end

-- Stores body (the message JSON without "seq", a non-empty object) with the next seq, under
-- client_id when there is one; returns the seq and the stored JSON, "seq" first.
local function store_message(seq_key, msgs_key, cmid_key, client_id, body)
  local seq = string.format('%d', redis.call('INCR', seq_key))
  local message = '{"seq":' .. seq .. ',' .. string.sub(body, 2)
  redis.call('ZADD', msgs_key, seq, message)
  if client_id then
    redis.call('HSET', cmid_key, client_id, seq)
  end
  return seq, message
end
