// Hostile scripts against the memory limit: every blow-up fails the load or the hook with
// a message naming the limit, before the memory exists, and the process carries on.
#include "script/memory_limit.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "script/engine.h"
#include "support/fake_host.h"

namespace harness {
namespace {

using testing::FakeHost;

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kLimit = 32 * kMiB;  // small, so that filling it is quick

// The resident set of this process, from /proc/self/statm. AddressSanitizer keeps freed
// memory in quarantine (256 MiB), which says nothing about what a script got: there it
// reads as 0, and the bounds hold trivially.
size_t ResidentBytes() {
#if defined(__SANITIZE_ADDRESS__)
  return 0;
#else
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
#endif
}

Result<RecipeSpec> LoadWithLimit(const std::string& src) {
  ScriptEngine e("recipes/m/recipe.lua", "m", ScriptLimits{kLimit});
  return e.Load(src);
}

TEST_CASE("MemoryLimit refuses growth past the limit only while enforced", "[script]") {
  MemoryLimit m(1000);
  void* a = MemoryLimit::Allocate(&m, nullptr, 0, 600);
  REQUIRE(a != nullptr);
  CHECK(m.used() == 600);
  {
    MemoryLimit::Enforcing on(&m);
    CHECK(MemoryLimit::Allocate(&m, nullptr, 0, 500) == nullptr);
    CHECK(m.refused());
    CHECK(m.used() == 600);
    void* smaller = MemoryLimit::Allocate(&m, a, 600, 100);  // shrinking always works
    REQUIRE(smaller != nullptr);
    a = smaller;
    CHECK(m.used() == 100);
    void* b = MemoryLimit::Allocate(&m, nullptr, 0, 900);
    REQUIRE(b != nullptr);
    CHECK(m.used() == 1000);
    MemoryLimit::Allocate(&m, b, 900, 0);
  }
  CHECK_FALSE(m.enforced());
  m.ClearRefused();
  void* big = MemoryLimit::Allocate(&m, nullptr, 0, 5000);  // not enforced: the engine's own
  REQUIRE(big != nullptr);
  CHECK_FALSE(m.refused());
  MemoryLimit::Allocate(&m, big, 5000, 0);
  MemoryLimit::Allocate(&m, a, 100, 0);
  CHECK(m.used() == 0);
}

TEST_CASE("a script that blows up memory while loading fails naming the limit", "[script]") {
  const size_t before = ResidentBytes();
  const char* scripts[] = {
      "local s = string.rep('x', 2^30)\n",
      "local s = ('x'):rep(1e9)\n",
      "local s = ('x'):rep(2^31 - 1)\n",  // past LuaJIT's own largest string
      "local s = string.rep('ab', 1e8, ('y'):rep(100))\n",
      "local s = ('x'):rep(1e6)\nwhile true do s = s .. s end\n",
      "local t = {}\nfor i = 1, 1e9 do t[i] = i end\n",
      "local t = {}\nfor i = 1, 1e9 do t[#t + 1] = ('x'):rep(100) .. i end\n",
      "local t = {}\nfor i = 1, 1e8 do t[i] = {} end\n",
      "local t, k = {}, ('k'):rep(64)\nfor i = 1, 1e9 do t[k .. i] = true end\n",
      "local t = {}\nfor i = 1, 64 do t[i] = ('x'):rep(2^20) end\nlocal s = table.concat(t)\n",
      "local s = ('x'):rep(8e6)\nlocal f = string.format(('%s'):rep(8), s, s, s, s, s, s, s, s)\n",
      "local s = ('x'):rep(8e6)\nlocal f = s:gsub('x', 'xxxxxxxx')\n",
      "local s = ('x'):rep(1e6)\nlocal t = {}\nfor i = 1, 1e3 do t[i] = s end\nlocal f = "
      "table.concat(t, s)\n",
      // Catching the refusal does not help: the load stops anyway.
      "for i = 1, 100 do pcall(string.rep, 'x', 1e9) end\n",
      "local ok = xpcall(function() return ('x'):rep(1e9) end, function(e) return e end)\n"
      "while true do end\n",
  };
  for (const char* src : scripts) {
    INFO(src);
    auto spec = LoadWithLimit(std::string(src) + "return recipe {}\n");
    REQUIRE_FALSE(spec.ok());
    CHECK(spec.status().code() == Status::Code::kInvalidArgument);
    CHECK(spec.status().message() ==
          "recipes/m/recipe.lua: the script tried to use more than 32 MiB of memory (the limit of "
          "a recipe script; --script-memory) while loading");
    // Nothing near what the script asked for was ever allocated.
    CHECK(ResidentBytes() < before + 4 * kLimit);
  }
  // The process carries on: the next script loads as ever.
  auto next =
      LoadWithLimit("local t = {}\nfor i = 1, 1e4 do t[i] = ('x'):rep(10) end\nreturn recipe {}\n");
  CHECK(next.ok());
}

TEST_CASE("string.rep with a count LuaJIT cannot hold makes nothing", "[script]") {
  // LuaJIT reads the count as a 32-bit integer: 2^33 asks for no copies at all.
  auto spec = LoadWithLimit("assert(#string.rep('x', 2^33) == 0)\nreturn recipe {}\n");
  CHECK(spec.ok());
}

TEST_CASE("a hook past the memory limit fails, and the next hook runs", "[script]") {
  ScriptEngine e("recipes/m/recipe.lua", "m", ScriptLimits{kLimit});
  auto spec = e.Load(R"(return recipe {
  tests = {
    { "table", function() local t = {} for i = 1, 1e9 do t[i] = i end end },
    { "caught", function()
        local ok, err = pcall(function() local s = ("x"):rep(1e9) end)
        expect.fail("went on after " .. tostring(err))
      end },
    { "concat", function() local s = "x" while true do s = s .. s end end },
    { "fine", function()
        local t = {}
        for i = 1, 1e4 do t[i] = ("x"):rep(100) end
        expect.eq(#table.concat(t), 1e6)
      end },
  },
})");
  REQUIRE(spec.ok());
  FakeHost host;
  const size_t before = ResidentBytes();
  for (int i = 0; i < 3; ++i) {
    INFO(spec->tests[i].name);
    auto out = e.Call(spec->tests[i].fn, &host, Deadline::In(Duration(5000)));
    CHECK(out.status.code() == Status::Code::kFailed);
    CHECK(out.status.message() ==
          "recipes/m/recipe.lua: the script tried to use more than 32 MiB of memory (the limit of "
          "a recipe script; --script-memory)");
    CHECK(ResidentBytes() < before + 4 * kLimit);
  }
  auto fine = e.Call(spec->tests[3].fn, &host, Deadline::In(Duration(5000)));
  INFO(fine.status.ToString());
  CHECK(fine.status.ok());
}

TEST_CASE("garbage does not count against a script that keeps well under its limit", "[script]") {
  // 12 MiB kept in small strings, and 300 MiB of garbage made under a 32 MiB limit.
  auto spec = LoadWithLimit(R"(
local keep = {}
for i = 1, 12 * 2^20 / 128 do keep[i] = ("k"):rep(100) .. i end
local n = 0
for i = 1, 300 do
  local parts = {}
  for j = 1, 1000 do parts[j] = ("p"):rep(1000) .. j end
  n = n + #table.concat(parts)
end
assert(n > 300 * 1000 * 1000)
return recipe {}
)");
  INFO(spec.status().ToString());
  CHECK(spec.ok());
}

TEST_CASE("what the harness copies out of a script is bounded", "[script]") {
  // A string the script holds once must not become many copies in the harness.
  ScriptEngine e("recipes/m/recipe.lua", "m");
  auto spec = e.Load(R"(
local mb = ("x"):rep(2^20)
for i = 1, 100 do print(mb) end
return recipe {
  ready = function() return false, mb end,
  tests = {
    { "print", function() print(mb, mb, mb, mb, mb, mb, mb, mb) end },
    { "error", function() error(mb .. mb) end },
    { "exec", function() exec("app", { mb, mb }) end },
    { "headers", function()
        local h = {}
        for i = 1, 10 do h["X-" .. i] = mb end
        http.get("http://app/", { headers = h })
      end },
  },
})");
  REQUIRE(spec.ok());
  size_t loaded = 0;
  for (const auto& line : e.load_output()) loaded += line.size();
  CHECK(loaded <= (size_t{1} << 20) + 100);
  CHECK(e.load_output().back() == "(print output while loading cut at 1 MiB)");

  FakeHost host;
  auto run = [&](int i) { return e.Call(spec->tests[i].fn, &host, Deadline::In(Duration(5000))); };
  REQUIRE(run(0).status.ok());
  REQUIRE(host.printed.size() == 1);
  CHECK(host.printed[0].size() < (size_t{64} << 10) + 100);
  CHECK_THAT(host.printed[0], Catch::EndsWith("... (8323079 more bytes cut)"));

  auto error = run(1);
  CHECK(error.status.message().size() < (size_t{64} << 10) + 200);
  CHECK_THAT(error.status.message(), Catch::StartsWith("recipes/m/recipe.lua:8: xxx"));
  CHECK_THAT(error.status.message(), Catch::Contains("more bytes cut)"));

  CHECK_THAT(run(2).status.message(), Catch::Contains("the command is longer than 1 MiB"));
  CHECK_THAT(run(3).status.message(),
             Catch::Contains("the URL and headers come to more than 1 MiB"));
  CHECK(host.calls.empty());

  auto probe = e.Call(spec->ready, &host, Deadline::In(Duration(5000)));
  CHECK(probe.status.ok());
  CHECK(probe.observation.size() < (size_t{64} << 10) + 100);

  // The declaration's text: the same string under many names is refused.
  ScriptEngine d("recipes/m/recipe.lua", "m");
  auto env = d.Load(
      "local mb = ('v'):rep(2^20)\nlocal env = {}\nfor i = 1, 20 do env['V' .. i] = mb end\n"
      "return recipe { env = env }\n");
  REQUIRE_FALSE(env.ok());
  CHECK(env.status().message() ==
        "recipes/m/recipe.lua: the recipe's declaration holds more than 16 MiB of text");
}

}  // namespace
}  // namespace harness
