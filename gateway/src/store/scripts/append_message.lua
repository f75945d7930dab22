-- Appends a message with the next seq, unless its client_message_id was seen before.
-- KEYS[1] seq counter, KEYS[2] messages, KEYS[3] client message ids (see append.lua).
-- ARGV[1] '1' when the message has a client_message_id, ARGV[2] that id,
-- ARGV[3] the message JSON without its "seq" field (a non-empty object).
-- Returns {created (1 or 0), stored message JSON}.
local client_id = nil
if ARGV[1] == '1' then
  client_id = ARGV[2]
  local _, original = seen_message(KEYS[2], KEYS[3], client_id)
  if original then
    return { 0, original }
  end
end
local _, message = store_message(KEYS[1], KEYS[2], KEYS[3], client_id, ARGV[3])
return { 1, message }
