// Hostile scripts against the sandbox (lua/harness/sandbox.lua): what is left out is an
// error naming it, string methods cannot be bent, and the engine carries on.
#include <catch2/catch.hpp>

#include "script/engine.h"
#include "support/fake_host.h"

namespace harness {
namespace {

using testing::FakeHost;

Result<RecipeSpec> Load(const std::string& src) {
  ScriptEngine e("recipes/s/recipe.lua", "s");
  return e.Load(src);
}

TEST_CASE("sandbox: reaching for a removed global names it", "[script]") {
  struct Case {
    const char* expr;
    const char* name;
  };
  const Case cases[] = {
      {"io.open('/etc/passwd')", "io"},
      {"os.execute('true')", "os.execute"},
      {"os.exit(1)", "os.exit"},
      {"os.getenv('HOME')", "os.getenv"},
      {"os.remove('/tmp/x')", "os.remove"},
      {"require('ffi')", "require"},
      {"ffi.C", "ffi"},
      {"jit.on()", "jit"},
      {"package.loaded.ffi", "package"},
      {"load('return 1')", "load"},
      {"loadstring('return 1')", "loadstring"},
      {"dofile('/etc/passwd')", "dofile"},
      {"loadfile('/etc/passwd')", "loadfile"},
      {"debug.sethook()", "debug"},
      {"collectgarbage('count')", "collectgarbage"},
      {"setfenv(1, {})", "setfenv"},
      {"getfenv(1)", "getfenv"},
      {"rawset(_G, 'x', 1)", "rawset"},
      {"_G.io", "_G"},
      {"newproxy(true)", "newproxy"},
      {"module('x')", "module"},
      {"coroutine.wrap(print)", "coroutine"},
      {"string.dump(print)", "string.dump"},
      {"(''):dump()", "string.dump"},
      {"('x').dump", "string.dump"},
      {"table.foreach({}, print)", "table.foreach"},
      {"math.randomseed(1)", "math.randomseed"},
  };
  for (const auto& c : cases) {
    INFO(c.expr);
    auto spec = Load(std::string("local x = 1\nlocal y = ") + c.expr + "\nreturn recipe {}\n");
    REQUIRE_FALSE(spec.ok());
    CHECK(spec.status().code() == Status::Code::kInvalidArgument);
    std::string want = std::string(c.name).find('.') == std::string::npos
                           ? std::string("global '") + c.name + "' is not available in recipe scripts"
                           : std::string("'") + c.name + "' is not available in recipe scripts";
    CHECK(spec.status().message() == "recipes/s/recipe.lua:2: " + want);
  }
  // A name that never existed stays an undefined global; library fields that never existed
  // read as nil, so the usual feature tests work.
  auto typo = Load("local x = prnt\nreturn recipe {}\n");
  CHECK(typo.status().message() == "recipes/s/recipe.lua:1: undefined global 'prnt'");
  auto idiom = Load("local unpack = table.unpack or unpack\nassert(unpack({1}) == 1)\n"
                    "assert(string.nope == nil and ('x').nope == nil)\nreturn recipe {}\n");
  INFO(idiom.status().ToString());
  CHECK(idiom.ok());
}

TEST_CASE("sandbox: library tables and string methods cannot be bent", "[script]") {
  // The string metatable is out of reach, so s:match() stays the library's, also for the
  // validation of the recipe's fields.
  auto mt = Load("assert(getmetatable('') == false)\nassert(getmetatable(string) == false)\n"
                 "assert(not pcall(setmetatable, string, nil))\nreturn recipe {}\n");
  INFO(mt.status().ToString());
  CHECK(mt.ok());

  auto bent = Load("string.match = function() return 'yes' end\n"
                   "assert(('abc'):match('x') == nil)\n"
                   "return recipe { name = 'NOT A NAME' }\n");
  REQUIRE_FALSE(bent.ok());
  CHECK_THAT(bent.status().message(), Catch::Contains("recipe field 'name' must be lower-case"));
}

TEST_CASE("sandbox: a hook reaching for a removed global fails, and the next runs", "[script]") {
  ScriptEngine e("recipes/s/recipe.lua", "s");
  auto spec = e.Load(R"(return recipe {
  tests = {
    { "escape", function() return io.open("/etc/passwd") end },
    { "caught", function()
        local ok, err = pcall(function() return os.execute("id") end)
        expect.ok(not ok, "os.execute refused")
        expect.contains(err, "'os.execute' is not available in recipe scripts")
      end },
    { "fine", function() expect.eq(("ab"):rep(2), "abab") end },
  },
})");
  REQUIRE(spec.ok());
  FakeHost host;
  auto escape = e.Call(spec->tests[0].fn, &host, Deadline::In(Duration(5000)));
  CHECK(escape.status.code() == Status::Code::kFailed);
  CHECK(escape.status.message() ==
        "recipes/s/recipe.lua:3: global 'io' is not available in recipe scripts");
  for (int i = 1; i < 3; ++i) {
    auto out = e.Call(spec->tests[i].fn, &host, Deadline::In(Duration(5000)));
    INFO(out.status.ToString());
    CHECK(out.status.ok());
  }
}

TEST_CASE("sandbox: a declaration cannot be changed after validation, nor made up", "[script]") {
  // Changing what recipe{} returned changes nothing the harness reads.
  ScriptEngine e("recipes/s/recipe.lua", "s");
  auto changed = e.Load(
      "local r = recipe { secrets = { x = {} } }\n"
      "r.secrets = { x = { length = 2e9 } }\nr.weight = 0\nr.compose = { '../../x.yml' }\n"
      "return r\n");
  REQUIRE(changed.ok());
  REQUIRE(changed->secrets.size() == 1);
  CHECK(changed->secrets[0].length == 32);
  CHECK(changed->weight == 1);
  CHECK(changed->compose == std::vector<std::string>{"compose.yml"});

  // A table dressed up as recipe{}'s result is refused.
  auto forged = Load(
      "local mt = getmetatable(recipe {})\n"
      "return setmetatable({ name = '../x', weight = 0, compose = {}, env = {}, secrets = {},"
      " timeouts = {}, transient = {}, tests = {} }, mt or {})\n");
  REQUIRE_FALSE(forged.ok());
  CHECK_THAT(forged.status().message(), Catch::Contains("must end with 'return recipe"));

  // A table that answers differently each time it is read is read once.
  auto shifty = Load(
      "local reads = 0\n"
      "local t = setmetatable({}, { __index = function(_, k)\n"
      "  if k ~= 'weight' then return nil end\n"
      "  reads = reads + 1\n"
      "  return reads < 3 and 2 or 1e9\n"
      "end })\n"
      "return recipe(t)\n");
  REQUIRE(shifty.ok());
  CHECK(shifty->weight == 1);
}

}  // namespace
}  // namespace harness
