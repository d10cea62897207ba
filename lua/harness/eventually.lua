-- eventually(description, fn [, {budget=seconds, interval=seconds}])
-- Calls fn until it returns a true value, backing off between tries, within a budget.
-- fn may return false plus an observation string; an error raised by fn counts as a
-- failed try and its message is the observation. When the budget runs out, raises an
-- error that reports the last observation.
local M = {}

function M.new(api, ABORT)
  return function(description, fn, opts)
    if type(description) ~= "string" then error("eventually: description must be a string", 2) end
    if type(fn) ~= "function" then error("eventually: second argument must be a function", 2) end
    opts = opts or {}
    local budget = opts.budget or 30
    local interval = opts.interval or 0.1
    local max_interval = opts.max_interval or 2
    local started = api.now()
    local tries, last = 0, "no observation"
    while true do
      tries = tries + 1
      local ok, result, observation = pcall(fn)
      if not ok and result == ABORT then error(ABORT, 0) end
      if ok and result then return result, observation end
      if ok then
        last = observation ~= nil and tostring(observation) or ("returned " .. tostring(result))
      else
        last = "error: " .. tostring(result)
      end
      local elapsed = api.now() - started
      if elapsed >= budget then
        error(string.format("timed out after %.1fs (%d tries) waiting for %s; last observation: %s",
                            elapsed, tries, description, last), 2)
      end
      api.sleep(math.min(interval, budget - elapsed))
      interval = math.min(interval * 1.5, max_interval)
    end
  end
end

return M
