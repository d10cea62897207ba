#include "script/engine.h"

#include <catch2/catch.hpp>

#include "support/fake_host.h"

namespace harness {
namespace {

using testing::FakeHost;

Result<RecipeSpec> LoadScript(ScriptEngine& e, const std::string& src) { return e.Load(src); }

TEST_CASE("a minimal script gets every default", "[script]") {
  ScriptEngine e("recipes/web/recipe.lua", "web");
  auto spec = LoadScript(e, "return recipe {}\n");
  REQUIRE(spec.ok());
  CHECK(spec->name == "web");
  CHECK(spec->version == "0.0.0+local");
  CHECK(spec->compose == std::vector<std::string>{"compose.yml"});
  CHECK(spec->deploy_timeout == Duration(120000));
  CHECK(spec->test_timeout == Duration(60000));
  CHECK_FALSE(spec->ready.valid());
  CHECK(spec->tests.empty());
  CHECK(spec->serving);
  CHECK(spec->serving_path == "/");
}

TEST_CASE("the serving check can be turned off or pointed at a path; anything else is refused", "[script]") {
  ScriptEngine off("recipes/t/recipe.lua", "t");
  auto no = LoadScript(off, "return recipe { serving = false }\n");
  REQUIRE(no.ok());
  CHECK_FALSE(no->serving);
  ScriptEngine at("recipes/t/recipe.lua", "t");
  auto login = LoadScript(at, "return recipe { serving = { path = \"/login?next=%2F\" } }\n");
  REQUIRE(login.ok());
  CHECK(login->serving);
  CHECK(login->serving_path == "/login?next=%2F");
  for (const std::string bad : {"serving = true", "serving = { path = \"login\" }", "serving = { paht = \"/\" }",
                                "serving = { path = \"/a b\" }", "serving = \"/\""}) {
    INFO(bad);
    ScriptEngine e("recipes/t/recipe.lua", "t");
    auto r = LoadScript(e, "return recipe { " + bad + " }\n");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("serving"));
  }
}

TEST_CASE("declared fields are read", "[script]") {
  ScriptEngine e("recipes/notes/recipe.lua", "notes");
  auto spec = LoadScript(e, R"(
return recipe {
  version = "1.2.0+3.4",
  compose = { "compose.yml", "compose.extra.yml" },
  env = { APP_MODE = "test", WORKERS = 2 },
  secrets = { db_password = { length = 40 }, api_key = { charset = "hex" } },
  timeouts = { deploy = 30, test = 2.5 },
  ready = function() return true end,
  tests = {
    { "first", function() end },
    { "second", function() end },
  },
})");
  REQUIRE(spec.ok());
  CHECK(spec->version == "1.2.0+3.4");
  CHECK(spec->compose.size() == 2);
  CHECK(spec->env.at("WORKERS") == "2");
  REQUIRE(spec->secrets.size() == 2);
  CHECK(spec->secrets[0].name == "api_key");
  CHECK(spec->secrets[0].charset == "hex");
  CHECK(spec->secrets[0].length == 32);
  CHECK(spec->secrets[1].length == 40);
  CHECK(spec->deploy_timeout == Duration(30000));
  CHECK(spec->test_timeout == Duration(2500));
  CHECK(spec->ready.valid());
  REQUIRE(spec->tests.size() == 2);
  CHECK(spec->tests[1].name == "second");
}

TEST_CASE("compile errors name file and line and say they are compile errors", "[script]") {
  ScriptEngine e("recipes/bad/recipe.lua", "bad");
  auto spec = LoadScript(e, "return recipe {\n  version = \"1\"\n  tests = {}\n}\n");
  REQUIRE_FALSE(spec.ok());
  CHECK(spec.status().code() == Status::Code::kInvalidArgument);
  CHECK_THAT(spec.status().message(), Catch::StartsWith("compile error: recipes/bad/recipe.lua:3:"));
}

TEST_CASE("runtime errors while loading name file and line", "[script]") {
  ScriptEngine e("recipes/bad/recipe.lua", "bad");
  auto spec = LoadScript(e, "local x = 1\nlocal y = nil + x\nreturn recipe {}\n");
  REQUIRE_FALSE(spec.ok());
  CHECK_THAT(spec.status().message(), Catch::StartsWith("recipes/bad/recipe.lua:2:"));
  CHECK_THAT(spec.status().message(), !Catch::Contains("compile error"));
}

TEST_CASE("wrongly typed and unknown fields are refused with the field named", "[script]") {
  ScriptEngine e("recipes/bad/recipe.lua", "bad");
  auto typed = LoadScript(e, "return recipe {\n  timeouts = { deploy = \"soon\" },\n}\n");
  REQUIRE_FALSE(typed.ok());
  CHECK_THAT(typed.status().message(), Catch::StartsWith("recipes/bad/recipe.lua:2: "));
  CHECK_THAT(typed.status().message(), Catch::Contains("'timeouts.deploy' must be a number"));

  ScriptEngine e2("recipes/bad/recipe.lua", "bad");
  auto unknown = LoadScript(e2, "return recipe { timeout = 3 }\n");
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.status().message(), Catch::Contains("unknown recipe field 'timeout'"));
  CHECK_THAT(unknown.status().message(), Catch::Contains("did you mean 'timeouts'"));

