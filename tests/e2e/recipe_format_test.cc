// Recipes as their maintainers publish them: `check` plans each recipe of the bundled
// canon exactly as a run then deploys it (Docker's objects, listed by label while the run
// is in its test phase, are what check said), and a catalogue entry naming a repository
// without any script of ours runs on the library's defaults.
#include <signal.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <fstream>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "base/temp_dir.h"
#include "exec/local_executor.h"
#include "support/e2e.h"
#include "support/registry.h"
#include "support/git_fixture.h"

namespace harness::testing {
namespace {

namespace fs = std::filesystem;

std::set<std::string> Lines(const std::vector<std::string>& docker_args) {
  ProcessResult r = DockerCli(docker_args, Duration(60000));
  std::set<std::string> out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.insert(line);
  }
  return out;
}

// Every object and image of the Swarm's node, one line each: what `check` must not change.
std::string DockerObjects() {
  std::string all;
  for (const char* kind : {"service", "secret", "config", "network", "volume"}) {
    for (const auto& line : Lines({kind, "ls", "-q"})) all += std::string(kind) + " " + line + "\n";
  }
  for (const auto& line : Lines({"ps", "-aq"})) all += "container " + line + "\n";
  for (const auto& line : Lines({"images", "-q", "--no-trunc"})) all += "image " + line + "\n";
  return all;
}

// "<check namespace>_x" → "<run namespace>_x"
std::string Renamed(std::string name, const std::string& from, const std::string& to) {
  if (name.rfind(from, 0) == 0) name = to + name.substr(from.size());
  return name;
}

}  // namespace

