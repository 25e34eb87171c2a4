--[[
  Publishes one job update and keeps the job's latest state, atomically (design section 3).

  KEYS[1] state hash   jobId -> latest update (JSON)
  KEYS[2] seq hash     jobId -> last seq
  KEYS[3] index zset   jobId scored by the Unix ms of its last update

  ARGV[1] jobId
  ARGV[2] the update as a JSON object without "seq" (its text starts with "{")
  ARGV[3] timestamp of the update, Unix ms
  ARGV[4] history.maxJobs (0 = unbounded)
  ARGV[5] history.ttlSeconds (0 = forever)
  ARGV[6] pub/sub channel to publish on

  Returns: { seq, number of subscribers that received it }
]]
local jobId = ARGV[1]
local body = ARGV[2]
local now = tonumber(ARGV[3])
local maxJobs = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])

local seq = redis.call("HINCRBY", KEYS[2], jobId, 1)
-- The payload is built by text so custom fields keep their exact bytes (no cjson round trip).
local payload
if string.len(body) > 2 then
  payload = '{"seq":' .. seq .. ',' .. string.sub(body, 2)
else
  payload = '{"seq":' .. seq .. '}'
end
redis.call("HSET", KEYS[1], jobId, payload)
redis.call("ZADD", KEYS[3], now, jobId)

local function forget(ids)
  if #ids > 0 then
    redis.call("HDEL", KEYS[1], unpack(ids))
    redis.call("HDEL", KEYS[2], unpack(ids))
    redis.call("ZREM", KEYS[3], unpack(ids))
  end
end

if ttl > 0 then
  -- Bounded per call so one publish never stalls Redis; later publishes finish the sweep.
  forget(redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", "(" .. (now - ttl * 1000), "LIMIT", 0, 1000))
  for i = 1, 3 do
    redis.call("PEXPIRE", KEYS[i], ttl * 1000)
  end
end

if maxJobs > 0 then
  local count = redis.call("ZCARD", KEYS[3])
  if count > maxJobs then
    local extra = count - maxJobs
    if extra > 1000 then extra = 1000 end
    forget(redis.call("ZRANGE", KEYS[3], 0, extra - 1))
  end
end

local receivers = redis.call("PUBLISH", ARGV[6], payload)
return { seq, receivers }
