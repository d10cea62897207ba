// The registry test support itself (support/registry.h): a real registry on loopback that
// Docker pushes to and pulls from, a proxy in front of it that is slow or fails, the exact
// messages `docker pull` gives for each failure (the engine classifies them), and the same
// reference pulled on both nodes of a TwoNodeSwarm.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <sstream>

#include "exec/local_executor.h"
#include "support/e2e.h"
#include "support/registry.h"
#include "support/two_node_swarm.h"

namespace harness::testing {
namespace {

using Catch::Matchers::Contains;

ProcessResult Docker(const std::vector<std::string>& args) { return DockerCli(args); }

ProcessResult MustDocker(const std::vector<std::string>& args) {
  auto r = Docker(args);
  INFO("docker " << QuoteArgv(args) << ": " << r.Describe() << "\n" << r.out << r.err);
  REQUIRE(r.ok());
  return r;
}

bool HaveImage(const std::string& ref) { return Docker({"image", "inspect", ref}).ok(); }

// Local image references (by tag and by digest) under "host/".
std::vector<std::string> ImagesUnder(const std::string& host) {
  std::vector<std::string> out;
  auto r = MustDocker({"images", "--format", "{{.Repository}}:{{.Tag}} {{.Repository}}@{{.Digest}}"});
  std::istringstream words(r.out);
  for (std::string w; words >> w;) {
    if (w.rfind(host + "/", 0) == 0 && w.find("<none>") == std::string::npos) out.push_back(w);
  }
  return out;
}

// The containers StampImage commits its images from, on the given nodes: none may stay.
LeftoverScan StampContainers(const std::vector<DockerNode>& nodes = {ThisMachine()}) {
  Ownership stamps;
  stamps.namespace_marks = {"harness-registry-stamp-"};
  return ScanFor(stamps, nodes);
}

// Pushes a stamp image as support/stamp:1 and removes it locally: the registry alone has it.
std::string PushStamp(TestRegistry& registry) {
  StampImage image("support stamp");
  return registry.Push(image.name(), "support/stamp:1");
}

}  // namespace

TEST_CASE("registry support: push, then pull back by tag and by digest", "[registry-support]") {
  std::string host;
  {
    TestRegistry registry;
    host = registry.host();
    std::string ref = PushStamp(registry);
    CHECK(ref == host + "/support/stamp:1");
    CHECK_FALSE(HaveImage(ref));
    CHECK(ImagesUnder(host).empty());

    std::string digest = registry.Digest("support/stamp:1");
    std::string by_digest = host + "/support/stamp@" + digest;
    MustDocker({"pull", ref});
    CHECK(HaveImage(ref));
    CHECK(MustDocker({"image", "inspect", "--format", "{{join .RepoDigests \",\"}}", ref}).out == by_digest + "\n");
    TestRegistry::Forget({ref});
    CHECK_FALSE(HaveImage(ref));
    CHECK_FALSE(HaveImage(by_digest));

    MustDocker({"pull", by_digest});
    CHECK(HaveImage(by_digest));
    // Left for the destructor to remove.
  }
  CHECK(ImagesUnder(host).empty());
  CHECK_THAT(StampContainers(), NothingLeft());
}

TEST_CASE("registry support: pulls through a proxy, a slow one, and a failing one", "[registry-support]") {
  std::string host, proxy_host;
  {
    TestRegistry registry;
    host = registry.host();
    std::string ref = PushStamp(registry);
    std::string repo = ref.substr(host.size());  // "/support/stamp:1"
    DelayingProxy proxy("127.0.0.1", registry.port());
    proxy_host = proxy.host();
    std::string via_proxy = proxy.host() + repo;

    auto plain = MustDocker({"pull", via_proxy});
    CHECK(HaveImage(via_proxy));
    CHECK(proxy.connections() >= 1);
    TestRegistry::Forget({via_proxy});
    CHECK_FALSE(HaveImage(via_proxy));

    // Every connection waits 2 s; a pull opens several (about 6, some of them in parallel:
    // ~10 s in all).
    proxy.set_delay(Duration(2000));
    int before = proxy.connections();
    auto slow = MustDocker({"pull", via_proxy});
    CHECK(slow.elapsed >= Duration(2000));
    CHECK(proxy.connections() > before);
    WARN("pull through the proxy: " << FormatDuration(plain.elapsed) << "; with a 2s delay per connection: "
                                    << FormatDuration(slow.elapsed) << " (" << proxy.connections() - before
                                    << " connections)");
    TestRegistry::Forget({via_proxy});
    proxy.set_delay(Duration(0));

    // Docker 20.10 (exit 1, at once, no retry), PORT being the proxy's:
    //   Error response from daemon: received unexpected HTTP status: 503 Service Unavailable
    proxy.set_fail_status(503);
    auto unavailable = Docker({"pull", via_proxy});
    CHECK(unavailable.exit_code == 1);
    CHECK_THAT(unavailable.err,
               Contains("Error response from daemon: received unexpected HTTP status: 503 Service Unavailable"));
    // A 4xx body is read as the registry API's errors; the proxy's message is
    // "Too Many Requests (recipe-harness test proxy)", so (exit 1, at once):
    //   Error response from daemon: toomanyrequests: Too Many Requests (recipe-harness test proxy)
    // (Docker Hub's rate limit reads "toomanyrequests: You have reached your pull rate limit. ...")
    proxy.set_fail_status(429);
    auto limited = Docker({"pull", via_proxy});
    CHECK(limited.exit_code == 1);
    CHECK_THAT(limited.err, Contains("Error response from daemon: toomanyrequests: Too Many Requests"));
    proxy.set_fail_status(0);
    CHECK_FALSE(HaveImage(via_proxy));

    // A proxy whose registry is down closes each connection:
    //   Error response from daemon: Get "http://127.0.0.1:PORT/v2/": EOF
    registry.Stop();
    auto down = Docker({"pull", via_proxy});
    CHECK(down.exit_code == 1);
    CHECK_THAT(down.err, Contains("Error response from daemon: Get \"http://" + proxy.host() + "/v2/\": EOF"));
    registry.Start();
    MustDocker({"pull", via_proxy});
    CHECK(HaveImage(via_proxy));
    // Left for the proxy's destructor to remove.
  }
  CHECK(ImagesUnder(host).empty());
  CHECK(ImagesUnder(proxy_host).empty());
}

TEST_CASE("registry support: a registry that is down, and a tag that was never pushed", "[registry-support]") {
  std::string host;
  {
    TestRegistry registry;
    host = registry.host();
    std::string ref = PushStamp(registry);

    // Docker 20.10 (exit 1), PORT being the registry's:
    //   Error response from daemon: manifest for 127.0.0.1:PORT/support/stamp:never-pushed not found:
    //   manifest unknown: manifest unknown
    // and the same for a repository that was never pushed (.../support/never-pushed:1).
    for (const std::string missing : {"/support/stamp:never-pushed", "/support/never-pushed:1"}) {
      auto r = Docker({"pull", host + missing});
      CHECK(r.exit_code == 1);
      CHECK_THAT(r.err, Contains("Error response from daemon: manifest for " + host + missing +
                                 " not found: manifest unknown: manifest unknown"));
    }

    // Down (exit 1, at once):
    //   Error response from daemon: Get "http://127.0.0.1:PORT/v2/": dial tcp 127.0.0.1:PORT: connect:
    //   connection refused
    registry.Stop();
    auto down = Docker({"pull", ref});
    CHECK(down.exit_code == 1);
    CHECK_THAT(down.err, Contains("Error response from daemon: Get \"http://" + host + "/v2/\": dial tcp " + host +
                                  ": connect: connection refused"));
    CHECK_FALSE(HaveImage(ref));

    registry.Start();  // same port, same storage
    MustDocker({"pull", ref});
    CHECK(HaveImage(ref));
  }
  CHECK(ImagesUnder(host).empty());
}

TEST_CASE("registry support: both nodes of a two-node swarm pull the same reference", "[registry-support]") {
  std::string host;
  {
    TwoNodeSwarm swarm;
    TestRegistry registry;
    host = registry.host();
    std::string ref = registry.Push("recipe-harness/busybox:1", "support/busybox:1");
    swarm.ReachRegistry(registry.port());
    for (const std::string node : {"b", "a"}) {
      TwoNodeSwarm::Docker(node, {"pull", ref});
      CHECK(TwoNodeSwarm::Docker(node, {"image", "inspect", "--format", "{{join .RepoDigests \",\"}}", ref}) ==
            host + "/support/busybox@" + registry.Digest("support/busybox:1") + "\n");
    }
    // Pulling made nothing else on any node.
    Ownership any_stack;
    any_stack.labels = {"com.docker.stack.namespace", "harness.namespace"};
    CHECK_THAT(ScanFor(any_stack, {TwoNodeSwarm::Nodes()[1], TwoNodeSwarm::Nodes()[2]}), NothingLeft());
    CHECK_THAT(StampContainers(TwoNodeSwarm::Nodes()), NothingLeft());
  }
  CHECK(ImagesUnder(host).empty());
}

}  // namespace harness::testing
