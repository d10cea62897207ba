// A two-node Swarm on this machine (support/two_node_swarm.h), reached over SSH the way a
// remote Swarm is.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/temp_dir.h"

#include "exec/local_executor.h"
#include "support/e2e.h"
#include "support/two_node_swarm.h"

namespace harness::testing {
namespace {

nlohmann::json Finding(const nlohmann::json& doctor, const std::string& check, const std::string& contains) {
  for (const auto& f : doctor["findings"]) {
    if (f["check"] == check && f["detail"].get<std::string>().find(contains) != std::string::npos) return f;
  }
  return nullptr;
}

TEST_CASE("two-node swarm: doctor reports each node, and a node that lacks an image", "[multinode]") {
  TwoNodeSwarm swarm;
  auto doctor = [&] {
    auto r = RunHarness({"--json", "--recipes", FixtureRecipes(), "--target", swarm.target(), "--ssh-key",
                         swarm.client_key(), "--known-hosts", swarm.known_hosts(), "doctor"},
                        Duration(120000));
    INFO(r.err);
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    REQUIRE(j.is_object());
    return std::make_pair(r.exit_code, j);
  };
  // The image is only on node-a so far.
  auto [rc, j] = doctor();
  INFO(j.dump(2));
  CHECK(rc == 3);
  CHECK(Finding(j, "target", swarm.target()) != nullptr);
  CHECK(Finding(j, "swarm", "2 node(s) ready") != nullptr);
  auto b = Finding(j, "node", "node node-b (10.231.0.3, worker)");
  REQUIRE(b != nullptr);
  CHECK(b["level"] == "fail");
  CHECK_THAT(b["detail"].get<std::string>(), Catch::Contains("images missing: recipe-harness/busybox:1"));
  CHECK(Finding(j, "node", "node-a") == nullptr);  // the target's own node is the rest of the report

  LocalExecutor local;
  Command load;
  load.argv = {"sh", "-c", "docker save recipe-harness/busybox:1 | docker -H " + TwoNodeSwarm::Socket("b") + " load"};
  load.deadline = Deadline::In(Duration(60000));
  auto loaded = local.Run(load, CancelToken::None());
  REQUIRE(loaded.ok());
  REQUIRE(loaded->ok());
  auto [rc2, j2] = doctor();
  INFO(j2.dump(2));
  CHECK(rc2 == 0);
  auto b2 = Finding(j2, "node", "node node-b (10.231.0.3, worker)");
  REQUIRE(b2 != nullptr);
  CHECK(b2["level"] == "ok");
  CHECK_THAT(b2["detail"].get<std::string>(), Catch::Contains("; all 1 image(s) present"));
}

// Everything of a namespace on every node: this machine, node-a and node-b.
LeftoverScan LeftOnEveryNode(const std::string& ns) { return ScanFor(Namespace(ns), TwoNodeSwarm::Nodes()); }

TEST_CASE("two-node swarm: a recipe spread over both nodes passes through SSH; nothing is left on either",
          "[multinode]") {
  TwoNodeSwarm swarm;
  TempDir artifacts("harness-multinode");
  auto r = RunHarness({"--recipes", FixtureRecipes(), "--artifacts", artifacts.path(), "--plain", "--target",
                       swarm.target(), "--ssh-key", swarm.client_key(), "--known-hosts", swarm.known_hosts(), "run",
                       "spread"},
                      Duration(300000));
  INFO(r.err << "\n" << r.out);
  CHECK(r.exit_code == 0);
  REQUIRE_FALSE(r.namespace_name.empty());
  // The image reached node-b from node-a, and the tasks ran one on each node.
  CHECK_THAT(TwoNodeSwarm::Docker("b", {"image", "ls", "--format", "{{.Repository}}:{{.Tag}}"}),
             Catch::Contains("recipe-harness/busybox:1"));
  std::ifstream prepare(r.artifacts + "/00-prepare.json");
  std::string packet((std::istreambuf_iterator<char>(prepare)), std::istreambuf_iterator<char>());
  CHECK_THAT(packet, Catch::Contains("recipe-harness/busybox:1 \u2192 node-b"));
  CHECK_THAT(LeftOnEveryNode(r.namespace_name), NothingLeft());
}

TEST_CASE("two-node swarm: a run killed mid-test is reaped from both nodes", "[multinode]") {
  TwoNodeSwarm swarm;
  TempDir artifacts("harness-multinode");
  TempDir state("harness-multinode-state");
  std::vector<std::string> common = {"--recipes", FixtureRecipes(), "--artifacts", artifacts.path(), "--state",
                                     state.path(), "--plain", "--target", swarm.target(), "--ssh-key",
                                     swarm.client_key(), "--known-hosts", swarm.known_hosts()};
  std::vector<std::string> run = common;
  run.insert(run.end(), {"run", "spread"});
  std::string ns;
  {
    HarnessProcess h(run);
    h.ForgetNamespace();  // the reap below is what is tested
    REQUIRE(h.WaitForLine("pass back answers", Duration(240000)));
    ns = h.namespace_name();
    h.Signal(SIGKILL);
    h.Wait(Duration(30000));
  }
  REQUIRE_FALSE(ns.empty());
  // The kill left the deploy on both nodes: a volume on each, at least, which the checker
  // finds on the node that has it.
  {
    LeftoverScan killed = LeftOnEveryNode(ns);
    INFO(killed.ToString());
    CHECK(killed.problems.empty());
    CHECK_THAT(killed.ToString(), Catch::Contains("node-b: volume " + ns + "_back-data"));
    CHECK_THAT(killed.ToString(), Catch::Contains("node-a: volume " + ns + "_front-data"));
  }
  std::vector<std::string> reap = common;
  reap.push_back("reap");
  auto r = RunHarness(reap, Duration(300000));
  INFO(r.err << "\n" << r.out);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains(ns));
  CHECK_THAT(LeftOnEveryNode(ns), NothingLeft());
}

}  // namespace
}  // namespace harness::testing
