-- Builds the environment a recipe script runs in: an allow-list of safe standard
-- functions, the recipe API, and a guard that makes reading an undefined global an error.
-- Nothing here gives a script io, os.execute, load/loadfile/loadstring/dofile, require,
-- package, debug or coroutines.
local M = {}

local function copy(t, keys)
  local out = {}
  for _, k in ipairs(keys) do out[k] = t[k] end
  return out
end

function M.new(api, ABORT)
  local env = {}

  -- pcall/xpcall that never swallow the harness's own abort (time budget, interrupt).
  -- A caught error may be the script running into its memory limit: check_abort stops the
  -- hook then, as it does at the deadline.
  local raw_pcall, raw_xpcall, unpack, check_abort = pcall, xpcall, unpack, api.check_abort
  local function rethrow_abort(ok, ...)
    if not ok then
      if (...) == ABORT then error(ABORT, 0) end
      check_abort()
    end
    return ok, ...
  end
  env.pcall = function(f, ...) return rethrow_abort(raw_pcall(f, ...)) end
  env.xpcall = function(f, handler)
    return rethrow_abort(raw_xpcall(f, function(e)
      if e == ABORT then return ABORT end
      return handler(e)
    end))
  end

  for _, k in ipairs({ "assert", "error", "ipairs", "next", "pairs", "select", "tonumber",
                       "tostring", "type", "unpack", "rawequal", "rawget", "rawlen",
                       "setmetatable", "getmetatable" }) do
    env[k] = _G[k]
  end
  env.string = copy(string, { "byte", "char", "find", "format", "gmatch", "gsub", "len",
                              "lower", "match", "rep", "reverse", "sub", "upper" })
  env.table = copy(table, { "concat", "insert", "remove", "sort", "maxn" })
  env.math = copy(math, { "abs", "ceil", "floor", "fmod", "huge", "max", "min", "pi",
                          "random", "sqrt", "log", "exp", "pow", "modf", "tointeger" })
  env.os = copy(os, { "time", "date", "clock", "difftime" })

  env.print = api.print
  env.sleep = api.sleep
  env.secret = api.secret
  env.artifact = api.artifact
  env.exec = api.exec
  env.logs = api.logs
  env.http = require("harness.http").new(api)
  env.expect = require("harness.expect")
  env.eventually = require("harness.eventually").new(api, ABORT)
  env.recipe = require("harness.recipe").bind(env.http)
  env.run = {}

  setmetatable(env, {
    __index = function(_, name)
      error("undefined global '" .. tostring(name) .. "'", 2)
    end,
  })
  return env
end

return M
