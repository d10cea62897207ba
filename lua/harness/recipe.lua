-- recipe { ... }: validates a recipe script's declaration and fills in defaults.
-- Errors name the script's file and line, and the field at fault.
local defaults = require("harness.defaults")

local M = {}
-- recipe() gives the script a handle (a table with this metatable) and keeps what it made
-- of the declaration, by handle, where the script cannot reach it: the validated result,
-- or the validation error. So nothing can change the result after validation, and a
-- table the script made up itself is not taken for one.
local RECIPE = { __metatable = false }
local made = setmetatable({}, { __mode = "k" })

local fields = {
  name = true, version = true, compose = true, env = true, secrets = true,
  timeouts = true, ready = true, tests = true, description = true, weight = true,
  transient = true, source = true, pull = true, serving = true,
}
local source_fields = { git = true, path = true }
local timeout_fields = { deploy = true, test = true, teardown = true, settle = true, pull = true }
local pull_policies = { missing = true, always = true, never = true }

-- Validation errors are tables {msg=, field=}; check_result turns them into
-- "<file>:<line>: <msg>", finding the line of the field at fault in the script's source
-- (the call itself is usually a tail call, `return recipe {...}`, so it has no frame).
local function fail(msg, field) error({ msg = msg, field = field }, 0) end

local function typed(value, want, field)
  if type(value) ~= want then
    fail(string.format("recipe field '%s' must be a %s, got %s%s", field, want, type(value),
         type(value) == "string" and (" (\"" .. value .. "\")") or ""), field)
  end
end

local function suggest(name, known)
  for k in pairs(known) do
    if k:sub(1, 3) == name:sub(1, 3) then return " (did you mean '" .. k .. "'?)" end
  end
  return ""
end

local function check_name(value, field, pattern, what)
  typed(value, "string", field)
  if not value:match(pattern) then fail("recipe field '" .. field .. "' " .. what .. ": \"" .. value .. "\"", field) end
end

local function ready_probe(spec, http)
  -- ready = { url = "http://app:8080/health", status = 200 } becomes a probe function.
  local want = spec.status or 200
  return function()
    local r = http.get(spec.url, { timeout = spec.timeout or 5 })
    if r.status == want then return true end
    return false, string.format("GET %s answered %d, want %d", spec.url, r.status, want)
  end
end

