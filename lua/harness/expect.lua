-- Assertions with clear messages. Each raises an error that names the line of the
-- recipe script that called it.
local expect = {}

local function show(v)
  if type(v) == "string" then
    if #v > 200 then v = v:sub(1, 200) .. "...(" .. #v .. " bytes)" end
    -- %q writes a newline as a backslash and a real newline: keep messages on one line.
    return (string.format("%q", v):gsub("\\\n", "\\n"):gsub("\r", "\\r"))
  end
  return tostring(v)
end

local function label(what)
  return what and (what .. ": ") or ""
end

function expect.eq(actual, expected, what)
  if actual ~= expected then
    error(label(what) .. "expected " .. show(expected) .. ", got " .. show(actual), 2)
  end
  return actual
end

function expect.ne(actual, unexpected, what)
  if actual == unexpected then
    error(label(what) .. "expected anything but " .. show(unexpected), 2)
  end
  return actual
end

function expect.ok(value, what)
  if not value then
    error(label(what) .. "expected a true value, got " .. show(value), 2)
  end
  return value
end

function expect.match(s, pattern, what)
  if type(s) ~= "string" or not s:match(pattern) then
    error(label(what) .. "expected a string matching " .. show(pattern) .. ", got " .. show(s), 2)
  end
  return s
end

function expect.contains(s, needle, what)
  if type(s) ~= "string" or not s:find(needle, 1, true) then
    error(label(what) .. "expected a string containing " .. show(needle) .. ", got " .. show(s), 2)
  end
  return s
end

function expect.fail(message)
  error(tostring(message), 2)
end

return expect
