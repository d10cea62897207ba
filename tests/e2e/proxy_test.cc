// Deploys reached as their users reach them: by name, through the Swarm's reverse proxy,
// over TLS verified against the operator's CA. The proxy is a real one (HAProxy, from
// scripts/proxy-standin) routed by the recipes' Traefik labels; what the harness says is
// checked against what the stand-in routed and against curl.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/scope_guard.h"
#include "base/temp_dir.h"
#include "support/e2e.h"
#include "support/proxy_standin.h"
#include "support/schema_check.h"

namespace harness::testing {
namespace {

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return nlohmann::json::parse(ss.str(), nullptr, false);
}

// The test packet's entry for the test `name` ({} when there is none).
nlohmann::json TestEntry(const std::string& artifacts, const std::string& name) {
  for (const auto& entry : std::filesystem::directory_iterator(artifacts)) {
    if (entry.path().filename().string().find("-test.json") == std::string::npos) continue;
    nlohmann::json packet = ReadJson(entry.path().string());
    for (const auto& t : packet["observations"]["tests"]) {
      if (t.value("name", "") == name) return t;
    }
  }
  return nlohmann::json::object();
}

// The outcome ("passed"/"failed") and error of each test of a run, by name.
std::map<std::string, std::pair<std::string, std::string>> TestsOf(const std::string& artifacts) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  for (const auto& entry : std::filesystem::directory_iterator(artifacts)) {
    if (entry.path().filename().string().find("-test.json") == std::string::npos) continue;
    auto packet = ReadJson(entry.path().string());
    for (const auto& t : packet["observations"]["tests"]) {
      out[t.value("name", "")] = {t.value("status", ""), t.value("error", "")};
    }
  }
  return out;
}

const char* kServing = "serves its domain through the proxy";

}  // namespace

TEST_CASE("proxy: a routed recipe serves its domain, its subdomain and plain http through the proxy",
          "[proxy]") {
  ProxyStandin proxy;
  TempDir artifacts("harness-proxy");
  auto r = RunHarness({"--recipes", FixtureRecipes(), "--artifacts", artifacts.path(), "--plain", "--proxy-ca",
                       proxy.ca_file(), "run", "routed"},
                      Duration(300000));
  INFO(r.err << "\nstand-in:\n" << proxy.Log());
  REQUIRE_FALSE(r.namespace_name.empty());
  CHECK(r.exit_code == 0);
  const std::string domain = r.namespace_name + ".harness.localhost";
  // The stand-in routed the names the labels give, to the app's tasks.
  CHECK(proxy.WaitForLog("route " + domain + " -> tasks." + r.namespace_name + "_app:8080", 1000));
  CHECK(proxy.WaitForLog("route api." + domain + " -> tasks." + r.namespace_name + "_app:8080", 1000));
  auto prepare = ReadJson(r.artifacts + "/00-prepare.json");
  const auto& seen = prepare["observations"]["proxy"];
  INFO(seen.dump());
  CHECK(seen["https"] == "127.0.0.1:443");
  CHECK(seen["found"] == std::string("service ") + ProxyStandin::kStack + "_proxy publishes 443 as 443");
  CHECK(seen["ca"] == proxy.ca_file());
  auto domains = seen["domains"].get<std::vector<std::string>>();
  std::sort(domains.begin(), domains.end());
  CHECK(domains == std::vector<std::string>{"api." + domain, domain, "www.routed.example.test"});
  auto tests = TestsOf(r.artifacts);
  CHECK(tests[kServing].first == "passed");
  // It asked for the path the script names, through the proxy.
  auto serving = TestEntry(r.artifacts, kServing);
  INFO(serving.dump());
  REQUIRE(serving["api_calls"].size() >= 1);
  CHECK(serving["api_calls"][0]["http"] == "GET https://" + domain + "/api/");
  CHECK(serving["api_calls"][0]["through"] == "proxy 127.0.0.1:443");
  CHECK(serving["api_calls"][0]["status"] == 200);
  CHECK(tests["the domain answers over https"].first == "passed");
  CHECK(tests["the api subdomain has its own router"].first == "passed");
  CHECK(tests["the api subdomain serves (library check)"].first == "passed");
  CHECK(tests["a name from EXTRA_DOMAINS is routed too"].first == "passed");
  CHECK(tests["plain http by name reaches the same router"].first == "passed");
  CHECK(tests["the service is still reached by its name"].first == "passed");
  std::string violations = ValidateArtifacts(artifacts.path());
  INFO("artifacts that do not fit their schema:\n" << violations);
  CHECK(violations == "");
  CHECK_THAT(LeftoversOf(r.namespace_name), NothingLeft());
  // Once the deploy is gone, the proxy no longer routes the name (checked with curl): the
  // stand-in says "routes: none" a second time (the first was at its start).
  REQUIRE(proxy.WaitForLog("routes: none", 60000, 2));
  CHECK_THAT(proxy.Fetch(domain), Catch::StartsWith("error:") && Catch::Contains("no alternative certificate subject name"));
}

