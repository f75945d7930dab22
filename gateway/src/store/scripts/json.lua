-- Prepended to every script that rewrites a stored record.
--
-- Redis 7.0's cjson cannot tell an empty array from an empty object (both decode to `{}`,
-- both encode as `{}`) and writes numbers with 14 significant digits, so `encode` below
-- replaces `cjson.encode` for records: an empty table under a key named in ARRAY_KEYS is
-- `[]`, any other empty table `{}`; integers are written exactly (up to 2^53), other numbers
-- with the fewest digits (15 to 17) that read back as the same double; strings are escaped
-- by cjson. Decoding stays `cjson.decode`.

-- Every sequence-valued field of a record a script decodes and writes back.
local ARRAY_KEYS = {
  active = true,
  skills = true,
  tags = true,
  reasons = true,
  similar = true,
  options = true,
  required_skills = true,
  candidates = true,
}

local encode_value

local function encode_number(n)
  if n ~= n or n == math.huge or n == -math.huge then
    error('a record holds a number JSON cannot represent')
  end
  if n % 1 == 0 and n > -9007199254740992 and n < 9007199254740992 then
    return string.format('%d', n)
  end
  -- The shortest of these that reads back as the same double.
  for _, format in ipairs({ '%.15g', '%.16g' }) do
    local text = string.format(format, n)
    if tonumber(text) == n then
      return text
    end
  end
  return string.format('%.17g', n)
end

-- The number of items when `t` is a non-empty sequence 1..n, otherwise nil.
local function sequence_length(t)
  local count, max = 0, 0
  for k in pairs(t) do
    if type(k) ~= 'number' or k < 1 or k % 1 ~= 0 then
      return nil
    end
    count = count + 1
    if k > max then
      max = k
    end
  end
  if count > 0 and count == max then
    return count
  end
  return nil
end

encode_value = function(value, key)
  local kind = type(value)
  if kind == 'string' then
    return cjson.encode(value)
  elseif kind == 'number' then
    return encode_number(value)
  elseif kind == 'boolean' then
    return value and 'true' or 'false'
  elseif kind == 'table' then
    if next(value) == nil then
      if key ~= nil and ARRAY_KEYS[key] then
        return '[]'
      end
      return '{}'
    end
    local parts = {}
    local n = sequence_length(value)
    if n then
      for i = 1, n do
        parts[i] = encode_value(value[i], nil)
      end
      return '[' .. table.concat(parts, ',') .. ']'
    end
    for k, item in pairs(value) do
      if type(k) ~= 'string' then
        error('a record mixes array items and object fields')
      end
      parts[#parts + 1] = cjson.encode(k) .. ':' .. encode_value(item, k)
    end
    return '{' .. table.concat(parts, ',') .. '}'
  elseif value == cjson.null then
    return 'null'
  end
  error('a record holds a ' .. kind .. ', which JSON cannot represent')
end

local function encode(value)
  return encode_value(value, nil)
end

-- The states `ConversationState::is_ended` counts as over.
local ENDED = { resolved = true, follow_up = true, closed = true }

-- Takes a conversation off the queue: its order entry (by its rank), its entry and its rank.
-- KEYS: order (sorted set), entries (hash), ranks (hash).
local function dequeue(order_key, entries_key, ranks_key, conversation_id)
  local rank = redis.call('HGET', ranks_key, conversation_id)
  if rank then
    redis.call('ZREM', order_key, rank)
  end
  redis.call('HDEL', entries_key, conversation_id)
  redis.call('HDEL', ranks_key, conversation_id)
end

-- An agent's `active` list without one conversation (an empty list when it had none).
local function release(agent, conversation_id)
  local kept = {}
  if type(agent.active) == 'table' then
    for _, held in ipairs(agent.active) do
      if held ~= conversation_id then
        kept[#kept + 1] = held
      end
    end
  end
  agent.active = kept
end
