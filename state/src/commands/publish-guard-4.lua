--[[
  A guard run in front of publish-update-4.lua: scripts.ts joins the two into one script
  (publishGuarded), so the check and the publish are one atomic step.

  KEYS and ARGV[1..7] as publish-update-4.lua, and:
  ARGV[8] "open":   refuse when the job's stored state is final (completed or failed), so nothing
                    follows a job's final update, not even a second final one
          "absent": refuse when the job has any stored state (a job's first update)

  Returns, when refused: { 0, the stored state (JSON) }; else what publish-update-4.lua returns.
]]
local guardStored = redis.call("HGET", KEYS[1], ARGV[1])
if guardStored then
  if ARGV[8] == "absent" then return { 0, guardStored } end
  local decoded, state = pcall(cjson.decode, guardStored)
  if decoded and type(state) == "table"
    and (state.status == "completed" or state.status == "failed") then
    return { 0, guardStored }
  end
end