TEST_CASE("recipe format: check plans each canon recipe as a run then deploys it", "[recipe-format]") {
  ForgetPulledUnder pulled(kSetupRegistry);  // pinboard pulls its image from there
  // status has no script, so no test phase to list its objects in: a copy of it gets a
  // script whose one test holds the run until they are listed (the compose files, which
  // decide the objects, are the canon's own).
  TempDir held("harness-recipe-format-held");
  fs::copy(SourceDir() + "/recipes/status", held.path() + "/status", fs::copy_options::recursive);
  std::ofstream(held.path() + "/status/recipe.lua") << R"(return recipe {
  tests = {
    { "held while its objects are listed", function()
        local r = exec("app", { "sh", "-c", "until test -e /tmp/listed; do sleep 0.1; done" })
        expect.eq(r.code, 0, "released")
      end },
  },
}
)";
  for (const std::string recipe : {"web", "notes", "pinboard", "status", "broken"}) {
    INFO("recipe " << recipe);
    const bool hold = recipe == "status";
    const std::string recipes = hold ? held.path() : SourceDir() + "/recipes";
    std::string before = DockerObjects();
    auto checked = RunHarness({"--recipes", recipes, "--json", "check", recipe}, Duration(60000));
    INFO(checked.err);
    REQUIRE(checked.exit_code == 0);
    CHECK(DockerObjects() == before);  // check created nothing
    auto plan = nlohmann::json::parse(checked.out, nullptr, false);
    REQUIRE(plan.is_object());
    const std::string planned_ns = plan["namespace"];

    TempDir artifacts("harness-recipe-format");
    HarnessProcess run({"--recipes", recipes, "--artifacts", artifacts.path(), "--plain", "run", recipe});
    REQUIRE(run.WaitForLine("test started", Duration(300000)));
    const std::string ns = run.namespace_name();
    REQUIRE_FALSE(ns.empty());
    // The others' tests take longer than the listing; stopped meanwhile all the same.
    if (!hold) run.Signal(SIGSTOP);
    auto by_stack = [&](const char* kind) {
      return Lines({kind, "ls", "--filter", "label=com.docker.stack.namespace=" + ns, "--format", "{{.Name}}"});
    };
    const auto& o = plan["objects"];
    std::set<std::string> services, configs, volumes, networks, secrets;
    for (const auto& s : o["services"]) services.insert(Renamed(s, planned_ns, ns));
    for (const auto& c : o["configs"]) configs.insert(Renamed(c["name"], planned_ns, ns));
    for (const auto& v : o["volumes"]) volumes.insert(Renamed(v["name"], planned_ns, ns));
    for (const auto& s : o["secrets"]) secrets.insert(Renamed(s["name"], planned_ns, ns));
    for (const auto& n : o["networks"]) {
      if (n["external"] == true) {
        CHECK(Lines({"network", "inspect", "--format", "{{.Name}}", n["name"].get<std::string>()}).size() == 1);
        continue;
      }
      networks.insert(Renamed(n["name"], planned_ns, ns));
    }
    CHECK(by_stack("service") == services);
    CHECK(by_stack("config") == configs);
    CHECK(Lines({"secret", "ls", "--filter", "label=harness.namespace=" + ns, "--format", "{{.Name}}"}) == secrets);
    // A volume exists once a task mounted it; every one check named is there by now.
    auto have_volumes = by_stack("volume");
    for (const auto& v : volumes) CHECK(have_volumes.count(v) == 1);
    // Swarm creates the declared networks that services join; check lists those and the
    // implicit default of services without networks.
    auto have_networks = by_stack("network");
    for (const auto& n : have_networks) CHECK(networks.count(n) == 1);
    // The staged compose check showed is the one deployed (but for the run's own names).
    for (const auto& f : plan["staged_compose"]) {
      std::string text = f["staged"];
      CHECK_THAT(text, Catch::Contains("harness.namespace: \"" + planned_ns + "\""));
    }
    if (hold) {
      auto app = Lines({"ps", "-q", "--filter", "label=com.docker.swarm.service.name=" + ns + "_app"});
      REQUIRE(app.size() == 1);
      DockerCli({"exec", *app.begin(), "touch", "/tmp/listed"});
    } else {
      run.Signal(SIGCONT);
    }
    int code = run.Wait(Duration(300000));
    CHECK(code == (recipe == "broken" ? 1 : 0));
    CHECK_THAT(LeftoversOf(ns), NothingLeft());
  }
  CHECK(SharedNetworksLeft().empty());
  CleanUpSharedNetworks();
  // doctor names the external networks the canon needs, and whether they exist.
  auto doctor = RunHarness({"--recipes", SourceDir() + "/recipes", "--json", "doctor"}, Duration(120000));
  auto findings = nlohmann::json::parse(doctor.out, nullptr, false);
  REQUIRE(findings.is_object());
  bool proxy = false;
  for (const auto& f : findings["findings"]) {
    if (f["check"] != "networks") continue;
    std::string detail = f["detail"];
    INFO(detail);
    if (detail.rfind("proxy ", 0) != 0) continue;
    proxy = true;
    CHECK_THAT(detail, Catch::Contains("does not exist; each run creates it"));
    CHECK_THAT(detail, Catch::Contains("pinboard, status"));
  }
  CHECK(proxy);
}

