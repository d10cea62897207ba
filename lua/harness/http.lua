-- http.request{...} and the http.get/post/... shorthands. The host of a URL is a service
-- name of the deploy; the engine resolves it to one of the service's containers.
local M = {}

function M.new(api)
  local http = {}
  function http.request(req)
    if type(req) ~= "table" then
      error("http.request expects a table {url=..., method=..., headers=..., body=...}", 2)
    end
    return api.http_request(req)
  end
  local function shorthand(method)
    return function(url, opts)
      if type(url) ~= "string" then error("http." .. method:lower() .. ": url must be a string", 2) end
      local req = { method = method, url = url }
      for k, v in pairs(opts or {}) do req[k] = v end
      return api.http_request(req)
    end
  end
  http.get = shorthand("GET")
  http.head = shorthand("HEAD")
  http.post = shorthand("POST")
  http.put = shorthand("PUT")
  http.delete = shorthand("DELETE")
  return http
end

return M