  ScriptEngine e3("recipes/bad/recipe.lua", "bad");
  auto test_fn = LoadScript(e3, "return recipe { tests = { { \"a\", 42 } } }\n");
  REQUIRE_FALSE(test_fn.ok());
  CHECK_THAT(test_fn.status().message(), Catch::Contains("tests[1][2]"));
}

TEST_CASE("a script must return recipe{}", "[script]") {
  ScriptEngine e("recipes/bad/recipe.lua", "bad");
  auto spec = LoadScript(e, "return { version = '1' }\n");
  REQUIRE_FALSE(spec.ok());
  CHECK_THAT(spec.status().message(), Catch::Contains("must end with 'return recipe"));
}

TEST_CASE("the sandbox has no io, os.execute, loadfile or package.loadlib", "[script]") {
  for (const char* expr : {"io", "loadfile", "dofile", "loadstring", "load", "require", "package",
                           "debug", "coroutine", "collectgarbage"}) {
    ScriptEngine e("recipes/s/recipe.lua", "s");
    auto spec = LoadScript(e, std::string("local x = ") + expr + "\nreturn recipe {}\n");
    INFO(expr);
    REQUIRE_FALSE(spec.ok());
    CHECK_THAT(spec.status().message(), Catch::Contains(std::string("global '") + expr +
                                                        "' is not available in recipe scripts"));
    CHECK_THAT(spec.status().message(), Catch::StartsWith("recipes/s/recipe.lua:1:"));
  }
  ScriptEngine e("recipes/s/recipe.lua", "s");
  auto spec = LoadScript(e, "local x = os.execute\nreturn recipe {}\n");
  REQUIRE_FALSE(spec.ok());
  CHECK_THAT(spec.status().message(),
             Catch::Contains("'os.execute' is not available in recipe scripts"));
}

TEST_CASE("print while loading is kept for the run log", "[script]") {
  ScriptEngine e("recipes/p/recipe.lua", "p");
  auto spec = LoadScript(e, "print('hello', 42)\nreturn recipe {}\n");
  REQUIRE(spec.ok());
  CHECK(e.load_output() == std::vector<std::string>{"hello\t42"});
}

TEST_CASE("an endless loop while loading is stopped", "[script]") {
  ScriptEngine e("recipes/l/recipe.lua", "l");
  auto spec = LoadScript(e, "while true do end\n");
  REQUIRE_FALSE(spec.ok());
  CHECK_THAT(spec.status().message(), Catch::Contains("did not finish loading"));
}

TEST_CASE("hooks: a failing expect names the script line", "[script]") {
  ScriptEngine e("recipes/t/recipe.lua", "t");
  auto spec = LoadScript(e, R"(return recipe {
  tests = {
    { "status", function()
        local r = http.get("http://app:8080/")
        expect.eq(r.status, 200, "status of /")
      end },
  },
})");
  REQUIRE(spec.ok());
  FakeHost host;
  HttpResponse resp;
  resp.status = 404;
  host.http_answers["http://app:8080/"] = resp;
  auto out = e.Call(spec->tests[0].fn, &host, Deadline::In(Duration(5000)));
  CHECK(out.status.code() == Status::Code::kFailed);
  CHECK(out.status.message() == "recipes/t/recipe.lua:5: status of /: expected 200, got 404");
  CHECK_THAT(out.traceback, Catch::Contains("stack traceback"));
}

