// SwarmRuntime through Docker's Engine API against the same runtime through the docker
// CLI, on the real local Swarm: the same objects found, the same namespaces seen, and a
// teardown through the API that leaves nothing, as the independent checker sees it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "base/scope_guard.h"
#include "exec/local_executor.h"
#include "runtime/docker.h"
#include "runtime/swarm.h"
#include "support/e2e.h"
#include "support/leftover_check.h"

namespace harness::testing {
namespace {

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST_CASE("engine api: what the API finds and removes is what the CLI finds, and nothing is left", "[engine-api]") {
  std::mt19937 rng(std::random_device{}());
  const std::string ns = "eapi-" + std::to_string(rng() % 1000000);
  ScopeGuard cleanup([&] {
    for (auto args : {std::vector<std::string>{"service", "rm", ns + "_app"}, {"rm", "-f", ns + "_loose"},
                      {"secret", "rm", ns + "_pw"}, {"config", "rm", ns + "_conf"}, {"volume", "rm", ns + "_data"},
                      {"network", "rm", ns + "_default"}}) {
      DockerCli(args);  // whatever the test left; RawObjectsOf below judges
    }
  });
  const std::string stack = "com.docker.stack.namespace=" + ns;
  const std::string ours = "harness.namespace=" + ns;
  auto make = [](std::vector<std::string> args, const std::string& in = "") {
    LocalExecutor exec;
    Command c;
    c.argv = {"docker"};
    c.argv.insert(c.argv.end(), args.begin(), args.end());
    c.stdin_data = in;
    c.deadline = Deadline::In(Duration(60000));
    auto r = exec.Run(c, CancelToken::None());
    REQUIRE(r.ok());
    INFO(QuoteArgv(c.argv) << ": " << r->err);
    REQUIRE(r->ok());
  };
  make({"network", "create", "--driver", "overlay", "--attachable", "--label", stack, ns + "_default"});
  make({"service", "create", "--detach", "--quiet", "--replicas", "0", "--name", ns + "_app", "--label", stack,
        "--label", ours, "--label", "harness.run=run-" + ns, "--network", ns + "_default", "recipe-harness/busybox:1",
        "sleep", "3600"});
  make({"secret", "create", "--label", ours, "--label", "harness.owner=test/1/2", ns + "_pw", "-"}, "hunter2");
  make({"config", "create", "--label", stack, ns + "_conf", "-"}, "key = value\n");
  make({"volume", "create", "--label", ours, ns + "_data"});
  make({"create", "--label", ours, "--name", ns + "_loose", "recipe-harness/busybox:1", "true"});

  LocalExecutor exec;
  Docker docker(&exec, "docker");
  SwarmRuntime cli(&docker);
  SwarmRuntime api(&docker);
  REQUIRE(api.Preflight(nullptr, Deadline::In(Duration(30000)), CancelToken::None()).ok());
  REQUIRE(api.ChooseObservations(Deadline::In(Duration(30000))) == "engine-api");
  REQUIRE_FALSE(cli.uses_engine_api());

  auto by_cli = cli.FindLeftovers(ns, nullptr, Deadline::In(Duration(60000)));
  auto by_api = api.FindLeftovers(ns, nullptr, Deadline::In(Duration(60000)));
  REQUIRE(by_cli.ok());
  REQUIRE(by_api.ok());
  INFO("cli: " << by_cli->ToString() << "\napi: " << by_api->ToString());
  CHECK(Sorted(by_api->services) == std::vector<std::string>{ns + "_app"});
  CHECK(Sorted(by_api->containers) == std::vector<std::string>{ns + "_loose"});
  CHECK(Sorted(by_api->networks) == std::vector<std::string>{ns + "_default"});
  CHECK(Sorted(by_api->secrets) == std::vector<std::string>{ns + "_pw"});
  CHECK(Sorted(by_api->configs) == std::vector<std::string>{ns + "_conf"});
  CHECK(Sorted(by_api->volumes) == std::vector<std::string>{ns + "_data"});
  CHECK(Sorted(by_api->services) == Sorted(by_cli->services));
  CHECK(Sorted(by_api->containers) == Sorted(by_cli->containers));
  CHECK(Sorted(by_api->networks) == Sorted(by_cli->networks));
  CHECK(Sorted(by_api->secrets) == Sorted(by_cli->secrets));
  CHECK(Sorted(by_api->configs) == Sorted(by_cli->configs));
  CHECK(Sorted(by_api->volumes) == Sorted(by_cli->volumes));

  auto seen_cli = cli.LabelledNamespaces(Deadline::In(Duration(60000)));
  auto seen_api = api.LabelledNamespaces(Deadline::In(Duration(60000)));
  REQUIRE(seen_cli.ok());
  REQUIRE(seen_api.ok());
  auto find = [&](const std::vector<LabelledNamespace>& all) {
    for (const auto& l : all) {
      if (l.namespace_name == ns) return l;
    }
    return LabelledNamespace{};
  };
  LabelledNamespace a = find(*seen_api), c = find(*seen_cli);
  CHECK(a.namespace_name == ns);
  CHECK(a.run_id == "run-" + ns);
  CHECK(a.owner == "test/1/2");
  CHECK(a.run_id == c.run_id);
  CHECK(a.owner == c.owner);

  Status torn = api.Teardown(ns, nullptr, Deadline::In(Duration(120000)));
  INFO(torn.message());
  CHECK(torn.ok());
  CHECK_THAT(LeftoversOf(ns), NothingLeft());  // the independent checker: raw docker, by name and label
}

}  // namespace
}  // namespace harness::testing
