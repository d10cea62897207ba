#include "script/engine.h"

#include <algorithm>
#include <cstring>

#include "script/api/api.h"
#include "script/library.h"

namespace harness {
namespace {

const char kEngineKey = 'e';   // registry[&kEngineKey] = engine (light userdata)
const char kAbortKey = 'a';    // registry[&kAbortKey]  = the abort sentinel table
constexpr int kHookEvery = 1000;
constexpr Duration kLoadBudget{5000};
// What the harness copies out of a script is bounded, so that a string the script holds
// once cannot become many copies in the harness: an error message or probe observation,
// the text of the declaration, the print output of loading.
constexpr size_t kMaxMessage = size_t{64} << 10;
constexpr size_t kMaxSpecText = size_t{16} << 20;
constexpr size_t kMaxLoadOutput = size_t{1} << 20;

void OnCount(lua_State* L, lua_Debug*) {
  if (ScriptEngine* e = ScriptEngine::From(L)) e->CheckAbort(L);
}

// The `n` bytes at `s`, cut to `max` bytes saying how much was cut.
std::string ClipText(const char* s, size_t n, size_t max) {
  if (n <= max) return std::string(s, n);
  return std::string(s, max) + "... (" + std::to_string(n - max) + " more bytes cut)";
}

// Message handler for lua_pcall: keeps the abort sentinel as it is and appends a
// traceback to anything else. The script's code is over when it runs, so the memory
// limit is lifted for the message (a script at its limit would have no room for it).
int Traceback(lua_State* L) {
  if (MemoryLimit* m = MemoryLimit::Of(L)) m->set_enforced(false);
  lua_pushlightuserdata(L, const_cast<char*>(&kAbortKey));
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (lua_rawequal(L, 1, -1)) {
    lua_pop(L, 1);
    return 1;
  }
  lua_pop(L, 1);
  const char* msg = lua_tostring(L, 1);
  if (msg == nullptr) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) {
      msg = lua_tostring(L, -1);
    } else {
      msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
  }
  size_t len = std::strlen(msg);
  if (len > kMaxMessage) {
    std::string cut = ClipText(msg, len, kMaxMessage);
    lua_pushlstring(L, cut.data(), cut.size());
    msg = lua_tostring(L, -1);
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

// Splits "<message>\nstack traceback:\n..." into its two parts.
void SplitTraceback(const std::string& full, std::string* msg, std::string* tb) {
  auto at = full.find("\nstack traceback:");
  if (at == std::string::npos) {
    *msg = full;
    tb->clear();
    return;
  }
  *msg = full.substr(0, at);
  *tb = full.substr(at + 1);
}

struct CallResult {
  bool ok = false;
  bool aborted = false;
  bool out_of_memory = false;  // LUA_ERRMEM reached the top (there is no traceback then)
  std::string message;
  std::string traceback;
};

// The one place that calls into Lua: `nargs` arguments above the function on the stack.
// The memory limit is enforced while the function runs, and only then.
CallResult ProtectedCall(lua_State* L, int nargs, int nresults) {
  int fn = lua_gettop(L) - nargs;
  lua_pushcfunction(L, Traceback);
  lua_insert(L, fn);
  int rc;
  {
    MemoryLimit::Enforcing enforcing(MemoryLimit::Of(L));
    rc = lua_pcall(L, nargs, nresults, fn);
  }
  lua_remove(L, fn);
  CallResult r;
  if (rc == 0) {
    r.ok = true;
    return r;
  }
  lua_pushlightuserdata(L, const_cast<char*>(&kAbortKey));
  lua_rawget(L, LUA_REGISTRYINDEX);
  r.aborted = lua_rawequal(L, -1, -2);
  lua_pop(L, 1);
  r.out_of_memory = rc == LUA_ERRMEM;
  if (!r.aborted) {
    const char* s = lua_tostring(L, -1);
    std::string full = s ? s : (r.out_of_memory ? "not enough memory" : "unknown error");
    SplitTraceback(full, &r.message, &r.traceback);
  }
  lua_pop(L, 1);
  return r;
}

// "256 MiB"; a limit that is no whole number of MiB in KiB.
std::string MemoryAmount(size_t bytes) {
  if (bytes % (size_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes >> 10) + " KiB";
}

// The strings of a declaration as they are copied out, up to kMaxSpecText in all.
class SpecText {
 public:
  // The string (or number) at `idx`; "" once the budget is spent.
  std::string Take(lua_State* L, int idx) {
    size_t n = 0;
    const char* s = lua_tolstring(L, idx, &n);
    if (s == nullptr) return "";
    if (n > left_) {
      over_ = true;
      return "";
    }
    left_ -= n;
    return std::string(s, n);
  }
  std::string Field(lua_State* L, int idx, const char* key) {
    lua_getfield(L, idx, key);
    std::string v = lua_type(L, -1) == LUA_TSTRING ? Take(L, -1) : "";
    lua_pop(L, 1);
    return v;
  }
  bool over() const { return over_; }

 private:
  size_t left_ = kMaxSpecText;
  bool over_ = false;
};

Duration FieldSeconds(lua_State* L, int idx, const char* key, Duration fallback) {
  lua_getfield(L, idx, key);
  Duration d = lua_type(L, -1) == LUA_TNUMBER
                   ? Duration(static_cast<long long>(lua_tonumber(L, -1) * 1000.0))
                   : fallback;
  lua_pop(L, 1);
  return d;
}

// Calls `each(item_index)` for every element of the array field `key` of the table at
// `idx`, with the element on top of the stack.
template <typename F>
void ForEachItem(lua_State* L, int idx, const char* key, F each) {
  lua_getfield(L, idx, key);
  for (int i = 1;; ++i) {
    lua_rawgeti(L, -1, i);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      break;
    }
    each(lua_gettop(L));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

}  // namespace

ScriptEngine* ScriptEngine::From(lua_State* L) {
  lua_pushlightuserdata(L, const_cast<char*>(&kEngineKey));
  lua_rawget(L, LUA_REGISTRYINDEX);
  auto* e = static_cast<ScriptEngine*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return e;
}

ScriptEngine::ScriptEngine(std::string chunk_path, std::string default_name, ScriptLimits limits)
    : chunk_path_(std::move(chunk_path)),
      default_name_(std::move(default_name)),
      limits_(limits),
      state_(limits.memory) {
  lua_State* L = state_.get();
  if (L == nullptr) return;
  StackGuard guard(L);
  lua_pushlightuserdata(L, const_cast<char*>(&kEngineKey));
  lua_pushlightuserdata(L, this);
  lua_rawset(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, const_cast<char*>(&kAbortKey));
  lua_newtable(L);
  lua_rawset(L, LUA_REGISTRYINDEX);

  // package.preload[name] = the compiled embedded module.
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  for (const auto& m : EmbeddedLuaModules()) {
    std::string chunk = std::string("@") + m.path;
    if (luaL_loadbuffer(L, m.source, std::strlen(m.source), chunk.c_str()) != 0) {
      abort_ = Status::Infra(std::string("embedded Lua library: ") + lua_tostring(L, -1));
      return;
    }
    lua_setfield(L, -2, m.name);
  }
  lua_pop(L, 2);

  // env = require("harness.sandbox").new(api, abort_sentinel)
  lua_getglobal(L, "require");
  lua_pushstring(L, "harness.sandbox");
  CallResult req = ProtectedCall(L, 1, 1);
  if (!req.ok) {
    abort_ = Status::Infra("embedded Lua library: " + req.message);
    return;
  }
  lua_getfield(L, -1, "new");
  lua_newtable(L);
  int api = lua_gettop(L);
  RegisterHttpApi(L, api);
  RegisterServiceApi(L, api);
  RegisterRunApi(L, api);
  lua_pushlightuserdata(L, const_cast<char*>(&kAbortKey));
  lua_rawget(L, LUA_REGISTRYINDEX);
  CallResult made = ProtectedCall(L, 2, 1);
  if (!made.ok) {
    abort_ = Status::Infra("embedded Lua library: " + made.message);
    return;
  }
  env_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
}

ScriptEngine::~ScriptEngine() = default;

void ScriptEngine::CheckAbort(lua_State* L) {
  if (host_ != nullptr && host_->cancel().cancelled()) {
    Abort(L, Status::Cancelled("interrupted by signal " + std::to_string(host_->cancel().signal())));
  }
  if (deadline_.passed()) Abort(L, Status::Timeout("ran past its time budget"));
  if (OverMemory(L)) Abort(L, Status::Failed(MemoryMessage()));
}

void ScriptEngine::AddLoadOutput(std::string line) {
  if (load_output_bytes_ > kMaxLoadOutput) return;
  load_output_bytes_ += line.size();
  if (load_output_bytes_ > kMaxLoadOutput) {
    line = "(print output while loading cut at " + MemoryAmount(kMaxLoadOutput) + ")";
  }
  load_output_.push_back(std::move(line));
}

bool ScriptEngine::OverMemory(lua_State* L) {
  if (MemoryLimit* m = state_.memory()) return m->refused();
  // Without the allocator (see LuaState), the collector's count is all there is.
  return static_cast<size_t>(lua_gc(L, LUA_GCCOUNT, 0)) > limits_.memory / 1024;
}

std::string ScriptEngine::MemoryMessage() const {
  return chunk_path_ + ": the script tried to use more than " + MemoryAmount(limits_.memory) +
         " of memory (the limit of a recipe script; --script-memory)";
}

void ScriptEngine::AfterMemoryFailure(lua_State* L) {
  if (MemoryLimit* m = state_.memory()) m->ClearRefused();
  lua_gc(L, LUA_GCCOLLECT, 0);
}

void ScriptEngine::Abort(lua_State* L, Status why) {
  abort_ = std::move(why);
  lua_pushlightuserdata(L, const_cast<char*>(&kAbortKey));
  lua_rawget(L, LUA_REGISTRYINDEX);
  lua_error(L);
  __builtin_unreachable();
}

Result<RecipeSpec> ScriptEngine::Load(const std::string& source) {
  lua_State* L = state_.get();
  if (L == nullptr) return Status::Infra("cannot create a Lua state (out of memory)");
  if (env_ref_ < 0) return abort_;
  StackGuard guard(L);
  std::string chunk = "@" + chunk_path_;
  if (luaL_loadbuffer(L, source.data(), source.size(), chunk.c_str()) != 0) {
    return Status::InvalidArgument(std::string("compile error: ") + lua_tostring(L, -1));
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, env_ref_);
  lua_setfenv(L, -2);

  host_ = nullptr;
  deadline_ = Deadline::In(kLoadBudget);
  abort_ = Status::Ok();
  lua_sethook(L, OnCount, LUA_MASKCOUNT, kHookEvery);
  CallResult r = ProtectedCall(L, 0, 1);
  lua_sethook(L, nullptr, 0, 0);
  if (!r.ok) {
    if (r.out_of_memory || OverMemory(L)) {
      AfterMemoryFailure(L);
      return Status::InvalidArgument(MemoryMessage() + " while loading");
    }
    if (r.aborted) {
      return Status::InvalidArgument(chunk_path_ + ": the script did not finish loading within " +
                                     FormatDuration(kLoadBudget) + " (an endless loop?)");
    }
    return Status::InvalidArgument(r.message);
  }
  // require("harness.recipe").check_result(value, chunk_path) validates what was returned.
  int value = lua_gettop(L);
  lua_getglobal(L, "require");
  lua_pushstring(L, "harness.recipe");
  CallResult req = ProtectedCall(L, 1, 1);
  if (!req.ok) return Status::Infra("embedded Lua library: " + req.message);
  lua_getfield(L, -1, "check_result");
  lua_pushvalue(L, value);
  lua_pushstring(L, chunk_path_.c_str());
  lua_pushstring(L, default_name_.c_str());
  lua_pushlstring(L, source.data(), source.size());
  CallResult checked = ProtectedCall(L, 4, 1);
  if (!checked.ok) return Status::InvalidArgument(checked.message);
  RecipeSpec spec;
  Status s = ReadSpec(L, lua_gettop(L), &spec);
  if (!s.ok()) return s;
  return spec;
}

Status ScriptEngine::ReadSpec(lua_State* L, int idx, RecipeSpec* spec) {
  SpecText text;
  spec->name = text.Field(L, idx, "name");
  spec->version = text.Field(L, idx, "version");
  spec->source_git = text.Field(L, idx, "source_git");
  spec->source_path = text.Field(L, idx, "source_path");

  ForEachItem(L, idx, "compose", [&](int item) { spec->compose.push_back(text.Take(L, item)); });
  auto flag = [&](const char* name) {
    lua_getfield(L, idx, name);
    bool v = lua_toboolean(L, -1) != 0;
    lua_pop(L, 1);
    return v;
  };
  spec->compose_given = flag("compose_given");
  spec->version_given = flag("version_given");
  spec->deploy_timeout_given = flag("deploy_given");
  spec->pull = text.Field(L, idx, "pull");

  lua_getfield(L, idx, "env");
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    lua_pushvalue(L, -2);
    spec->env[text.Take(L, -1)] = text.Take(L, -2);
    lua_pop(L, 2);
  }
  lua_pop(L, 1);

  lua_getfield(L, idx, "secrets");
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    SecretSpec sec;
    lua_pushvalue(L, -2);
    sec.name = text.Take(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, -1, "length");
    sec.length = static_cast<int>(lua_tointeger(L, -1));
    lua_pop(L, 1);
    sec.charset = text.Field(L, lua_gettop(L), "charset");
    spec->secrets.push_back(sec);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  std::sort(spec->secrets.begin(), spec->secrets.end(),
            [](const SecretSpec& a, const SecretSpec& b) { return a.name < b.name; });

  lua_getfield(L, idx, "timeouts");
  int t = lua_gettop(L);
  spec->deploy_timeout = FieldSeconds(L, t, "deploy", spec->deploy_timeout);
  spec->test_timeout = FieldSeconds(L, t, "test", spec->test_timeout);
  spec->teardown_timeout = FieldSeconds(L, t, "teardown", spec->teardown_timeout);
  spec->settle = FieldSeconds(L, t, "settle", spec->settle);
  spec->pull_timeout = FieldSeconds(L, t, "pull", spec->pull_timeout);
  lua_pop(L, 1);

  lua_getfield(L, idx, "weight");
  spec->weight = static_cast<int>(lua_tointeger(L, -1));
  lua_pop(L, 1);
  lua_getfield(L, idx, "serving");
  spec->serving = lua_toboolean(L, -1) != 0;
  lua_pop(L, 1);
  spec->serving_path = text.Field(L, idx, "serving_path");
  ForEachItem(L, idx, "transient", [&](int c) {
    spec->transient.push_back(
        {text.Field(L, c, "name"), text.Field(L, c, "phase"), text.Field(L, c, "match")});
  });

  lua_getfield(L, idx, "ready");
  if (lua_isfunction(L, -1)) {
    spec->ready.ref = luaL_ref(L, LUA_REGISTRYINDEX);
  } else {
    lua_pop(L, 1);
  }

  ForEachItem(L, idx, "tests", [&](int item) {
    TestSpec test;
    lua_rawgeti(L, item, 1);
    test.name = text.Take(L, -1);
    lua_pop(L, 1);
    lua_rawgeti(L, item, 2);
    test.fn.ref = luaL_ref(L, LUA_REGISTRYINDEX);
    spec->tests.push_back(std::move(test));
  });
  if (text.over()) {
    return Status::InvalidArgument(chunk_path_ + ": the recipe's declaration holds more than " +
                                   MemoryAmount(kMaxSpecText) + " of text");
  }
  return Status::Ok();
}

void ScriptEngine::SetRunInfo(const RunInfo& info) {
  lua_State* L = state_.get();
  if (L == nullptr || env_ref_ < 0) return;
  StackGuard guard(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, env_ref_);
  lua_pushstring(L, "run");  // raw: the env's __index metamethod errors on undefined names
  lua_rawget(L, -2);
  if (!lua_istable(L, -1)) return;
  auto set = [&](const char* k, const std::string& v) {
    lua_pushstring(L, v.c_str());
    lua_setfield(L, -2, k);
  };
  set("id", info.id);
  set("recipe", info.recipe);
  set("version", info.version);
  set("namespace", info.namespace_name);
  set("domain", info.domain);
}

HookOutcome ScriptEngine::Call(HookRef hook, ScriptHost* host, Deadline deadline) {
  HookOutcome out;
  lua_State* L = state_.get();
  if (L == nullptr || !hook.valid()) {
    out.status = Status::Infra("no such hook");
    return out;
  }
  StackGuard guard(L);
  host_ = host;
  deadline_ = deadline;
  abort_ = Status::Ok();
  lua_rawgeti(L, LUA_REGISTRYINDEX, hook.ref);
  lua_sethook(L, OnCount, LUA_MASKCOUNT, kHookEvery);
  CallResult r = ProtectedCall(L, 0, 2);
  lua_sethook(L, nullptr, 0, 0);
  host_ = nullptr;
  if (!r.ok && (r.out_of_memory || OverMemory(L))) {
    AfterMemoryFailure(L);
    out.status = Status::Failed(MemoryMessage());
    return out;
  }
  if (r.aborted) {
    out.status = abort_.ok() ? Status::Timeout("ran past its time budget") : abort_;
    return out;
  }
  if (!r.ok) {
    out.status = Status::Failed(r.message);
    out.traceback = r.traceback;
    return out;
  }
  out.truthy = lua_toboolean(L, -2) != 0;
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t n = 0;
    const char* o = lua_tolstring(L, -1, &n);
    out.observation = ClipText(o, n, kMaxMessage);
  }
  return out;
}

}  // namespace harness