TEST_CASE("hooks: an endless loop is stopped at the deadline, even through pcall", "[script]") {
  ScriptEngine e("recipes/t/recipe.lua", "t");
  auto spec = LoadScript(e, R"(return recipe {
  tests = {
    { "spin", function() while true do end end },
    { "spin in pcall", function() while true do pcall(function() while true do end end) end end },
  },
})");
  REQUIRE(spec.ok());
  FakeHost host;
  for (const auto& t : spec->tests) {
    auto started = Clock::now();
    auto out = e.Call(t.fn, &host, Deadline::In(Duration(300)));
    CHECK(out.status.code() == Status::Code::kTimeout);
    CHECK(Clock::now() - started < std::chrono::seconds(3));
  }
}

TEST_CASE("hooks: eventually reports the last observation", "[script]") {
  ScriptEngine e("recipes/t/recipe.lua", "t");
  auto spec = LoadScript(e, R"(return recipe {
  tests = {
    { "wait", function()
        local n = 0
        eventually("the counter to reach 1000", function()
          n = n + 1
          return false, "counter is " .. n
        end, { budget = 0.3 })
      end },
    { "ok", function()
        local got = eventually("http answers", function()
          local r = http.get("http://app:80/")
          return r.status == 200 and r.body, "status " .. r.status
        end, { budget = 5, interval = 0.01 })
        expect.eq(got, "hi")
      end },
  },
})");
  REQUIRE(spec.ok());
  FakeHost host;
  auto out = e.Call(spec->tests[0].fn, &host, Deadline::In(Duration(5000)));
  CHECK(out.status.code() == Status::Code::kFailed);
  CHECK_THAT(out.status.message(), Catch::Contains("waiting for the counter to reach 1000"));
  CHECK_THAT(out.status.message(), Catch::Matches(".*last observation: counter is [0-9]+$"));

  HttpResponse resp;
  resp.status = 200;
  resp.body = "hi";
  host.http_answers["http://app:80/"] = resp;
  host.http_failures_before_success = 3;
  auto ok = e.Call(spec->tests[1].fn, &host, Deadline::In(Duration(5000)));
  CHECK(ok.status.ok());
  CHECK(host.calls.size() == 4);
}

TEST_CASE("hooks: secrets, artifacts, exec, logs and print reach the host", "[script]") {
  ScriptEngine e("recipes/t/recipe.lua", "t");
  auto spec = LoadScript(e, R"(return recipe {
  tests = {
    { "all", function()
        local s = secret("db_password")
        artifact("note.txt", "len=" .. #s)
        local r = exec("app", { "cat", "/run/secrets/db_password" })
        expect.eq(r.code, 0)
        expect.eq(r.stdout, s, "secret file")
        local r2 = exec("app", "echo hi && false")
        expect.contains(logs("app", { tail = 5 }), "started")
        print("namespace", run.namespace)
      end },
    { "missing secret", function() secret("nope") end },
  },
})");
  REQUIRE(spec.ok());
  RunInfo info;
  info.namespace_name = "web-abc123";
  e.SetRunInfo(info);
  FakeHost host;
  host.secrets["db_password"] = "s3cr3t";
  host.exec_answer.exit_code = 0;
  host.exec_answer.out = "s3cr3t";
  host.logs_answer = "app started\n";
  auto out = e.Call(spec->tests[0].fn, &host, Deadline::In(Duration(5000)));
  INFO(out.status.ToString());
  REQUIRE(out.status.ok());
  CHECK(host.artifacts.at("note.txt") == "len=6");
  CHECK(host.calls[0] == "exec app cat /run/secrets/db_password");
  CHECK(host.calls[1] == "exec app sh -c 'echo hi && false'");
  CHECK(host.calls[2] == "logs app 5");
  CHECK(host.printed == std::vector<std::string>{"namespace\tweb-abc123"});

  auto missing = e.Call(spec->tests[1].fn, &host, Deadline::In(Duration(5000)));
  CHECK_THAT(missing.status.message(), Catch::Contains("no secret named 'nope'"));
}

