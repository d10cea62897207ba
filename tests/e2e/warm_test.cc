// The warm canon beside live services: a live stack on a shared network, and warm-canon
// plans checked against it — clear where the warm namespace and unique shared names keep
// them apart, refused (creating nothing) where they would collide.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "base/scope_guard.h"
#include "base/temp_dir.h"
#include "ledger/ledger.h"
#include "exec/local_executor.h"
#include "support/e2e.h"
#include "support/schema_check.h"

namespace harness::testing {
namespace {

constexpr const char* kNetwork = "harness-e2e-proxy";
constexpr const char* kLiveStack = "warm-shared-app";  // what a person names a live deploy

ProcessResult Docker(const std::vector<std::string>& args, const std::string& stdin_data = "") {
  LocalExecutor exec;
  Command cmd;
  cmd.argv = {"docker"};
  cmd.argv.insert(cmd.argv.end(), args.begin(), args.end());
  cmd.stdin_data = stdin_data;
  cmd.deadline = Deadline::In(Duration(120000));
  auto r = exec.Run(cmd, CancelToken::None());
  return r.ok() ? *r : ProcessResult{};
}

// Everything on the Swarm whose name mentions `text`: stacks, services, networks, secrets.
std::string Objects(const std::string& text) {
  std::string found;
  for (auto kind : {std::vector<std::string>{"stack", "ls", "--format", "{{.Name}}"},
                    std::vector<std::string>{"service", "ls", "--format", "{{.Name}}"},
                    std::vector<std::string>{"network", "ls", "--format", "{{.Name}}"},
                    std::vector<std::string>{"secret", "ls", "--format", "{{.Name}}"}}) {
    std::istringstream lines(Docker(kind).out);
    for (std::string l; std::getline(lines, l);) {
      if (l.find(text) != std::string::npos) found += l + " ";
    }
  }
  return found;
}

// The live stack, serving on the shared network; removed (and waited for) however the
// test ends.
struct LiveStack {
  TempDir dir{"warm-live"};
  LiveStack() {
    RemoveNetwork();  // a leftover of a test that was killed
    auto net = Docker({"network", "create", "--driver", "overlay", "--attachable", "--label", "harness.test=warm", kNetwork});
    INFO(net.err);
    REQUIRE(net.exit_code == 0);
    std::ofstream(dir.path() + "/compose.yml") << R"yaml(
version: "3.8"
services:
  app:
    image: recipe-harness/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; mkdir -p /w && echo live > /w/index.html && httpd -f -p 8080 -h /w & wait"]
    networks: [proxy]
    deploy:
      endpoint_mode: dnsrr
      labels:
        - "traefik.http.routers.live.rule=Host(`live.example.test`)"
  web:
    image: recipe-harness/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; mkdir -p /w && echo live-web > /w/index.html && httpd -f -p 8080 -h /w & wait"]
    networks: [proxy]
    deploy:
      endpoint_mode: dnsrr
networks:
  proxy:
    external: true
    name: harness-e2e-proxy
)yaml";
    auto r = Docker({"stack", "deploy", "-c", dir.path() + "/compose.yml", kLiveStack});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  ~LiveStack() {
    Docker({"stack", "rm", kLiveStack});
    // `stack rm` returns at once: wait for the containers, then the network can go.
    std::string filter = std::string("label=com.docker.stack.namespace=") + kLiveStack;
    for (int i = 0; i < 240; ++i) {
      if (Objects(kLiveStack).empty() && Docker({"ps", "-aq", "--filter", filter}).out.empty()) break;
      usleep(250000);
    }
    RemoveNetwork();
  }
  static void RemoveNetwork() {
    for (int i = 0; i < 120; ++i) {
      std::istringstream in(Docker({"network", "ls", "--format", "{{.ID}} {{.Name}}"}).out);
      bool found = false;
      for (std::string id, name; in >> id >> name;) {
        if (name != kNetwork) continue;
        found = true;
        Docker({"network", "rm", id});
      }
      if (!found) return;
      usleep(250000);
    }
  }
  // The live services' ids and spec versions: unchanged means untouched.
  std::string ServiceId() {
    return Docker({"service", "inspect", "--format", "{{.ID}} {{.Version.Index}}", std::string(kLiveStack) + "_app",
                   std::string(kLiveStack) + "_web"}).out;
  }
};

// Nothing of the live stack, nor its shared network, is left once LiveStack is gone.
LeftoverScan LiveStackLeft() {
  Ownership live = Namespace(kLiveStack);
  live.names = {kNetwork};
  return ScanFor(live);
}

HarnessResult Check(const std::string& recipe, const std::string& policy, bool json = true) {
  std::vector<std::string> args = {"promote", recipe, "--check", "--recipes", FixtureRecipes(), "--warm-policy", policy};
  if (json) args.push_back("--json");
  return RunHarness(args, Duration(60000));
}

TEST_CASE("warm-canon plans beside a live service on a shared network", "[warm]") {
  std::string ns;
  {
    LiveStack live;
    std::string before = live.ServiceId();
    TempDir tmp("warm-policy");
    std::string policy = tmp.path() + "/reserved.yaml";
    // The live stack is reserved, as an operator would list it.
    std::ofstream(policy) << "stacks: [\"" << kLiveStack << "\"]\n";

    // shared-app: clear. Its warm namespace is not the naive "warm-shared-app", and on the
    // shared network its service answers to a unique name, not to the live service's "app".
    auto clear = Check("shared-app", policy);
    INFO(clear.out << clear.err);
    REQUIRE(clear.exit_code == 0);
    auto plan = nlohmann::json::parse(clear.out);
    ns = plan["namespace"];
    CHECK(ns.rfind("wc-shared-app-", 0) == 0);
    CHECK(plan["services"]["app"] == ns + "_" + ns + "-app");
    CHECK(plan["collisions"].empty());
    CHECK(plan["shared_names"][kNetwork] == nlohmann::json::array({ns + "-app"}));
    std::ofstream(tmp.path() + "/check.json.txt") << clear.out;
    std::string invalid = ValidateArtifacts(tmp.path() + "/check.json.txt");
    INFO(invalid);
    CHECK(invalid.empty());

    // shared-alias claims "app" on the shared network: refused, naming the live service.
    auto alias = Check("shared-alias", policy, false);
    INFO(alias.out << alias.err);
    CHECK(alias.exit_code == 2);
    CHECK_THAT(alias.out, Catch::Contains("alias: name 'app' of service"));
    CHECK_THAT(alias.out, Catch::Contains("live service warm-shared-app_app answers to 'app' there"));
    CHECK_THAT(alias.out, Catch::Contains("nothing was created"));

    // A policy that reserves the warm namespace itself: refused before anything is created.
    std::ofstream(policy) << "stacks: [\"wc-*\"]\n";
    auto reserved = Check("shared-app", policy, false);
    CHECK(reserved.exit_code == 2);
    CHECK_THAT(reserved.out, Catch::Contains("reserved: namespace " + ns + " — reserved stack name 'wc-*'"));

    // The naive name is what the live deploy has: a warm prefix of "warm" would not be it
    // either, since warm namespaces carry a hash of the recipe.
    std::ofstream(policy) << "namespace_prefix: warm\n";
    auto naive = Check("shared-app", policy);
    REQUIRE(naive.exit_code == 0);
    CHECK(nlohmann::json::parse(naive.out)["namespace"] != kLiveStack);

    // Nothing of any warm namespace was created, and the live service was not touched.
    CHECK(Objects("wc-shared").empty());
    CHECK(Objects("warm-shared-app-").empty());
    CHECK_THAT(LeftoversOf(ns), NothingLeft());
    CHECK(live.ServiceId() == before);
  }
  CHECK_THAT(LiveStackLeft(), NothingLeft());
}

TEST_CASE("reaping never takes a warm-canon deploy for a dead run's leftovers", "[warm]") {
  // Two objects left by a process that no longer exists: one of a cold run, one of a
  // warm deploy (labelled harness.warm). Only the cold run's is a leftover.
  std::string dead_owner;
  {
    std::ifstream h("/proc/sys/kernel/hostname");
    std::getline(h, dead_owner);
  }
  dead_owner += "/999999/1";
  auto make = [&](const std::string& name, const std::string& ns, bool warm) {
    std::vector<std::string> args = {"secret", "create", "--label", "harness.namespace=" + ns, "--label",
                                     "harness.owner=" + dead_owner};
    if (warm) {
      args.push_back("--label");
      args.push_back("harness.warm=reaptest");
    }
    args.push_back(name);
    args.push_back("-");
    return Docker(args, "x").exit_code;
  };
  {
    ScopeGuard remove([] {
      Docker({"secret", "rm", "wc-reaptest-0000_s_v1"});
      Docker({"secret", "rm", "reaptest-cold01_s_v1"});
    });
    REQUIRE(make("wc-reaptest-0000_s_v1", "wc-reaptest-0000", true) == 0);
    REQUIRE(make("reaptest-cold01_s_v1", "reaptest-cold01", false) == 0);
    TempDir state("warm-reap");
    auto r = RunHarness({"reap", "--state", state.path()}, Duration(120000));
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("reaptest-cold01"));
    CHECK(r.out.find("wc-reaptest-0000") == std::string::npos);
    CHECK_THAT(LeftoversOf("reaptest-cold01"), NothingLeft());  // reaped
    CHECK(LeftoversOf("wc-reaptest-0000").Names("secret") == std::vector<std::string>{"wc-reaptest-0000_s_v1"});
  }
  CHECK_THAT(LeftoversOf("wc-reaptest-0000"), NothingLeft());
}

// Everything of a warm deploy: its namespace, and whatever carries its recipe's warm label
// (the snapshot volumes of a promotion, and the containers that copy them).
LeftoverScan WarmObjects(const std::string& ns, const std::string& recipe) {
  Ownership warm = Namespace(ns);
  warm.labels = {"harness.warm=" + recipe};
  return ScanFor(warm);
}

// While a recipe is enrolled, its canonical deploy is there and nothing else of it: no
// snapshot, no copying container, nothing outside its namespace.
void CheckOnlyTheWarmDeploy(const std::string& ns, const std::string& recipe) {
  LeftoverScan scan = WarmObjects(ns, recipe);
  INFO("warm deploy " << ns << ": " << scan.ToString());
  CHECK(scan.problems.empty());
  CHECK_FALSE(scan.Names("service").empty());
  for (const auto& o : scan.objects) {
    INFO(o.kind << " " << o.name);
    CHECK(o.name.rfind(ns + "_", 0) == 0);
    CHECK(o.name.find("-snapshot") == std::string::npos);
  }
}

// The harness with its own state and artifacts, on the fixture recipes.
struct Harness {
  TempDir dir{"warm-e2e"};
  HarnessResult operator()(std::vector<std::string> args) const {
    args.insert(args.end(), {"--recipes", FixtureRecipes(), "--state", dir.path() + "/state", "--artifacts",
                             dir.path() + "/artifacts", "--warm-policy", dir.path() + "/reserved.yaml"});
    return RunHarness(args, Duration(600000));
  }
  HarnessResult Cold(const std::string& recipe_at_version) const {
    std::vector<std::string> args = {"run", recipe_at_version, "--recipes", FixtureRecipes(), "--state",
                                     dir.path() + "/state", "--artifacts", dir.path() + "/artifacts"};
    return RunHarness(args, Duration(600000));
  }
  nlohmann::json Promote(const std::string& recipe, const std::string& version) const {
    auto r = (*this)({"promote", recipe, version, "--json"});
    INFO(r.err);
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    j["process_exit_code"] = r.exit_code;
    return j;
  }
};

// What the warm deploy's container of `service` says: cat `path`.
std::string WarmFile(const std::string& swarm_service, const std::string& path) {
  std::istringstream ids(Docker({"ps", "-q", "--filter", "label=com.docker.swarm.service.name=" + swarm_service}).out);
  std::string id;
  ids >> id;
  if (id.empty()) return "<no running container>";
  return Docker({"exec", id, "cat", path}).out;
}

TEST_CASE("warm deploys enrol and promote beside the live services they would have collided with", "[warm]") {
  {
    LiveStack live;
    auto live_serving = [&] {
      return WarmFile(std::string(kLiveStack) + "_app", "/w/index.html") == "live\n" &&
             WarmFile(std::string(kLiveStack) + "_web", "/w/index.html") == "live-web\n";
    };
    // `stack deploy` returns before the tasks run: wait until both live services serve.
    for (int i = 0; i < 240 && !live_serving(); ++i) usleep(250000);
    REQUIRE(live_serving());
    std::string before = live.ServiceId();
    // shared-app: the live deploy of the same recipe has the naive warm name.
    // proxied-web: a live service answers to its service's name on the shared network.
    for (const std::string recipe : {"shared-app", "proxied-web"}) {
      const std::string service = recipe == "shared-app" ? "app" : "web";
      INFO(recipe);
      Harness harness;
      std::ofstream(harness.dir.path() + "/reserved.yaml") << "stacks: [\"" << kLiveStack << "\"]\n";
      for (const char* v : {"1.0.0+1", "1.1.0+1"}) {
        auto cold = harness.Cold(recipe + "@" + v);
        INFO(cold.err);
        REQUIRE(cold.exit_code == 0);
        CHECK_THAT(LeftoversOf(cold.namespace_name), NothingLeft());
      }
      auto enrol = harness.Promote(recipe, "1.0.0+1");
      INFO(enrol.dump(2));
      CHECK(enrol["result"] == "enrolled");
      auto status = nlohmann::json::parse(harness({"promote", "--status", "--json"}).out)["recipes"];
      REQUIRE(status.size() == 1);
      std::string warm_ns = status[0]["namespace"];
      CHECK(warm_ns.rfind("wc-" + recipe.substr(0, 12), 0) == 0);
      CHECK(warm_ns != kLiveStack);
      ScopeGuard retire_always([&] { harness({"promote", recipe, "--retire"}); });
      // On the shared network it answers to its unique name only.
      const std::string warm_service = warm_ns + "_" + warm_ns + "-" + service;
      CHECK(WarmFile(warm_service, "/w/index.html") == "1.0.0+1\n");
      auto promoted = harness.Promote(recipe, "");
      INFO(promoted.dump(2));
      CHECK(promoted["result"] == "promoted");
      CHECK(WarmFile(warm_service, "/w/index.html") == "1.1.0+1\n");
      // The live services kept serving, untouched.
      CHECK(live_serving());
      CHECK(live.ServiceId() == before);
      // Reaping leaves the warm deploy alone; retiring removes it completely.
      CHECK(RunHarness({"reap", "--state", harness.dir.path() + "/state"}, Duration(120000)).exit_code == 0);
      CHECK_FALSE(Objects(warm_ns).empty());
      CheckOnlyTheWarmDeploy(warm_ns, recipe);
      auto retire = harness({"promote", recipe, "--retire"});
      CHECK(retire.exit_code == 0);
      CHECK(Objects(warm_ns).empty());
      CHECK_THAT(WarmObjects(warm_ns, recipe), NothingLeft());
  }
  CHECK(live_serving());
  CHECK(live.ServiceId() == before);
  }
  CHECK_THAT(LiveStackLeft(), NothingLeft());
}

TEST_CASE("promotion: in place, one writer, never backward, holds, fallback, restore", "[warm]") {
  Harness harness;
  for (const char* v : {"1.0.0+1", "1.1.0+1", "1.2.0+1", "1.2.1+1", "1.3.0+1"}) {
    auto cold = harness.Cold(std::string("warm-app@") + v);
    INFO(v << cold.err);
    REQUIRE(cold.exit_code == 0);
    CHECK_THAT(LeftoversOf(cold.namespace_name), NothingLeft());
  }
  std::string ns;
  ScopeGuard retire_always([&] { harness({"promote", "warm-app", "--retire"}); });
  auto app = [&] { return ns + "_app"; };

  // Enrol, then an in-place upgrade keeping the data.
  auto enrol = harness.Promote("warm-app", "1.0.0+1");
  REQUIRE(enrol["result"] == "enrolled");
  ns = nlohmann::json::parse(harness({"promote", "--status", "--json"}).out)["recipes"][0]["namespace"];
  CHECK(WarmFile(app(), "/data/created") == "1.0.0+1\n");
  auto inplace = harness.Promote("warm-app", "1.1.0+1");
  CHECK(inplace["result"] == "promoted");
  CHECK_THAT(inplace["message"].get<std::string>(), Catch::Contains("in place"));
  CHECK(WarmFile(app(), "/srv/version") == "1.1.0+1\n");
  CHECK(WarmFile(app(), "/data/created") == "1.0.0+1\n");
  CheckOnlyTheWarmDeploy(ns, "warm-app");

  // Two promotions at once: exactly one writes, and it is the newer one.
  HarnessProcess older({"promote", "warm-app", "1.2.0+1", "--json", "--recipes", FixtureRecipes(), "--state",
                        harness.dir.path() + "/state", "--artifacts", harness.dir.path() + "/artifacts",
                        "--warm-policy", harness.dir.path() + "/reserved.yaml"});
  auto newer = harness.Promote("warm-app", "1.2.1+1");
  older.ForgetNamespace();
  CHECK(older.Wait(Duration(600000)) == 0);
  INFO(older.err());
  CHECK(newer["result"] == "promoted");
  // 1.1 → 1.2.1 changes a config under the same name: a clean re-deploy keeping the data.
  CHECK_THAT(newer["message"].get<std::string>(), Catch::Contains("clean re-deploy keeping the data"));
  CHECK(WarmFile(app(), "/srv/version") == "1.2.1+1\n");
  CHECK(WarmFile(app(), "/data/created") == "1.0.0+1\n");
  CheckOnlyTheWarmDeploy(ns, "warm-app");

  // Never backward; a major bump is held.
  auto backward = harness.Promote("warm-app", "1.2.0+1");
  CHECK(backward["result"] == "nothing");
  CHECK(backward["process_exit_code"] == 0);
  auto major = harness.Promote("warm-app", "2.0.0+1");
  CHECK(major["result"] == "held");
  CHECK_THAT(major["message"].get<std::string>(), Catch::Contains("--force"));
  auto refused = harness.Promote("warm-app", "9.9.9+1");
  CHECK(refused["process_exit_code"] == 2);

  // An upgrade that fails after it started, having half-migrated the data: the previous
  // version serves again, with the data from before.
  auto failed = harness.Promote("warm-app", "1.3.0+1");
  CHECK(failed["result"] == "restored");
  CHECK(failed["process_exit_code"] == 1);
  CHECK(WarmFile(app(), "/srv/version") == "1.2.1+1\n");
  CHECK(WarmFile(app(), "/data/created") == "1.0.0+1\n");
  CheckOnlyTheWarmDeploy(ns, "warm-app");

  // The ledger tells it all, and one writer wrote each step.
  std::string status_text = harness({"promote", "--status", "--json"}).out;
  {
    std::ofstream(harness.dir.path() + "/status.json.txt") << status_text;
    nlohmann::json printed = failed;
    printed.erase("process_exit_code");  // added by this test
    std::ofstream(harness.dir.path() + "/promotion.json.txt") << printed.dump();
    std::string invalid = ValidateArtifacts(harness.dir.path() + "/status.json.txt") +
                          ValidateArtifacts(harness.dir.path() + "/promotion.json.txt") +
                          ValidateArtifacts(harness.dir.path() + "/artifacts");
    INFO(invalid);
    CHECK(invalid.empty());
  }
  auto status = nlohmann::json::parse(status_text)["recipes"][0];
  CHECK(status["version"] == "1.2.1+1");
  CHECK_THAT(status["hold"].get<std::string>(), Catch::Contains("major version bump"));
  CHECK(status["last_promotion"]["result"] == "restored");
  auto ledger = Ledger::Open(harness.dir.path() + "/state");
  REQUIRE(ledger.ok());
  auto promotions = (*ledger)->Promotions("warm-app", 20);
  REQUIRE(promotions.ok());
  std::vector<std::string> writes;
  for (auto it = promotions->rbegin(); it != promotions->rend(); ++it) writes.push_back(it->to_version + ":" + it->result);
  CHECK(writes == std::vector<std::string>{"1.0.0+1:enrolled", "1.1.0+1:promoted", "1.2.1+1:promoted",
                                           "2.0.0+1:held", "1.3.0+1:restored"});

  auto retire = harness({"promote", "warm-app", "--retire"});
  CHECK(retire.exit_code == 0);
  CHECK(Objects(ns).empty());
  CHECK(Docker({"volume", "ls", "-q", "--filter", "name=" + ns}).out.empty());
  CHECK_THAT(WarmObjects(ns, "warm-app"), NothingLeft());
}

TEST_CASE("a bad reserved-names policy is refused", "[warm]") {
  TempDir tmp("warm-policy-bad");
  std::string policy = tmp.path() + "/reserved.yaml";
  std::ofstream(policy) << "stacks: [a]\nstack: [b]\n";
  auto r = Check("shared-app", policy, false);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("reserved.yaml:2: unknown key 'stack'"));
}

}  // namespace
}  // namespace harness::testing
