--[[
  Publishes one job update and keeps the job's latest state, atomically (design section 3).

  KEYS[1] state hash   jobId -> latest update (JSON)
  KEYS[2] counter      the channel's last seq (a string holding an integer)
  KEYS[3] index zset   every retained jobId, scored by the Unix ms of its last update (in publish order)
  KEYS[4] done zset    the retained jobs whose last update is terminal (completed/failed), same score

  ARGV[1] jobId
  ARGV[2] the update as a JSON object without "seq" (its text starts with "{")
  ARGV[3] timestamp of the update, Unix ms
  ARGV[4] history.maxJobs (0 = unbounded)
  ARGV[5] history.ttlSeconds (0 = forever)
  ARGV[6] pub/sub channel to publish on
  ARGV[7] "1" when the update is terminal, else "0"

  Every update of the channel draws its seq from the one counter, so seq strictly increases per job
  and across the channel. The counter is no part of the retained state: retention and the TTL never
  touch it (it has no expiry), so a job trimmed or expired while it still runs, or published again
  later, goes on with a larger seq than any it had.

  A missing counter (the channel's first publish, or a Redis that lost its data: restarted without
  persistence, FLUSHALL, eviction) is first seeded with Redis's clock in microseconds (TIME: seconds
  * 1e6 + microseconds, about 1.8e15 in 2026, below 2^53 until the year 2255, so exact as a JSON
  number). A counter recreated after a loss so starts above every seq handed out before, as long as
  the channel averaged fewer than one publish per microsecond since its counter was seeded and
  Redis's clock did not go back. TIME is allowed here because scripts are replicated by their
  effects (the default since Redis 5, the only mode since 7): replicas receive the SET and INCR.

  Retention by count trims finished jobs first, oldest first, then running ones, oldest first; the job
  just published is never trimmed by its own update, so its latest state is in the next snapshot.

  Returns: { seq, number of subscribers that received it }
]]
local jobId = ARGV[1]
local body = ARGV[2]
local now = tonumber(ARGV[3])
local maxJobs = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])

if redis.call("EXISTS", KEYS[2]) == 0 then
  local time = redis.call("TIME")
  -- Built as text: a Lua number is a double and would print 1.8e15 in exponent notation.
  redis.call("SET", KEYS[2], time[1] .. string.format("%06d", tonumber(time[2])))
end
-- INCR works on the stored integer string, exactly; its reply fits a double exactly below 2^53.
local seq = redis.call("INCR", KEYS[2])
-- "%.0f" prints the exact integer; plain concatenation would print 14 significant digits.
local seqText = string.format("%.0f", seq)
-- The payload is built by text so custom fields keep their exact bytes (no cjson round trip).
local payload
if string.len(body) > 2 then
  payload = '{"seq":' .. seqText .. ',' .. string.sub(body, 2)
else
  payload = '{"seq":' .. seqText .. '}'
end
redis.call("HSET", KEYS[1], jobId, payload)
-- Scores keep publish order even within one millisecond (or under clock skew between publishers):
-- a score never falls behind the newest one, it moves 1/1024 ms past it instead.
local score = now
local newest = redis.call("ZRANGE", KEYS[3], -1, -1, "WITHSCORES")[2]
if newest and tonumber(newest) >= score then score = tonumber(newest) + 0.0009765625 end
redis.call("ZADD", KEYS[3], score, jobId)
if ARGV[7] == "1" then
  redis.call("ZADD", KEYS[4], score, jobId)
else
  redis.call("ZREM", KEYS[4], jobId)
end

local function forget(ids)
  if #ids > 0 then
    redis.call("HDEL", KEYS[1], unpack(ids))
    redis.call("ZREM", KEYS[3], unpack(ids))
    redis.call("ZREM", KEYS[4], unpack(ids))
  end
end

if ttl > 0 then
  -- Bounded per call so one publish never stalls Redis; later publishes finish the sweep.
  forget(redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", "(" .. (now - ttl * 1000), "LIMIT", 0, 1000))
  -- The counter (KEYS[2]) is left without expiry: a seq must never be handed out twice.
  for _, i in ipairs({ 1, 3, 4 }) do
    redis.call("PEXPIRE", KEYS[i], ttl * 1000)
  end
end

if maxJobs > 0 then
  local extra = redis.call("ZCARD", KEYS[3]) - maxJobs
  if extra > 1000 then extra = 1000 end
  if extra > 0 then
    local finished = redis.call("ZRANGE", KEYS[4], 0, extra - 1)
    -- The job just published holds the newest score, so it can only be last; it stays.
    if finished[#finished] == jobId then finished[#finished] = nil end
    forget(finished)
    extra = extra - #finished
    if extra > 0 then
      forget(redis.call("ZRANGE", KEYS[3], 0, extra - 1))
    end
  end
end

local receivers = redis.call("PUBLISH", ARGV[6], payload)
return { seq, receivers }