TEST_CASE("proxy: a recipe whose Host rule misses its domain fails the serving check, with the evidence",
          "[proxy]") {
  ProxyStandin proxy;
  TempDir artifacts("harness-proxy");
  auto r = RunHarness({"--recipes", FixtureRecipes(), "--artifacts", artifacts.path(), "--plain", "--proxy-ca",
                       proxy.ca_file(), "run", "misrouted"},
                      Duration(300000));
  INFO(r.err << "\nstand-in:\n" << proxy.Log());
  REQUIRE_FALSE(r.namespace_name.empty());
  CHECK(r.exit_code == 1);
  const std::string domain = r.namespace_name + ".harness.localhost";
  auto tests = TestsOf(r.artifacts);
  CHECK(tests["answers by service name"].first == "passed");  // green by name, as the field saw it
  CHECK(tests[kServing].first == "failed");
  const std::string& why = tests[kServing].second;
  INFO(why);
  CHECK_THAT(why, Catch::Contains("https://" + domain + "/ did not serve through the proxy"));
  // The proxy has no router for the domain: it offers its default certificate.
  CHECK_THAT(why, Catch::Contains("proxy-default.invalid") && Catch::Contains("recipe-harness test CA"));
  CHECK_THAT(why, Catch::Contains("router rules name: wwww." + domain));
  CHECK_THAT(LeftoversOf(r.namespace_name), NothingLeft());
}

TEST_CASE("proxy: a certificate for the wrong name fails, naming what the proxy offered; --proxy is used as given",
          "[proxy]") {
  ProxyStandin proxy("^api\\.");  // the api subdomain gets no certificate of its own
  TempDir artifacts("harness-proxy");
  auto r = RunHarness({"--recipes", FixtureRecipes(), "--artifacts", artifacts.path(), "--plain", "--proxy",
                       "127.0.0.1:443", "--proxy-ca", proxy.ca_file(), "run", "routed"},
                      Duration(300000));
  INFO(r.err << "\nstand-in:\n" << proxy.Log());
  REQUIRE_FALSE(r.namespace_name.empty());
  CHECK(r.exit_code == 1);
  auto prepare = ReadJson(r.artifacts + "/00-prepare.json");
  CHECK(prepare["observations"]["proxy"]["found"] == "--proxy 127.0.0.1:443");
  auto tests = TestsOf(r.artifacts);
  CHECK(tests[kServing].first == "passed");
  CHECK(tests["the domain answers over https"].first == "passed");
  CHECK(tests["the api subdomain has its own router"].first == "failed");
  const std::string& why = tests["the api subdomain has its own router"].second;
  INFO(why);
  CHECK_THAT(why, Catch::Contains("no alternative certificate subject name matches"));
  CHECK_THAT(why, Catch::Contains("subject CN = proxy-default.invalid") || Catch::Contains("CN=proxy-default.invalid"));
  CHECK_THAT(why, Catch::Contains("recipe-harness test CA"));
  CHECK_THAT(why, Catch::Contains("DNS:proxy-default.invalid"));
  CHECK_THAT(LeftoversOf(r.namespace_name), NothingLeft());
}

