// EventWatch against the real Docker: it wakes on the namespace's events and on nothing
// else, and without a stream it is a plain timer.
#include "runtime/event_watch.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <thread>

#include "base/scope_guard.h"
#include "exec/local_executor.h"
#include "runtime/docker_api.h"
#include "runtime/nodes.h"
#include "runtime/swarm.h"
#include "support/e2e.h"

namespace harness {
namespace {

std::string Docker1(LocalExecutor& exec, const std::vector<std::string>& args) {
  Command c;
  c.argv = {"docker"};
  c.argv.insert(c.argv.end(), args.begin(), args.end());
  c.deadline = Deadline::In(Duration(30000));
  auto r = exec.Run(c, CancelToken::None());
  REQUIRE(r.ok());
  INFO(r->err);
  REQUIRE(r->exit_code == 0);
  return r->out;
}

// Containers labelled with the watch's namespace wake it (created, removed); another
// namespace's do not.
void CheckWakesOnItsNamespaceOnly(EventWatch& watch, LocalExecutor& exec, const std::string& ns,
                                  const std::string& other) {
  // The stream is connected once an event of the namespace gets through; until then a
  // container made now might not be seen, so make them until one is.
  std::vector<std::string> made;
  auto cleanup = [&] {
    for (const auto& id : made) Docker1(exec, {"rm", "-f", id});
    made.clear();
  };
  ScopeGuard remove_always(cleanup);
  bool woke = false;
  for (int i = 0; i < 20 && !woke; ++i) {
    made.push_back(Docker1(exec, {"create", "--label", "com.docker.stack.namespace=" + ns,
                                  "recipe-harness/busybox:1", "true"}).substr(0, 12));
    woke = watch.Wait(Duration(2000), CancelToken::None());
  }
  CHECK(woke);
  CHECK(watch.live());
  int seen = watch.events();
  CHECK(seen >= 1);
  while (watch.Wait(Duration(300), CancelToken::None())) {}  // the rest of the burst

  // Another namespace's container: no wake-up, no count.
  made.push_back(Docker1(exec, {"create", "--label", "com.docker.stack.namespace=" + other,
                                "recipe-harness/busybox:1", "true"}).substr(0, 12));
  CHECK_FALSE(watch.Wait(Duration(1500), CancelToken::None()));
  CHECK(watch.events() == seen);

  // Removing one of ours is an event again.
  Docker1(exec, {"rm", made.front()});
  made.erase(made.begin());
  CHECK(watch.Wait(Duration(10000), CancelToken::None()));
  CHECK(watch.events() > seen);
  cleanup();
  CHECK_THAT(testing::LeftoversOf(ns), testing::NothingLeft());
  CHECK_THAT(testing::LeftoversOf(other), testing::NothingLeft());
}

TEST_CASE("an event watch wakes on its namespace's container events only", "[docker-events]") {
  LocalExecutor exec;
  Docker docker(&exec, "docker");
  const std::string ns = "evwatch-" + std::to_string(getpid());
  EventWatch watch(&docker, ns, Deadline::In(Duration(120000)));
  CheckWakesOnItsNamespaceOnly(watch, exec, ns, "evother-" + std::to_string(getpid()));
}

TEST_CASE("an event watch through the Engine API wakes on its namespace's container events only",
          "[docker-events]") {
  LocalExecutor exec;
  auto api = DockerApi::ForLocal();
  REQUIRE(api != nullptr);
  const std::string ns = "evapiwatch-" + std::to_string(getpid());
  EventWatch watch(api.get(), ns, Deadline::In(Duration(120000)));
  CheckWakesOnItsNamespaceOnly(watch, exec, ns, "evapiother-" + std::to_string(getpid()));
  // The stream is a connection of its own: requests on the API's connection go on beside it.
  REQUIRE(watch.live());
  auto before = Clock::now();
  CHECK(api->Get("/info", Deadline::In(Duration(10000))).ok());
  CHECK(Clock::now() - before < std::chrono::seconds(5));
}

TEST_CASE("an event watch whose stream cannot start waits like a timer", "[docker-events]") {
  LocalExecutor exec;
  Docker docker(&exec, "/nonexistent/docker");
  EventWatch watch(&docker, "evwatch-none", Deadline::Never());
  auto started = Clock::now();
  while (watch.live() && Clock::now() - started < std::chrono::seconds(10)) watch.Wait(Duration(50), CancelToken::None());
  CHECK_FALSE(watch.live());
  auto before = Clock::now();
  CHECK_FALSE(watch.Wait(Duration(300), CancelToken::None()));
  CHECK(Clock::now() - before >= std::chrono::milliseconds(300));
}

TEST_CASE("an event watch's stream ends by itself at its deadline", "[docker-events]") {
  LocalExecutor exec;
  Docker docker(&exec, "docker");
  EventWatch watch(&docker, "evwatch-until", Deadline::In(Duration(1000)));
  Deadline d = Deadline::In(Duration(15000));
  while (watch.live() && !d.passed()) watch.Wait(Duration(200), CancelToken::None());
  CHECK_FALSE(watch.live());
}

TEST_CASE("an event watch's wait ends when the work is cancelled", "[docker-events]") {
  LocalExecutor exec;
  Docker docker(&exec, "docker");
  EventWatch watch(&docker, "evwatch-cancel", Deadline::Never());
  CancelSource source;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    source.Cancel();
  });
  auto before = Clock::now();
  CHECK_FALSE(watch.Wait(Duration(20000), source.token()));
  canceller.join();
  CHECK(Clock::now() - before < std::chrono::seconds(10));
}