TEST_CASE("hooks: http.serves passes or fails with the host's evidence, and infra aborts the hook", "[script]") {
  ScriptEngine e("recipes/t/recipe.lua", "t");
  auto spec = LoadScript(e, R"(return recipe {
  tests = {
    { "serves", function() http.serves("api.web-abc123.example.test", { budget = 2 }) end },
    { "a path", function() http.serves("web-abc123.example.test", { path = "/login" }) end },
    { "caught", function()
        local ok, err = pcall(http.serves, "web-abc123.example.test")
        expect.ok(not ok, "a failure is an error")
        expect.contains(err, "did not serve", "its message")
      end },
    { "bad name", function() http.serves(42) end },
  },
})");
  REQUIRE(spec.ok());
  FakeHost host;
  auto out = e.Call(spec->tests[0].fn, &host, Deadline::In(Duration(5000)));
  INFO(out.status.ToString());
  CHECK(out.status.ok());
  CHECK(host.calls == std::vector<std::string>{"serves api.web-abc123.example.test/"});
  host.serves_answer = Status::Failed("https://web-abc123.example.test/ did not serve through the proxy");
  CHECK(e.Call(spec->tests[2].fn, &host, Deadline::In(Duration(5000))).status.ok());
  auto failed = e.Call(spec->tests[0].fn, &host, Deadline::In(Duration(5000)));
  CHECK(failed.status.code() == Status::Code::kFailed);
  CHECK_THAT(failed.status.message(), Catch::Contains("http.serves api.web-abc123.example.test: https://"));
  // No proxy: not the recipe's fault, and pcall cannot hide it.
  host.serves_answer = Status::Infra("there is no proxy");
  auto infra = e.Call(spec->tests[2].fn, &host, Deadline::In(Duration(5000)));
  CHECK(infra.status.code() == Status::Code::kInfra);
  CHECK_THAT(e.Call(spec->tests[3].fn, &host, Deadline::In(Duration(5000))).status.message(),
             Catch::Contains("http.serves: name must be a string"));
  host.serves_answer = Status::Ok();
  CHECK(e.Call(spec->tests[1].fn, &host, Deadline::In(Duration(5000))).status.ok());
  CHECK(host.calls.back() == "serves web-abc123.example.test/login");
}

TEST_CASE("hooks: the API refuses to act while the script loads", "[script]") {
  ScriptEngine e("recipes/t/recipe.lua", "t");
  auto spec = LoadScript(e, "local r = http.get('http://app/')\nreturn recipe {}\n");
  REQUIRE_FALSE(spec.ok());
  CHECK_THAT(spec.status().message(), Catch::Contains("only available inside hooks"));
}

TEST_CASE("hooks: a readiness table becomes a probe", "[script]") {
  ScriptEngine e("recipes/t/recipe.lua", "t");
  auto spec = LoadScript(e, "return recipe { ready = { url = 'http://app:8080/health' } }\n");
  REQUIRE(spec.ok());
  REQUIRE(spec->ready.valid());
  FakeHost host;
  HttpResponse resp;
  resp.status = 503;
  host.http_answers["http://app:8080/health"] = resp;
  auto out = e.Call(spec->ready, &host, Deadline::In(Duration(5000)));
  CHECK(out.status.ok());
  CHECK_FALSE(out.truthy);
  CHECK(out.observation == "GET http://app:8080/health answered 503, want 200");
  host.http_answers["http://app:8080/health"].status = 200;
  CHECK(e.Call(spec->ready, &host, Deadline::In(Duration(5000))).truthy);
}

TEST_CASE("StackGuard restores the Lua stack", "[script]") {
  LuaState s(ScriptLimits::kDefaultMemory);
  lua_State* L = s.get();
  int before = lua_gettop(L);
  {
    StackGuard g(L);
    lua_pushinteger(L, 1);
    lua_pushstring(L, "x");
    CHECK(g.Leaked());
  }
  CHECK(lua_gettop(L) == before);
}

}  // namespace
}  // namespace harness
