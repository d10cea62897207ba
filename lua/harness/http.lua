-- http.request{...}, the http.get/post/... shorthands and http.serves. The host of a URL is a
-- service name of the deploy, which the engine resolves to one of the service's containers,
-- or a name the recipe's router rules give, reached through the Swarm's proxy.
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
  -- http.serves(name [, { budget = seconds, path = "/" }]): passes when https://<name><path> serves through
  -- the Swarm's proxy (verified certificate, a 2xx or 3xx that is not the proxy's own
  -- answer), tried until the budget (default: the rest of the hook's); fails with the
  -- evidence otherwise.
  function http.serves(name, opts)
    if type(name) ~= "string" then error("http.serves: name must be a string", 2) end
    if opts ~= nil and type(opts) ~= "table" then error("http.serves: options must be a table", 2) end
    return api.http_serves(name, opts and opts.budget, opts and opts.path)
  end
  return http
end

return M
