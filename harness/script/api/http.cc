// http_request{method=, url=, headers=, body=, timeout=} -> {status=, headers=, body=}
#include <cmath>

#include "script/api/api.h"
#include "script/engine.h"

namespace harness {
namespace {

// The most an http request's URL and headers may come to together (servers take far less).
constexpr size_t kMaxHead = size_t{1} << 20;

int HttpRequestFn(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  ScriptHost* host = RequireHost(L, "http");
  ScriptEngine* engine = ScriptEngine::From(L);
  HttpRequest req;
  lua_getfield(L, 1, "url");
  if (lua_type(L, -1) != LUA_TSTRING) return luaL_error(L, "http: 'url' must be a string");
  size_t head = lua_objlen(L, -1);  // bytes of the URL and headers so far
  if (head > kMaxHead) return luaL_error(L, "http: the URL is longer than 1 MiB");
  req.url = lua_tostring(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, 1, "method");
  if (!lua_isnil(L, -1)) req.method = luaL_checkstring(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, 1, "body");
  if (!lua_isnil(L, -1)) {
    size_t n = 0;
    const char* b = lua_tolstring(L, -1, &n);
    if (b == nullptr) return luaL_error(L, "http: 'body' must be a string");
    req.body.assign(b, n);
  }
  lua_pop(L, 1);
  lua_getfield(L, 1, "timeout");
  if (!lua_isnil(L, -1)) {
    double t = lua_tonumber(L, -1);
    if (!(t > 0) || !std::isfinite(t)) return luaL_error(L, "http: 'timeout' must be > 0 seconds");
    req.timeout = Duration(static_cast<long long>(t * 1000));
  }
  lua_pop(L, 1);
  lua_getfield(L, 1, "headers");
  if (lua_istable(L, -1)) {
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
        return luaL_error(L, "http: headers must map names to strings");
      }
      head += lua_objlen(L, -2) + lua_objlen(L, -1);
      if (head > kMaxHead) {
        return luaL_error(L, "http: the URL and headers come to more than 1 MiB");
      }
      req.headers.emplace_back(lua_tostring(L, -2), lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);

  engine->CheckAbort(L);
  Result<HttpResponse> r = host->Http(req, engine->deadline());
  if (!r.ok()) {
    Status s = r.status();
    std::string msg = "http " + req.method + " " + req.url + ": " + s.message();
    if (s.code() == Status::Code::kCancelled) engine->Abort(L, s);
    if (s.code() == Status::Code::kInfra) engine->Abort(L, Status::Infra(msg));  // not the recipe's fault
    if (engine->deadline().passed()) engine->Abort(L, Status::Timeout("ran past its time budget"));
    lua_pushstring(L, msg.c_str());
    return lua_error(L);
  }
  lua_createtable(L, 0, 4);
  lua_pushnumber(L, static_cast<lua_Number>(r->status));
  lua_setfield(L, -2, "status");
  lua_pushlstring(L, r->body.data(), r->body.size());
  lua_setfield(L, -2, "body");
  lua_pushnumber(L, Seconds(r->elapsed));
  lua_setfield(L, -2, "elapsed");
  lua_newtable(L);
  for (const auto& [k, v] : r->headers) {
    lua_pushstring(L, v.c_str());
    lua_setfield(L, -2, k.c_str());
  }
  lua_setfield(L, -2, "headers");
  return 1;
}

// http_serves(name [, budget [, path]]): nothing, or an error with the evidence.
int HttpServesFn(lua_State* L) {
  const char* name = luaL_checkstring(L, 1);
  std::string path = "/";
  if (!lua_isnoneornil(L, 3)) {
    path = luaL_checkstring(L, 3);
    if (path.empty() || path[0] != '/') return luaL_error(L, "http.serves: 'path' must start with /");
  }
  ScriptHost* host = RequireHost(L, "http.serves");
  ScriptEngine* engine = ScriptEngine::From(L);
  Deadline deadline = engine->deadline();
  if (!lua_isnoneornil(L, 2)) {
    double b = lua_tonumber(L, 2);
    if (!(b > 0) || !std::isfinite(b)) return luaL_error(L, "http.serves: 'budget' must be > 0 seconds");
    deadline = deadline.Min(Deadline::In(Duration(static_cast<long long>(b * 1000))));
  }
  engine->CheckAbort(L);
  Status s = host->Serves(name, path, deadline);
  if (s.ok()) return 0;
  if (s.code() == Status::Code::kCancelled) engine->Abort(L, s);
  if (s.code() == Status::Code::kInfra) engine->Abort(L, Status::Infra("http.serves " + std::string(name) + ": " + s.message()));
  if (engine->deadline().passed()) engine->Abort(L, Status::Timeout("ran past its time budget"));
  std::string msg = "http.serves " + std::string(name) + ": " + s.message();
  lua_pushstring(L, msg.c_str());
  return lua_error(L);
}

}  // namespace

void RegisterHttpApi(lua_State* L, int idx) {
  lua_pushcfunction(L, HttpRequestFn);
  lua_setfield(L, idx, "http_request");
  lua_pushcfunction(L, HttpServesFn);
  lua_setfield(L, idx, "http_serves");
}

}  // namespace harness
