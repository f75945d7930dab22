-- Reads the queue in service order (read only).
-- KEYS[1] queue order (ranks; each rank ends with the conversation id after RANK_LEN
-- characters), KEYS[2] queue entries. ARGV[1] RANK_LEN. Returns the entries' JSON.
local CHUNK = 1000
local rank_len = tonumber(ARGV[1])
local ranks = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for first = 1, #ranks, CHUNK do
  local ids = {}
  for i = first, math.min(first + CHUNK - 1, #ranks) do
    ids[#ids + 1] = string.sub(ranks[i], rank_len + 1)
  end
  for _, entry in ipairs(redis.call('HMGET', KEYS[2], unpack(ids))) do
    if entry then
      out[#out + 1] = entry
    end
  end
end
return out