TEST_CASE("recipe format: a catalogue entry without a script runs on the defaults", "[recipe-format]") {
  TempDir root("harness-catalogue");
  GitFixture repo(root.path() + "/upstream");
  // A published recipe: compose.yml with a healthcheck and its version label, and an
  // overlay in a subfolder that .env.sample's COMPOSE_FILE switches on; only with the
  // overlay does the healthcheck pass.
  repo.Write("compose.yml", R"(version: "3.8"
services:
  app:
    image: recipe-harness/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM INT; mkdir -p /www; echo catalogued > /www/index.html; httpd -f -p 8080 -h /www & wait"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/extra"]
      interval: 1s
      retries: 3
    deploy:
      endpoint_mode: dnsrr
      labels:
        - "coop-cloud.${STACK_NAME}.version=1.2.0+3"
)");
  repo.Write("overlays/compose.extra.yml", R"(version: "3.8"
services:
  app:
    command: ["sh", "-c", "trap 'exit 0' TERM INT; mkdir -p /www; echo on > /www/extra; httpd -f -p 8080 -h /www & wait"]
)");
  repo.Write(".env.sample",
             "TYPE=listed\nDOMAIN=listed.example.com\n\nCOMPOSE_FILE=\"compose.yml\"\n"
             "COMPOSE_FILE=\"$COMPOSE_FILE:overlays/compose.extra.yml\"\n");
  repo.Commit("release 1.2.0+3");
  repo.Tag("1.2.0+3");
  repo.Push();
  fs::create_directories(root.path() + "/recipes");
  std::ofstream(root.path() + "/recipes/catalogue.yml")
      << "# recipes known by their repository alone\nrecipes:\n  listed:\n    git: " << repo.url() << "\n";
  TempDir artifacts("harness-catalogue-artifacts");
  TempDir state("harness-catalogue-state");
  auto r = RunHarness({"--recipes", root.path() + "/recipes", "--artifacts", artifacts.path(), "--state",
                       state.path(), "--plain", "run", "listed"},
                      Duration(300000));
  INFO(r.err << r.out);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("[listed] passed"));
  REQUIRE_FALSE(r.namespace_name.empty());
  CHECK_THAT(LeftoversOf(r.namespace_name), NothingLeft());
  // The sweep finds it too.
  auto sweep = RunHarness({"--recipes", root.path() + "/recipes", "--artifacts", artifacts.path(), "--state",
                           state.path(), "--json", "sweep"},
                          Duration(300000));
  INFO(sweep.err);
  CHECK(sweep.exit_code == 0);
  auto j = nlohmann::json::parse(sweep.out, nullptr, false);  // one run: its summary alone
  REQUIRE(j.is_object());
  CHECK(j["recipe"] == "listed");
  CHECK(j["version"] == "1.2.0+3");
}

TEST_CASE("recipe format: a deploy sees exactly the checked environment", "[recipe-format]") {
  // A head's .env.sample that points Docker elsewhere, and a compose file that reads a
  // variable only the harness's own process has: the deploy must go to this Swarm, and the
  // container must not see the harness's value (its command refuses to serve if it does).
  TempDir root("harness-exact-env");
  const std::string dir = root.path() + "/recipes/exact";
  fs::create_directories(dir);
  std::ofstream(dir + "/compose.yml") << R"(version: "3.8"
services:
  app:
    image: recipe-harness/busybox:1
    environment:
      LEAKED: "${HARNESS_E2E_TOKEN:-none}"
      GREETING: "${GREETING}"
      PRICE: "$$5"
    command: ["sh", "-c", "trap 'exit 0' TERM INT; [ \"$$LEAKED\" = none ] || exit 3; mkdir -p /www; echo \"$$GREETING $$PRICE\" > /www/index.html; httpd -f -p 8080 -h /www & wait"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/"]
      interval: 1s
      retries: 3
    deploy:
      endpoint_mode: dnsrr
      restart_policy:
        condition: none
)";
  std::ofstream(dir + "/.env.sample") << "TYPE=exact\nDOMAIN=exact.example.com\nGREETING=hello\n"
                                         "DOCKER_HOST=tcp://127.0.0.1:1\nPATH=/nowhere\n";
  std::ofstream(dir + "/recipe.lua") << R"(return recipe {
  tests = { { "greets", function()
    local r = http.get("http://app:8080/")
    expect.eq(r.status, 200, "status of /")
    expect.eq(r.body, "hello $5\n", "body of /")
  end } },
}
)";
  TempDir artifacts("harness-exact-env-artifacts");
  TempDir state("harness-exact-env-state");
  ::setenv("HARNESS_E2E_TOKEN", "secret-of-the-harness", 1);
  auto r = RunHarness({"--recipes", root.path() + "/recipes", "--artifacts", artifacts.path(), "--state",
                       state.path(), "--plain", "run", "exact"},
                      Duration(300000));
  ::unsetenv("HARNESS_E2E_TOKEN");
  INFO(r.err << r.out);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("[exact] passed"));
  REQUIRE_FALSE(r.namespace_name.empty());
  CHECK_THAT(LeftoversOf(r.namespace_name), NothingLeft());
}

}  // namespace harness::testing
