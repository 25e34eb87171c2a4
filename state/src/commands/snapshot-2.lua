--[[
  Reads the latest state of every retained job of one channel, oldest update first.

  KEYS[1] state hash   jobId -> latest update (JSON)
  KEYS[2] index zset   jobId scored by the Unix ms of its last update

  ARGV[1] oldest Unix ms still retained (now - ttl; 0 = all)
  ARGV[2] most jobs to return, the newest ones (0 = all)

  Returns: a flat list of JSON texts
]]
local ids
local limit = tonumber(ARGV[2])
if limit > 0 then
  ids = redis.call("ZRANGEBYSCORE", KEYS[2], ARGV[1], "+inf")
  if #ids > limit then
    local kept = {}
    for i = #ids - limit + 1, #ids do kept[#kept + 1] = ids[i] end
    ids = kept
  end
else
  ids = redis.call("ZRANGEBYSCORE", KEYS[2], ARGV[1], "+inf")
end
if #ids == 0 then return {} end
local states = {}
-- HMGET in chunks keeps the argument list within Lua's unpack limit.
for i = 1, #ids, 1000 do
  local chunk = {}
  for j = i, math.min(i + 999, #ids) do chunk[#chunk + 1] = ids[j] end
  local values = redis.call("HMGET", KEYS[1], unpack(chunk))
  for _, v in ipairs(values) do
    if v then states[#states + 1] = v end
  end
end
return states
