// exec(service, argv_or_shell_string [, {timeout=}]) -> {code=, stdout=, stderr=}
// logs(service [, {tail=}]) -> string
#include <cmath>

#include "script/api/api.h"
#include "script/engine.h"

namespace harness {
namespace {

Deadline OptTimeout(lua_State* L, int idx, Deadline base) {
  if (!lua_istable(L, idx)) return base;
  lua_getfield(L, idx, "timeout");
  Deadline d = base;
  if (!lua_isnil(L, -1)) {
    double t = lua_tonumber(L, -1);
    if (!(t > 0) || !std::isfinite(t)) luaL_error(L, "'timeout' must be > 0 seconds");
    d = base.Min(Deadline::In(Duration(static_cast<long long>(t * 1000))));
  }
  lua_pop(L, 1);
  return d;
}

// Turns an error from the host into the right Lua error: an abort for timeouts and
// cancellation of the hook and for infrastructure failures (a lost connection to the
// target is not the recipe's fault, and a script must not catch it), a plain message
// otherwise.
[[noreturn]] void RaiseHostError(lua_State* L, ScriptEngine* engine, const Status& s,
                                 const std::string& what) {
  if (s.code() == Status::Code::kCancelled) engine->Abort(L, s);
  if (s.code() == Status::Code::kInfra) engine->Abort(L, s.Prefixed(what));
  if (engine->deadline().passed()) engine->Abort(L, Status::Timeout("ran past its time budget"));
  lua_pushstring(L, (what + ": " + s.message()).c_str());
  lua_error(L);
  __builtin_unreachable();
}

// The longest command exec() passes on, all its words together (Linux takes 2 MiB of
// arguments and environment at most).
constexpr size_t kMaxCommand = size_t{1} << 20;

int ExecFn(lua_State* L) {
  std::string service = luaL_checkstring(L, 1);
  std::vector<std::string> argv;
  size_t words = 0;  // bytes of the command so far
  auto too_long = [&](size_t n) {
    words += n;
    return words > kMaxCommand;
  };
  if (lua_type(L, 2) == LUA_TSTRING) {
    size_t n = 0;
    const char* line = lua_tolstring(L, 2, &n);
    luaL_argcheck(L, !too_long(n), 2, "the command is longer than 1 MiB");
    argv = {"sh", "-c", std::string(line, n)};
  } else if (lua_istable(L, 2)) {
    for (int i = 1;; ++i) {
      lua_rawgeti(L, 2, i);
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        break;
      }
      if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
        return luaL_argerror(L, 2, "command words must be strings");
      }
      size_t n = 0;
      const char* word = lua_tolstring(L, -1, &n);
      luaL_argcheck(L, !too_long(n + 1), 2, "the command is longer than 1 MiB");
      argv.emplace_back(word, n);
      lua_pop(L, 1);
    }
    luaL_argcheck(L, !argv.empty(), 2, "empty command");
  } else {
    return luaL_argerror(L, 2, "expected a command: a table of words or a shell string");
  }
  ScriptHost* host = RequireHost(L, "exec");
  ScriptEngine* engine = ScriptEngine::From(L);
  engine->CheckAbort(L);
  Deadline d = OptTimeout(L, 3, engine->deadline());
  Result<ProcessResult> r = host->Exec(service, argv, d);
  if (!r.ok()) RaiseHostError(L, engine, r.status(), "exec in " + service);
  if (r->cancelled) engine->Abort(L, Status::Cancelled("interrupted"));
  if (r->timed_out) {
    if (engine->deadline().passed()) engine->Abort(L, Status::Timeout("ran past its time budget"));
    return luaL_error(L, "exec in %s: %s", service.c_str(), r->Describe().c_str());
  }
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, r->exit_code);
  lua_setfield(L, -2, "code");
  lua_pushlstring(L, r->out.data(), r->out.size());
  lua_setfield(L, -2, "stdout");
  lua_pushlstring(L, r->err.data(), r->err.size());
  lua_setfield(L, -2, "stderr");
  return 1;
}

int LogsFn(lua_State* L) {
  std::string service = luaL_checkstring(L, 1);
  int tail = 100;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "tail");
    if (!lua_isnil(L, -1)) tail = static_cast<int>(luaL_checkinteger(L, -1));
    lua_pop(L, 1);
    luaL_argcheck(L, tail > 0 && tail <= 100000, 2, "'tail' must be between 1 and 100000");
  }
  ScriptHost* host = RequireHost(L, "logs");
  ScriptEngine* engine = ScriptEngine::From(L);
  engine->CheckAbort(L);
  Result<std::string> r = host->Logs(service, tail, engine->deadline());
  if (!r.ok()) RaiseHostError(L, engine, r.status(), "logs of " + service);
  lua_pushlstring(L, r->data(), r->size());
  return 1;
}

}  // namespace

void RegisterServiceApi(lua_State* L, int idx) {
  lua_pushcfunction(L, ExecFn);
  lua_setfield(L, idx, "exec");
  lua_pushcfunction(L, LogsFn);
  lua_setfield(L, idx, "logs");
}

}  // namespace harness
