-- Writes many articles; with replace, deletes every other article.
-- KEYS[1] articles (hash id -> JSON). ARGV[1] '1' to replace, then id, JSON pairs.
-- Returns the ids deleted. Commands take at most CHUNK arguments (Lua's unpack limit).
local CHUNK = 1000
local deleted = {}
if ARGV[1] == '1' then
  local keep = {}
  for i = 2, #ARGV, 2 do
    keep[ARGV[i]] = true
  end
  for _, id in ipairs(redis.call('HKEYS', KEYS[1])) do
    if not keep[id] then
      deleted[#deleted + 1] = id
    end
  end
  for first = 1, #deleted, CHUNK do
    redis.call('HDEL', KEYS[1], unpack(deleted, first, math.min(first + CHUNK - 1, #deleted)))
  end
end
for first = 2, #ARGV, CHUNK do
  redis.call('HSET', KEYS[1], unpack(ARGV, first, math.min(first + CHUNK - 1, #ARGV)))
end
return deleted