local function validate(t, http)
  if type(t) ~= "table" then fail("recipe expects a table: recipe { ... }") end
  for k in pairs(t) do
    if type(k) ~= "string" or not fields[k] then
      fail("unknown recipe field '" .. tostring(k) .. "'" .. suggest(tostring(k), fields), tostring(k))
    end
  end
  local r = {}
  if t.name ~= nil then check_name(t.name, "name", "^[a-z0-9][a-z0-9-]*$", "must be lower-case letters, digits and '-'") end
  r.name = t.name
  if t.version ~= nil then check_name(t.version, "version", "^[%w][%w.+_-]*$", "is not a release tag") end
  r.version = t.version or defaults.version
  r.version_given = t.version ~= nil
  if t.description ~= nil then typed(t.description, "string", "description") end

  -- source = { git = "<repository>", path = "<subfolder>" }: the recipe's files come from a
  -- git repository whose tags are its releases, not from the recipe folder.
  if t.source ~= nil then
    typed(t.source, "table", "source")
    for k in pairs(t.source) do
      if not source_fields[k] then
        fail("unknown recipe field 'source." .. tostring(k) .. "'" .. suggest(tostring(k), source_fields), tostring(k))
      end
    end
    typed(t.source.git, "string", "source.git")
    local url = t.source.git
    if url == "" or url:sub(1, 1) == "-" or url:find("[%c%s]") or url:find("::", 1, true) then
      fail("recipe field 'source.git' is not a repository address: \"" .. url .. "\"", "git")
    end
    if t.version ~= nil then
      fail("recipe field 'version' cannot be set with 'source': a git recipe's versions are its release tags", "version")
    end
    r.source_git = url
    r.source_path = ""
    if t.source.path ~= nil then
      check_name(t.source.path, "source.path", "^[%w][%w._/-]*$", "must be a folder inside the repository")
      if t.source.path:find("..", 1, true) then
        fail("recipe field 'source.path' must not leave the repository: \"" .. t.source.path .. "\"", "path")
      end
      r.source_path = t.source.path:gsub("/+$", "")
    end
  end

  r.compose = {}
  -- Without it, the recipe's COMPOSE_FILE (.env.sample) chooses, as abra does.
  r.compose_given = t.compose ~= nil
  if t.compose ~= nil then
    typed(t.compose, "table", "compose")
    for i, f in ipairs(t.compose) do
      check_name(f, "compose[" .. i .. "]", "^[%w][%w._-]*%.ya?ml$", "must be a compose file name in the recipe folder")
      r.compose[i] = f
    end
    if #r.compose == 0 then fail("recipe field 'compose' must list at least one file", "compose") end
  else
    for i, f in ipairs(defaults.compose) do r.compose[i] = f end
  end

  r.env = {}
  for k, v in pairs(defaults.env) do r.env[k] = v end
  if t.env ~= nil then
    typed(t.env, "table", "env")
    for k, v in pairs(t.env) do
      if type(k) ~= "string" or not k:match("^[A-Za-z_][A-Za-z0-9_]*$") then
        fail("recipe field 'env' has a bad variable name: " .. tostring(k), "env")
      end
      if type(v) == "number" then v = tostring(v) end
      typed(v, "string", "env." .. k)
      r.env[k] = v
    end
  end

  r.secrets = {}
  if t.secrets ~= nil then
    typed(t.secrets, "table", "secrets")
    for k, v in pairs(t.secrets) do
      if type(k) ~= "string" or not k:match("^[a-z][a-z0-9_]*$") then
        fail("recipe field 'secrets' has a bad secret name: " .. tostring(k) .. " (use a-z, 0-9, _)", "secrets")
      end
      if v == true then v = {} end
      typed(v, "table", "secrets." .. k)
      local length = v.length or defaults.secret_length
      typed(length, "number", "secrets." .. k .. ".length")
      if length < 8 or length > 1024 or length % 1 ~= 0 then
        fail("recipe field 'secrets." .. k .. ".length' must be a whole number from 8 to 1024", "length")
      end
      local charset = v.charset or "alnum"
      if charset ~= "alnum" and charset ~= "hex" and charset ~= "special" then
        fail("recipe field 'secrets." .. k .. ".charset' must be \"alnum\", \"hex\" or \"special\"", "charset")
      end
      r.secrets[k] = { length = length, charset = charset }
    end
  end

  r.timeouts = {}
  for k, v in pairs(defaults.timeouts) do r.timeouts[k] = v end
  if t.timeouts ~= nil then
    typed(t.timeouts, "table", "timeouts")
    for k, v in pairs(t.timeouts) do
      if not timeout_fields[k] then
        fail("unknown recipe field 'timeouts." .. tostring(k) .. "'" .. suggest(tostring(k), timeout_fields), tostring(k))
      end
      typed(v, "number", "timeouts." .. k)
      if v < 0 or (v == 0 and k ~= "settle") or v > 24 * 3600 then fail("recipe field 'timeouts." .. k .. "' must be between 0 and 86400 seconds", k) end
      r.timeouts[k] = v
    end
    -- Without it, the recipe's timeout label sets the deploy budget, as abra waits.
    r.deploy_given = t.timeouts.deploy ~= nil
  end

  r.pull = defaults.pull
  if t.pull ~= nil then
    typed(t.pull, "string", "pull")
    if not pull_policies[t.pull] then
      fail("recipe field 'pull' must be \"missing\", \"always\" or \"never\", got \"" .. t.pull .. "\"", "pull")
    end
    r.pull = t.pull
  end

  r.weight = defaults.weight
  if t.weight ~= nil then
    typed(t.weight, "number", "weight")
    if t.weight < 1 or t.weight > 16 or t.weight % 1 ~= 0 then
      fail("recipe field 'weight' must be a whole number from 1 to 16", "weight")
    end
    r.weight = t.weight
  end

  -- serving = false: no serving check; serving = { path = "/login" }: the path it asks for.
  r.serving = true
  r.serving_path = "/"
  if t.serving == false then
    r.serving = false
  elseif t.serving ~= nil then
    if type(t.serving) ~= "table" then
      fail("recipe field 'serving' must be false or { path = \"/...\" }", "serving")
    end
    for k in pairs(t.serving) do
      if k ~= "path" then fail("unknown recipe field 'serving." .. tostring(k) .. "'", tostring(k)) end
    end
    if t.serving.path ~= nil then
      check_name(t.serving.path, "serving.path", "^/[%w%-%._~/%%?=&+]*$", "must be a path that starts with /")
      r.serving_path = t.serving.path
    end
  end

  -- Known transient failure classes: the recipe's own, then the library's defaults.
  r.transient = {}
  local function add_class(c, field)
    typed(c, "table", field)
    typed(c.name, "string", field .. ".name")
    typed(c.phase, "string", field .. ".phase")
    typed(c.match, "string", field .. ".match")
    if not (c.phase == "prepare" or c.phase == "deploy" or c.phase == "converge" or c.phase == "test" or c.phase == "any") then
      fail("recipe field '" .. field .. ".phase' must be \"prepare\", \"deploy\", \"converge\", \"test\" or \"any\"", "phase")
    end
    r.transient[#r.transient + 1] = { name = c.name, phase = c.phase, match = c.match }
  end
  if t.transient ~= nil then
    typed(t.transient, "table", "transient")
    for i, c in ipairs(t.transient) do add_class(c, "transient[" .. i .. "]") end
  end
  for i, c in ipairs(defaults.transient) do add_class(c, "defaults.transient[" .. i .. "]") end

  if t.ready ~= nil then
    if type(t.ready) == "function" then
      r.ready = t.ready
    elseif type(t.ready) == "table" then
      typed(t.ready.url, "string", "ready.url")
      if t.ready.status ~= nil then typed(t.ready.status, "number", "ready.status") end
      r.ready = ready_probe(t.ready, http)
    else
      fail("recipe field 'ready' must be a function or a table {url=..., status=...}, got " .. type(t.ready), "ready")
    end
  end

  r.tests = {}
  if t.tests ~= nil then
    typed(t.tests, "table", "tests")
    local seen = {}
    for i, test in ipairs(t.tests) do
      local field = "tests[" .. i .. "]"
      typed(test, "table", field)
      typed(test[1], "string", field .. "[1] (the test's name)")
      typed(test[2], "function", field .. "[2] (the test's function)")
      if seen[test[1]] then fail("two tests are named \"" .. test[1] .. "\"", "tests") end
      seen[test[1]] = true
      r.tests[i] = { test[1], test[2] }
    end
    for k in pairs(t.tests) do
      if type(k) ~= "number" then
        fail("recipe field 'tests' must be a list of { \"name\", function() ... end }", "tests")
      end
    end
  end
  return r
end

-- A copy of the script's table made with raw reads (no __index, no __pairs), three
-- levels of tables deep, which is every field recipe() reads: validation sees each value
-- once, as it is, whatever metatables the script set to answer differently each time.
local function snapshot(v, depth)
  if type(v) ~= "table" or depth == 0 then return v end
  local out = {}
  for k, x in next, v do out[k] = snapshot(x, depth - 1) end
  return out
end

-- The recipe function of one sandbox; `http` is that sandbox's http module.
function M.bind(http)
  return function(t)
    local ok, r = pcall(validate, snapshot(t, 3), http)
    -- Not a validation error: a bug in this library (keep its location), or the harness
    -- stopping the script.
    if not ok and (type(r) ~= "table" or r.msg == nil) then error(r, 0) end
    local handle = setmetatable({}, RECIPE)
    made[handle] = ok and { spec = r } or { invalid = r }
    return handle
  end
end

-- The line of `source` where `field` ("timeouts.deploy", "tests[2][1]") is written.
local function line_of(source, field)
  local key = field and (field:match("([%a_][%w_]*)[%[%]%d]*$") or field)
  local lines, first_recipe = {}, nil
  for line in (source .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  for i, line in ipairs(lines) do
    if not first_recipe and line:find("recipe%s*[{(]") then first_recipe = i end
  end
  if key then
    for i = first_recipe or 1, #lines do
      if lines[i]:find("%f[%w_]" .. key .. "%f[^%w_]%s*=") then return i end
    end
  end
  local index = field and tonumber(field:match("%[(%d+)%]"))
  if index and first_recipe then return first_recipe end
  return first_recipe or 1
end

-- Called by the engine with what the script returned.
function M.check_result(value, chunk_path, default_name, source)
  local m = made[value]
  if m and m.invalid then
    local e = m.invalid
    error(chunk_path .. ":" .. line_of(source, e.field) .. ": " .. e.msg, 0)
  end
  if not m then
    error(chunk_path .. ": the script must end with 'return recipe { ... }' (it returned " ..
          type(value) .. ")", 0)
  end
  local spec = m.spec
  spec.name = spec.name or default_name
  return spec
end

return M
