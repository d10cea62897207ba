// SwarmRuntime through Docker's Engine API against the same runtime through the docker
// CLI, on the real local Swarm: the same objects found, the same namespaces seen, and a
// teardown through the API that leaves nothing, as the independent checker sees it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>

#include "base/scope_guard.h"
#include "base/wait.h"
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

// The local Swarm through the CLI and through the Engine API, side by side.
struct BothWays {
  LocalExecutor exec;
  Docker docker{&exec, "docker"};
  SwarmRuntime cli{&docker};
  SwarmRuntime api{&docker};
  BothWays() {
    REQUIRE(api.Preflight(nullptr, Deadline::In(Duration(30000)), CancelToken::None()).ok());
    REQUIRE(api.ChooseObservations(Deadline::In(Duration(30000))) == "engine-api");
  }
};

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

  BothWays sides;
  SwarmRuntime& cli = sides.cli;
  SwarmRuntime& api = sides.api;
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

TEST_CASE("engine api: exec, logs, a secret and a shared network through the API do what the CLI does", "[engine-api]") {
  std::mt19937 rng(std::random_device{}());
  const std::string ns = "eapx-" + std::to_string(rng() % 1000000);
  const std::map<std::string, std::string> ours = {{"harness.namespace", ns}};
  ScopeGuard cleanup([&] {
    for (auto args : {std::vector<std::string>{"service", "rm", ns + "_app"}, {"secret", "rm", ns + "_pw"},
                      {"network", "rm", ns + "_proxy"}}) {
      DockerCli(args);
    }
  });
  BothWays sides;
  SwarmRuntime& cli = sides.cli;
  SwarmRuntime& api = sides.api;

  // A secret created through the API holds its value: the service reads it back.
  const std::string value = "hunter2 \xe2\x9c\x93\n\x01 with = padding";
  REQUIRE(api.CreateSecret(ns + "_pw", value, ours, nullptr, Deadline::In(Duration(30000)), CancelToken::None()).ok());
  CHECK(DockerCli({"secret", "inspect", "--format", "{{index .Spec.Labels \"harness.namespace\"}}", ns + "_pw"}).out ==
        ns + "\n");
  auto exists = api.SecretExists(ns + "_pw", nullptr, Deadline::In(Duration(30000)), CancelToken::None());
  auto prefix = api.SecretExists(ns + "_p", nullptr, Deadline::In(Duration(30000)), CancelToken::None());
  REQUIRE(exists.ok());
  REQUIRE(prefix.ok());
  CHECK(*exists);
  CHECK_FALSE(*prefix);
  Status again = api.CreateSecret(ns + "_pw", value, ours, nullptr, Deadline::In(Duration(30000)), CancelToken::None());
  CHECK_FALSE(again.ok());
  CHECK_THAT(again.message(), Catch::Contains("already exists"));

  REQUIRE(DockerCli({"service", "create", "--detach", "--quiet", "--name", ns + "_app", "--label",
                     "com.docker.stack.namespace=" + ns, "--secret", ns + "_pw", "recipe-harness/busybox:1", "sh",
                     "-c", "echo to-out; echo to-err >&2; trap 'exit 0' TERM; sleep 3600 & wait"})
              .ok());
  Result<SwarmRuntime::Located> where = Status::Failed("not yet");
  for (Deadline up = Deadline::In(Duration(60000)); !up.passed();) {
    where = api.ContainerOf(ns, "app", Deadline::In(Duration(10000)), CancelToken::None());
    if (where.ok()) break;
    REQUIRE(WaitFor(Duration(200), CancelToken::None()));
  }
  REQUIRE(where.ok());

  auto both = [&](const std::vector<std::string>& argv, Duration limit = Duration(30000)) {
    auto a = api.Exec(*where, argv, Deadline::In(limit), CancelToken::None());
    auto c = cli.Exec(*where, argv, Deadline::In(limit), CancelToken::None());
    REQUIRE(a.ok());
    REQUIRE(c.ok());
    return std::make_pair(*a, *c);
  };
  auto [a, c] = both({"sh", "-c", "echo out; echo err >&2; printf 'no newline'; exit 3"});
  CHECK(a.exit_code == 3);
  CHECK(a.out == c.out);
  CHECK(a.err == c.err);
  CHECK(a.exit_code == c.exit_code);
  std::tie(a, c) = both({"cat", "/run/secrets/" + ns + "_pw"});
  CHECK(a.ok());
  CHECK(a.out == value);
  CHECK(c.out == value);
  std::tie(a, c) = both({"no-such-program"});
  CHECK(a.exit_code == c.exit_code);
  CHECK_THAT(a.err, Catch::Contains("executable file not found"));
  std::tie(a, c) = both({"sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x"});  // more than one frame
  CHECK(a.out.size() == 300000);
  CHECK(a.out == c.out);
  std::tie(a, c) = both({"sleep", "5"}, Duration(500));
  CHECK(a.timed_out);
  CHECK(c.timed_out);
  auto gone = api.Exec({"no-such-container-" + ns, nullptr, ""}, {"true"}, Deadline::In(Duration(30000)),
                       CancelToken::None());
  REQUIRE(gone.ok());
  CHECK(gone->exit_code == 1);
  CHECK_THAT(gone->err, Catch::Contains("No such container"));

  auto logs_api = api.Logs(ns, "app", 10, Deadline::In(Duration(30000)), CancelToken::None());
  auto logs_cli = cli.Logs(ns, "app", 10, Deadline::In(Duration(30000)), CancelToken::None());
  REQUIRE(logs_api.ok());
  REQUIRE(logs_cli.ok());
  CHECK_THAT(*logs_api, Catch::Contains("to-out") && Catch::Contains("to-err"));
  CHECK(*logs_api == *logs_cli);

  // A shared network created through the API is the overlay the CLI would create, and
  // removed through the API once unused.
  REQUIRE(api.CreateSharedNetwork(ns + "_proxy", ours, nullptr, Deadline::In(Duration(30000)), CancelToken::None()).ok());
  REQUIRE(api.CreateSharedNetwork(ns + "_proxy", ours, nullptr, Deadline::In(Duration(30000)), CancelToken::None()).ok());
  auto seen_api = api.InspectNetwork(ns + "_proxy", nullptr, Deadline::In(Duration(30000)), CancelToken::None());
  auto seen_cli = cli.InspectNetwork(ns + "_proxy", nullptr, Deadline::In(Duration(30000)), CancelToken::None());
  REQUIRE(seen_api.ok());
  REQUIRE(seen_cli.ok());
  CHECK(seen_api->exists);
  CHECK(seen_api->driver == "overlay");
  CHECK(seen_api->scope == "swarm");
  CHECK(seen_api->attachable);
  CHECK(seen_api->ours);
  CHECK(seen_api->driver == seen_cli->driver);
  CHECK(seen_api->scope == seen_cli->scope);
  CHECK(seen_api->attachable == seen_cli->attachable);
  CHECK(seen_api->ours == seen_cli->ours);
  auto missing = api.InspectNetwork(ns + "_nothing", nullptr, Deadline::In(Duration(30000)), CancelToken::None());
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->exists);
  auto removed = api.RemoveSharedNetwork(ns + "_proxy", nullptr, Deadline::In(Duration(30000)));
  REQUIRE(removed.ok());
  CHECK(*removed);
  CHECK_FALSE(DockerCli({"network", "inspect", ns + "_proxy"}).ok());

  Status torn = api.Teardown(ns, nullptr, Deadline::In(Duration(120000)));
  INFO(torn.message());
  CHECK(torn.ok());
  CHECK_THAT(LeftoversOf(ns), NothingLeft());
}

}  // namespace
}  // namespace harness::testing