TEST_CASE("proxy: without a proxy, requests by domain fail as infrastructure and say why", "[proxy]") {
  TempDir artifacts("harness-proxy");
  auto r = RunHarness({"--recipes", FixtureRecipes(), "--artifacts", artifacts.path(), "--plain", "run", "routed"},
                      Duration(300000));
  INFO(r.err);
  REQUIRE_FALSE(r.namespace_name.empty());
  CHECK(r.exit_code == 3);
  auto prepare = ReadJson(r.artifacts + "/00-prepare.json");
  CHECK_THAT(prepare["observations"]["proxy"].value("none", ""), Catch::Contains("publishes port 443"));
  auto tests = TestsOf(r.artifacts);
  CHECK(tests.count(kServing) == 0);  // nothing to check it through
  CHECK_THAT(tests["the domain answers over https"].second, Catch::Contains("there is none"));
  CHECK_THAT(LeftoversOf(r.namespace_name), NothingLeft());
}

TEST_CASE("proxy: a warm deploy whose domain stops routing fails its promotion and is restored", "[proxy]") {
  TempDir dir("harness-proxy-warm");
  std::ofstream(dir.path() + "/reserved.yaml") << "stacks: []\n";
  auto harness = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--recipes", FixtureRecipes(), "--state", dir.path() + "/state", "--artifacts",
                             dir.path() + "/artifacts"});
    return RunHarness(args, Duration(600000));
  };
  // Both releases pass their cold runs on a Swarm without a proxy, as the field's did.
  for (const char* v : {"1.0.0+1", "1.1.0+1"}) {
    auto cold = harness({"run", std::string("warm-routed@") + v});
    INFO(v << cold.err);
    REQUIRE(cold.exit_code == 0);
    CHECK_THAT(LeftoversOf(cold.namespace_name), NothingLeft());
  }
  ProxyStandin proxy;
  const std::vector<std::string> warm = {"--warm-policy", dir.path() + "/reserved.yaml", "--proxy-ca", proxy.ca_file()};
  auto promote = [&](const std::string& version) {
    std::vector<std::string> args = {"promote", "warm-routed", version, "--json"};
    args.insert(args.end(), warm.begin(), warm.end());
    auto r = harness(args);
    INFO(r.err);
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    j["exit_code"] = r.exit_code;
    return j;
  };
  std::string ns;
  ScopeGuard retire([&] {
    std::vector<std::string> args = {"promote", "warm-routed", "--retire"};
    args.insert(args.end(), warm.begin(), warm.end());
    harness(args);
    if (!ns.empty()) CHECK_THAT(LeftoversOf(ns), NothingLeft());
  });
  auto enrol = promote("1.0.0+1");
  INFO(enrol.dump(2) << "\nstand-in:\n" << proxy.Log());
  REQUIRE(enrol["result"] == "enrolled");
  auto status = nlohmann::json::parse(harness({"promote", "--status", "--json"}).out)["recipes"];
  REQUIRE(status.size() == 1);
  ns = status[0]["namespace"];
  // "… serves at <domain> (namespace …); <domain> serves through the proxy"
  std::string message = enrol["message"];
  auto at = message.find("serves at ") + 10;
  const std::string domain = message.substr(at, message.find(' ', at) - at);
  CHECK_THAT(message, Catch::EndsWith(domain + " serves through the proxy"));
  CHECK(proxy.Fetch(domain) == "200 1.0.0+1\n");

  auto promoted = promote("1.1.0+1");
  INFO(promoted.dump(2) << "\nstand-in:\n" << proxy.Log());
  CHECK(promoted["result"] == "restored");
  CHECK(promoted["exit_code"] == 1);
  CHECK_THAT(promoted["message"].get<std::string>(),
             Catch::Contains("failed in test") && Catch::Contains("https://" + domain + "/ did not serve through the proxy") &&
                 Catch::Contains("1.0.0+1 was restored"));
  // The canonical release serves its domain again (curl, through the proxy).
  CHECK(proxy.Fetch(domain) == "200 1.0.0+1\n");
  auto after = nlohmann::json::parse(harness({"promote", "--status", "--json"}).out)["recipes"][0];
  CHECK(after["version"] == "1.0.0+1");
  CHECK(after["last_promotion"]["result"] == "restored");
  CHECK_THAT(after["last_promotion"]["detail"].get<std::string>(), Catch::Contains("did not serve through the proxy"));
}

}  // namespace harness::testing
