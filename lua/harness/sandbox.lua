-- Builds the environment a recipe script runs in: an allow-list of safe standard
-- functions, the recipe API, and a guard that makes reading an undefined global an error.
-- Nothing here gives a script io, os.execute, load/loadfile/loadstring/dofile, require,
-- package, debug, jit, ffi or coroutines; reaching for one of them (or for a library
-- function left out, like string.dump) is an error that names it.
local M = {}

local function unavailable(name)
  error("'" .. name .. "' is not available in recipe scripts", 3)
end

-- The `keys` of library table `t` (named `lib`); reading another function the library
-- has is an error naming it, and the table's metatable cannot be reached or replaced.
local function copy(t, keys, lib)
  local out = {}
  for _, k in ipairs(keys) do out[k] = t[k] end
  return setmetatable(out, {
    __index = function(_, k)
      if t[k] ~= nil then unavailable(lib .. "." .. tostring(k)) end
    end,
    __metatable = false,
  })
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
  local string_keys = { "byte", "char", "find", "format", "gmatch", "gsub", "len", "lower",
                        "match", "rep", "reverse", "sub", "upper" }
  env.string = copy(string, string_keys, "string")
  env.table = copy(table, { "concat", "insert", "remove", "sort", "maxn" }, "table")
  env.math = copy(math, { "abs", "ceil", "floor", "fmod", "huge", "max", "min", "pi",
                          "random", "sqrt", "log", "exp", "pow", "modf", "tointeger" }, "math")
  env.os = copy(os, { "time", "date", "clock", "difftime" }, "os")

  -- Methods of strings ("x"):rep(3) come from the string metatable's __index, which is
  -- the whole string library (string.dump with it) and shared with this library's own
  -- code. It becomes a copy of the allowed functions that the script cannot reach:
  -- getmetatable("") gives false, so no script can change what s:match() means here.
  local string_mt = getmetatable("")
  string_mt.__index = copy(string, string_keys, "string")
  string_mt.__metatable = false

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

  -- Globals left out of the sandbox (io, require, debug, jit, rawset, setfenv, ...), and
  -- modules a script could only reach through require (ffi).
  local removed = { ffi = true }
  for k in pairs(_G) do
    if env[k] == nil then removed[k] = true end
  end

  setmetatable(env, {
    __index = function(_, name)
      if removed[name] then
        error("global '" .. tostring(name) .. "' is not available in recipe scripts", 2)
      end
      error("undefined global '" .. tostring(name) .. "'", 2)
    end,
    __metatable = false,
  })
  return env
end

return M
