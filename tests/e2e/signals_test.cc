// SIGINT and SIGTERM during deploy, converge and test: teardown completes, the exit code
// is 130/143, and nothing is left on the Swarm.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "support/e2e.h"

namespace harness::testing {
namespace {

namespace fs = std::filesystem;

// A docker CLI that holds on after a real `docker stack deploy`, so that a signal can be
// sent while the deploy phase is still running and its stack already exists.
std::string SlowDeployDocker() {
  auto path = fs::temp_directory_path() / "harness-slow-deploy-docker";
  std::ofstream f(path);
  f << "#!/bin/sh\n"
       "if [ \"$1\" = stack ] && [ \"$2\" = deploy ]; then\n"
       "  docker \"$@\" || exit $?\n"
       "  exec sleep 60\n"
       "fi\n"
       "exec docker \"$@\"\n";
  f.close();
  fs::permissions(path, fs::perms::owner_all);
  return path.string();
}

std::vector<std::string> Args(const std::string& recipe, bool slow_deploy) {
  std::vector<std::string> a = {"run", recipe, "--recipes", FixtureRecipes(), "--artifacts",
                                (fs::temp_directory_path() / "harness-e2e-artifacts").string()};
  if (slow_deploy) {
    a.push_back("--docker");
    a.push_back(SlowDeployDocker());
  }
  return a;
}

void Interrupt(const std::string& phase_line, int sig, bool slow_deploy) {
  HarnessProcess p(Args("slow", slow_deploy));
  REQUIRE(p.WaitForLine(phase_line, Duration(120000)));
  std::string ns = p.namespace_name();
  REQUIRE_FALSE(ns.empty());
  if (slow_deploy) {
    // Wait until the stack really exists, so that teardown has something to remove.
    Deadline d = Deadline::In(Duration(30000));
    while (!StackExists(ns) && !d.passed()) {
    }
    REQUIRE(StackExists(ns));
  }
  p.Signal(sig);
  int code = p.Wait(Duration(180000));
  INFO(p.err());
  CHECK(code == 128 + sig);
  CHECK_THAT(p.err(), Catch::Contains("teardown ok"));
  CHECK_THAT(p.err(), Catch::Contains("interrupted"));
  CHECK_THAT(LeftoversOf(ns), NothingLeft());
}

TEST_CASE("SIGINT during deploy tears down and exits 130", "[signals]") {
  Interrupt("deploy started", SIGINT, true);
}
TEST_CASE("SIGTERM during deploy tears down and exits 143", "[signals]") {
  Interrupt("deploy started", SIGTERM, true);
}
TEST_CASE("SIGINT during converge tears down and exits 130", "[signals]") {
  Interrupt("converge started", SIGINT, false);
}
TEST_CASE("SIGTERM during converge tears down and exits 143", "[signals]") {
  Interrupt("converge started", SIGTERM, false);
}
TEST_CASE("SIGINT during test tears down and exits 130", "[signals]") {
  Interrupt("test started", SIGINT, false);
}
TEST_CASE("SIGTERM during test tears down and exits 143", "[signals]") {
  Interrupt("test started", SIGTERM, false);
}

TEST_CASE("a second signal during teardown does not abandon it", "[signals]") {
  HarnessProcess p(Args("slow", false));
  REQUIRE(p.WaitForLine("test started", Duration(120000)));
  std::string ns = p.namespace_name();
  p.Signal(SIGINT);
  REQUIRE(p.WaitForLine("teardown of", Duration(60000)));
  p.Signal(SIGINT);
  p.Signal(SIGTERM);
  int code = p.Wait(Duration(180000));
  INFO(p.err());
  CHECK(code == 130);
  CHECK_THAT(p.err(), Catch::Contains("teardown in progress"));
  CHECK_THAT(p.err(), Catch::Contains("teardown ok"));
  CHECK_THAT(LeftoversOf(ns), NothingLeft());
}

}  // namespace
}  // namespace harness::testing