TEST_CASE("an event watch through a socket that leads nowhere waits like a timer", "[docker-events]") {
  DockerApi nowhere("/nonexistent/docker.sock");
  EventWatch watch(&nowhere, "evapiwatch-none", Deadline::Never());
  auto started = Clock::now();
  while (watch.live() && Clock::now() - started < std::chrono::seconds(10)) watch.Wait(Duration(50), CancelToken::None());
  CHECK_FALSE(watch.live());
  auto before = Clock::now();
  CHECK_FALSE(watch.Wait(Duration(300), CancelToken::None()));
  CHECK(Clock::now() - before >= std::chrono::milliseconds(300));
}

TEST_CASE("an event watch's stream through the Engine API ends by itself at its deadline", "[docker-events]") {
  auto api = DockerApi::ForLocal();
  REQUIRE(api != nullptr);
  EventWatch watch(api.get(), "evapiwatch-until", Deadline::In(Duration(1000)));
  Deadline d = Deadline::In(Duration(15000));
  while (watch.live() && !d.passed()) watch.Wait(Duration(200), CancelToken::None());
  CHECK_FALSE(watch.live());
}

TEST_CASE("an event watch through the Engine API ends at once when cancelled or destroyed", "[docker-events]") {
  auto api = DockerApi::ForLocal();
  REQUIRE(api != nullptr);
  CancelSource source;
  std::thread canceller;
  {
    auto watch = std::make_unique<EventWatch>(api.get(), "evapiwatch-cancel", Deadline::Never());
    canceller = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      source.Cancel();
    });
    auto before = Clock::now();
    CHECK_FALSE(watch->Wait(Duration(20000), source.token()));
    CHECK(Clock::now() - before < std::chrono::seconds(10));
    // A stream without an end of its own, open and idle: destroying the watch stops it.
    CHECK(watch->live());
    auto destroying = Clock::now();
    watch.reset();
    CHECK(Clock::now() - destroying < std::chrono::milliseconds(500));
  }
  canceller.join();
}

