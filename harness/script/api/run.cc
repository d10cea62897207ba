// secret(name), artifact(name, content), print(...), sleep(seconds), now(), check_abort()
#include <algorithm>
#include <cmath>

#include "base/wait.h"
#include "script/api/api.h"
#include "script/engine.h"

namespace harness {

ScriptHost* RequireHost(lua_State* L, const char* what) {
  ScriptHost* host = ScriptEngine::From(L)->host();
  if (host == nullptr) {
    luaL_error(L, "%s is only available inside hooks (ready, tests), not while the script loads",
               what);
  }
  return host;
}

namespace {

int SecretFn(lua_State* L) {
  std::string name = luaL_checkstring(L, 1);
  ScriptHost* host = RequireHost(L, "secret");
  Result<std::string> v = host->Secret(name);
  if (!v.ok()) {
    lua_pushstring(L, v.status().message().c_str());
    return lua_error(L);
  }
  lua_pushlstring(L, v->data(), v->size());
  return 1;
}

int ArtifactFn(lua_State* L) {
  std::string name = luaL_checkstring(L, 1);
  size_t n = 0;
  const char* content = luaL_checklstring(L, 2, &n);
  ScriptHost* host = RequireHost(L, "artifact");
  Status s = host->Artifact(name, std::string(content, n));
  if (!s.ok()) {
    lua_pushstring(L, ("artifact: " + s.message()).c_str());
    return lua_error(L);
  }
  return 0;
}

// A printed line is cut at this length (artifact() keeps more).
constexpr size_t kMaxPrintLine = size_t{64} << 10;

// Appends what fits in kMaxPrintLine of the `n` bytes at `s`, counting the rest in `*cut`.
void AppendCapped(std::string* line, const char* s, size_t n, size_t* cut) {
  size_t room = kMaxPrintLine - std::min(line->size(), kMaxPrintLine);
  line->append(s, std::min(n, room));
  *cut += n - std::min(n, room);
}

int PrintFn(lua_State* L) {
  int n = lua_gettop(L);
  std::string line;
  size_t cut = 0;
  lua_getglobal(L, "tostring");
  for (int i = 1; i <= n; ++i) {
    lua_pushvalue(L, -1);
    lua_pushvalue(L, i);
    lua_call(L, 1, 1);
    size_t len = 0;
    const char* s = lua_tolstring(L, -1, &len);
    if (s == nullptr) {
      s = "?";
      len = 1;
    }
    if (i > 1) AppendCapped(&line, "\t", 1, &cut);
    AppendCapped(&line, s, len, &cut);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if (cut > 0) line += "... (" + std::to_string(cut) + " more bytes cut)";
  ScriptEngine* engine = ScriptEngine::From(L);
  if (ScriptHost* host = engine->host()) {
    host->Print(line);
  } else {
    engine->AddLoadOutput(line);
  }
  return 0;
}

// Sleeps up to `seconds`, waking early for cancellation; raises the abort error when the
// hook's deadline comes first.
int SleepFn(lua_State* L) {
  double secs = luaL_checknumber(L, 1);
  luaL_argcheck(L, secs >= 0 && std::isfinite(secs), 1, "seconds must be >= 0");
  ScriptEngine* engine = ScriptEngine::From(L);
  ScriptHost* host = engine->host();
  const CancelToken& cancel = host ? host->cancel() : CancelToken::None();
  Deadline until = Deadline::In(Duration(static_cast<long long>(secs * 1000)));
  while (true) {
    engine->CheckAbort(L);
    if (until.passed()) return 0;
    Duration left = until.Min(engine->deadline()).remaining();
    WaitFor(Duration(std::min<long long>(left.count() + 1, 200)), cancel);
  }
}

int NowFn(lua_State* L) {
  auto t = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch());
  lua_pushnumber(L, static_cast<double>(t.count()) / 1e6);
  return 1;
}

// Raises the abort error when the hook must stop (deadline, interrupt, memory limit): the
// sandbox's pcall calls it after catching an error, so that a script which caught its own
// "not enough memory" stops at once.
int CheckAbortFn(lua_State* L) {
  ScriptEngine::From(L)->CheckAbort(L);
  return 0;
}

}  // namespace

void RegisterRunApi(lua_State* L, int idx) {
  const luaL_Reg fns[] = {
      {"secret", SecretFn}, {"artifact", ArtifactFn},      {"print", PrintFn}, {"sleep", SleepFn},
      {"now", NowFn},       {"check_abort", CheckAbortFn}, {nullptr, nullptr}};
  for (const luaL_Reg* f = fns; f->name; ++f) {
    lua_pushcfunction(L, f->func);
    lua_setfield(L, idx, f->name);
  }
}

}  // namespace harness
