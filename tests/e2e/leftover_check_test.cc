// The independent leftover checker (support/leftover_check.h) can fail: objects of every
// kind, made by raw docker with a namespace's name or only its label, are each reported
// by kind and name; a neighbouring namespace's are not; a scan that cannot look is never
// "nothing left".
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>

#include "base/scope_guard.h"
#include "base/temp_dir.h"
#include "support/e2e.h"
#include "support/leftover_check.h"

namespace harness::testing {
namespace {

using Catch::Matchers::Contains;

bool Has(const LeftoverScan& scan, const std::string& kind, const std::string& name) {
  auto names = scan.Names(kind);
  return std::find(names.begin(), names.end(), name) != names.end();
}

void MustDocker(const std::vector<std::string>& args) {
  ProcessResult r = DockerCli(args);
  INFO("docker " << QuoteArgv(args) << ": " << r.Describe() << "\n" << r.err);
  REQUIRE(r.ok());
}

TEST_CASE("leftover check: every kind is found by name and by label, and reported", "[leftover-check]") {
  const std::string pid = std::to_string(getpid());
  const std::string ns = "lochk-" + pid;
  const std::string other = ns + "-other";  // starts like ns, but is another namespace
  Ownership both;
  both.namespace_marks = {ns};  // ns and other alike
  // Pass or fail, everything made here goes again.
  ScopeGuard remove([&] {
    for (const auto& failed : RemoveFound(ScanFor(both), {ThisMachine()})) WARN("not removed: " << failed);
  });
  TempDir tmp("harness-leftover-check");
  const std::string value = tmp.path() + "/value";
  std::ofstream(value) << "not a secret\n";

  // Named after the namespace, without any label: what a label-only search misses.
  MustDocker({"config", "create", ns + "_config", value});
  MustDocker({"network", "create", "--driver", "bridge", ns + "_net"});
  // Labelled only, under names that say nothing of the namespace.
  MustDocker({"volume", "create", "--label", "com.docker.stack.namespace=" + ns, "lochk-volume-" + pid});
  MustDocker({"create", "--name", "lochk-container-" + pid, "--label", "harness.namespace=" + ns,
              "recipe-harness/busybox:1", "true"});
  // Both.
  MustDocker({"secret", "create", "--label", "harness.namespace=" + ns, ns + "_secret", value});
  MustDocker({"service", "create", "--detach", "--quiet", "--replicas", "0", "--name", ns + "_svc", "--label",
              "com.docker.stack.namespace=" + ns, "recipe-harness/busybox:1", "sleep", "60"});
  // The neighbouring namespace's.
  MustDocker({"secret", "create", "--label", "harness.namespace=" + other, other + "_secret", value});

  LeftoverScan scan = ScanFor(Namespace(ns));
  INFO(scan.ToString());
  CHECK_FALSE(scan.empty());
  CHECK_FALSE(NothingLeft().match(scan));
  CHECK(scan.objects.size() == 6);
  CHECK(Has(scan, "config", ns + "_config"));
  CHECK(Has(scan, "network", ns + "_net"));
  CHECK(Has(scan, "volume", "lochk-volume-" + pid));
  CHECK(Has(scan, "container", "lochk-container-" + pid));
  CHECK(Has(scan, "secret", ns + "_secret"));
  CHECK(Has(scan, "service", ns + "_svc"));
  CHECK_FALSE(Has(scan, "secret", other + "_secret"));
  // The failure message names each, by node, kind and name, and says why.
  const std::string text = scan.ToString();
  CHECK_THAT(text, Contains("6 object(s) of namespace " + ns + " left (looked on local)"));
  CHECK_THAT(text, Contains("local: config " + ns + "_config (name)"));
  CHECK_THAT(text, Contains("local: network " + ns + "_net (name)"));
  CHECK_THAT(text, Contains("local: volume lochk-volume-" + pid + " (label com.docker.stack.namespace=" + ns + ")"));
  CHECK_THAT(text, Contains("local: container lochk-container-" + pid + " [created] (label harness.namespace=" + ns + ")"));
  CHECK_THAT(text, Contains("local: secret " + ns + "_secret (name, label harness.namespace=" + ns + ")"));
  CHECK_THAT(text, Contains("local: service " + ns + "_svc (name, label com.docker.stack.namespace=" + ns + ")"));

  // By mark, both namespaces; by exact name or label, only what has it.
  CHECK(ScanFor(both).objects.size() == 7);
  Ownership by_name;
  by_name.names = {ns + "_net"};
  CHECK(ScanFor(by_name).Names("network") == std::vector<std::string>{ns + "_net"});
  CHECK(ScanFor(by_name).objects.size() == 1);
  Ownership by_label;
  by_label.labels = {"harness.namespace=" + ns};
  CHECK(ScanFor(by_label).objects.size() == 2);  // the container and the secret

  // Removed by raw docker, the scan is clean again.
  auto failed = RemoveFound(ScanFor(both), {ThisMachine()});
  CHECK(failed.empty());
  CHECK_THAT(ScanFor(both), NothingLeft());
  CHECK_THAT(ScanFor(Namespace(ns)).ToString(), Contains("nothing of namespace " + ns + " (looked on local)"));
}

TEST_CASE("leftover check: a scan that cannot look is not \"nothing left\"", "[leftover-check]") {
  // No namespace (a run whose namespace was never parsed).
  LeftoverScan none = ScanFor(Namespace(""));
  CHECK_FALSE(none.empty());
  CHECK_THAT(none.ToString(), Contains("nothing to look for"));
  // A node whose daemon does not answer.
  LeftoverScan unreachable =
      ScanFor(Namespace("lochk-none"), {DockerNode{"nowhere", {"-H", "unix:///nonexistent/docker.sock"}, true}});
  INFO(unreachable.ToString());
  CHECK_FALSE(unreachable.empty());
  CHECK(unreachable.objects.empty());
  CHECK_THAT(unreachable.ToString(), Contains("not checked: nowhere: docker volume ls"));
  // A manager's Swarm with a node left out would be named; this machine's Swarm has this
  // node only, which the scan covers.
  CHECK_THAT(ScanFor(Namespace("lochk-none")), NothingLeft());
}

}  // namespace
}  // namespace harness::testing