TEST_CASE("the Engine API's socket and the docker CLI observe a stack alike", "[docker-events]") {
  LocalExecutor exec;
  Docker docker(&exec, "docker");
  SwarmRuntime cli(&docker);
  SwarmRuntime api(&docker);
  // Nothing to compare against before Preflight has read the CLI's daemon ID, and a
  // socket that leads nowhere is refused.
  CHECK_FALSE(api.UseEngineApi(DockerApi::ForLocal(), Deadline::In(Duration(10000))));
  REQUIRE(api.Preflight(nullptr, Deadline::In(Duration(30000)), CancelToken::None()).ok());
  CHECK_FALSE(api.UseEngineApi(std::make_unique<DockerApi>("/nonexistent/docker.sock"), Deadline::In(Duration(10000))));
  // An answer other than 2xx is an error naming the path and Docker's message.
  auto raw = DockerApi::ForLocal();
  REQUIRE(raw != nullptr);
  auto missing = raw->Get("/services/evapi-no-such-service?x=1", Deadline::In(Duration(10000)));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Status::Code::kInfra);
  CHECK_THAT(missing.status().message(), Catch::Contains("/services/evapi-no-such-service answered 404"));
  REQUIRE(api.UseEngineApi(DockerApi::ForLocal(), Deadline::In(Duration(10000))));
  CHECK(api.uses_engine_api());
  // What a process on this machine chooses once: the socket, when `docker info` agrees.
  CHECK(DockerApi::ForLocalCli(&docker, Deadline::In(Duration(10000))) != nullptr);
  Docker broken(&exec, "/bin/false");
  CHECK(DockerApi::ForLocalCli(&broken, Deadline::In(Duration(10000))) == nullptr);

  // The daemon's identity (to notice a restart) is its pid and start time.
  std::string pid;
  std::ifstream("/var/run/docker.pid") >> pid;
  CHECK(cli.DaemonIdentity(Deadline::In(Duration(10000))).rfind(pid + "/", 0) == 0);

  const std::string ns = "evapi-" + std::to_string(getpid());
  const std::vector<std::string> expected = {ns + "_app"};
  ScopeGuard remove([&] {
    if (Status s = cli.Teardown(ns, nullptr, Deadline::In(Duration(120000))); !s.ok()) {
      WARN("teardown of " << ns << ": " << s.message());
    }
  });
  EventWatch watch(&docker, ns, Deadline::In(Duration(120000)));
  const std::vector<std::string> files = {testing::SourceDir() + "/tests/fixtures/recipes/pass/compose.yml"};
  REQUIRE(cli.DeployStack(ns, files, nullptr, Deadline::In(Duration(60000)), CancelToken::None()).ok());
  Judgement by_cli, by_api;
  Deadline d = Deadline::In(Duration(90000));
  while (!d.passed()) {
    auto a = api.Observe(ns, expected, nullptr, d, CancelToken::None());
    REQUIRE(a.ok());
    by_api = JudgeConvergence(*a, expected);
    if (by_api.kind != Judgement::Kind::kPending) break;
    watch.Wait(Duration(200), CancelToken::None());
  }
  auto c = cli.Observe(ns, expected, nullptr, d, CancelToken::None());
  REQUIRE(c.ok());
  by_cli = JudgeConvergence(*c, expected);
  CHECK(by_api.kind == Judgement::Kind::kConverged);
  CHECK(by_cli.kind == Judgement::Kind::kConverged);
  auto a = api.Observe(ns, expected, nullptr, d, CancelToken::None());
  REQUIRE(a.ok());
  REQUIRE(a->tasks.size() == c->tasks.size());
  CHECK(a->tasks[0].id == c->tasks[0].id);
  CHECK(a->tasks[0].name == c->tasks[0].name);
  CHECK(a->containers.size() == c->containers.size());
  CHECK(a->services[0].desired == c->services[0].desired);
  // A test's lookups: the container of a service and its address, and the Swarm's nodes.
  auto at_api = api.ContainerOf(ns, "app", d, CancelToken::None());
  auto at_cli = cli.ContainerOf(ns, "app", d, CancelToken::None());
  REQUIRE(at_api.ok());
  REQUIRE(at_cli.ok());
  CHECK(at_api->container == at_cli->container);
  CHECK(at_api->container.size() == 64);
  auto addr_api = api.AddressOf(*at_api, d, CancelToken::None());
  auto addr_cli = cli.AddressOf(*at_cli, d, CancelToken::None());
  REQUIRE(addr_api.ok());
  REQUIRE(addr_cli.ok());
  CHECK(*addr_api == *addr_cli);
  auto nodes_api = ListNodes(raw.get(), d);
  auto nodes_cli = ListNodes(&docker, d);
  REQUIRE(nodes_api.ok());
  REQUIRE(nodes_cli.ok());
  REQUIRE(nodes_api->size() == nodes_cli->size());
  for (size_t i = 0; i < nodes_api->size(); ++i) {
    CHECK((*nodes_api)[i].id == (*nodes_cli)[i].id);
    CHECK((*nodes_api)[i].hostname == (*nodes_cli)[i].hostname);
    CHECK((*nodes_api)[i].address == (*nodes_cli)[i].address);
    CHECK((*nodes_api)[i].role == (*nodes_cli)[i].role);
    CHECK((*nodes_api)[i].self == (*nodes_cli)[i].self);
  }
  CHECK(api.Preflight(nullptr, d, CancelToken::None()).ok());

  REQUIRE(cli.Teardown(ns, nullptr, Deadline::In(Duration(120000))).ok());
  CHECK_THAT(testing::LeftoversOf(ns), testing::NothingLeft());
  auto gone = api.Observe(ns, expected, nullptr, Deadline::In(Duration(10000)), CancelToken::None());
  REQUIRE(gone.ok());
  CHECK(gone->services.empty());
}

}  // namespace
}  // namespace harness
