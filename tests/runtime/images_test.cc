// Images of a run: references as Docker reads them, pull policies, the digest a pull gave,
// and what a failed `docker pull` (messages recorded from Docker 20.10) means.
#include "runtime/images.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <sstream>

namespace harness {
namespace {

const std::string kDigest = "sha256:" + std::string(
    "0d2f2fb7b3c7e1b2a8b1e6f5c9d4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6");
const std::string kOther = "sha256:" + std::string(64, 'a');

// ----------------------------------------------------------------------------------------
// References

TEST_CASE("images: Docker Hub references get docker.io, library/ and latest", "[images]") {
  ImageRef pg = ParseImageRef("postgres:16");
  CHECK(pg.registry == "docker.io");
  CHECK(pg.repository == "library/postgres");
  CHECK(pg.tag == "16");
  CHECK(pg.digest.empty());
  CHECK(pg.Name() == "postgres");

  ImageRef bare = ParseImageRef("postgres");
  CHECK(bare.registry == "docker.io");
  CHECK(bare.repository == "library/postgres");
  CHECK(bare.tag == "latest");
  CHECK(bare.Name() == "postgres");

  ImageRef gitea = ParseImageRef("gitea/gitea:1.22");
  CHECK(gitea.registry == "docker.io");
  CHECK(gitea.repository == "gitea/gitea");
  CHECK(gitea.tag == "1.22");
  CHECK(gitea.Name() == "gitea/gitea");

  // Spelled out in full: the same image as "nginx:1.27-alpine".
  ImageRef nginx = ParseImageRef("docker.io/library/nginx:1.27-alpine");
  CHECK(nginx.registry == "docker.io");
  CHECK(nginx.repository == "library/nginx");
  CHECK(nginx.tag == "1.27-alpine");
  CHECK(nginx.Name() == "nginx");
}

TEST_CASE("images: a registry is a first part with a '.', a ':' or localhost", "[images]") {
  ImageRef ghcr = ParseImageRef("ghcr.io/owner/app:v2");
  CHECK(ghcr.registry == "ghcr.io");
  CHECK(ghcr.repository == "owner/app");
  CHECK(ghcr.tag == "v2");
  CHECK(ghcr.Name() == "ghcr.io/owner/app");

  ImageRef local = ParseImageRef("127.0.0.1:5000/recipe-harness/busybox:1");
  CHECK(local.registry == "127.0.0.1:5000");
  CHECK(local.repository == "recipe-harness/busybox");
  CHECK(local.tag == "1");
  CHECK(local.Name() == "127.0.0.1:5000/recipe-harness/busybox");

  // The port's ':' is not a tag.
  ImageRef lh = ParseImageRef("localhost:5000/a/b");
  CHECK(lh.registry == "localhost:5000");
  CHECK(lh.repository == "a/b");
  CHECK(lh.tag == "latest");
  CHECK(lh.Name() == "localhost:5000/a/b");

  ImageRef port = ParseImageRef("registry.example.com:8443/x/y:z");
  CHECK(port.registry == "registry.example.com:8443");
  CHECK(port.repository == "x/y");
  CHECK(port.tag == "z");
  CHECK(port.Name() == "registry.example.com:8443/x/y");

  ImageRef plain = ParseImageRef("localhost/app");
  CHECK(plain.registry == "localhost");
  CHECK(plain.repository == "app");
}

TEST_CASE("images: a digest is kept; without a tag none is assumed", "[images]") {
  ImageRef by_digest = ParseImageRef("busybox@" + kDigest);
  CHECK(by_digest.registry == "docker.io");
  CHECK(by_digest.repository == "library/busybox");
  CHECK(by_digest.tag.empty());
  CHECK(by_digest.digest == kDigest);
  CHECK(by_digest.Name() == "busybox");

  ImageRef both = ParseImageRef("nginx:1.27@" + kDigest);
  CHECK(both.repository == "library/nginx");
  CHECK(both.tag == "1.27");
  CHECK(both.digest == kDigest);

  ImageRef registry_digest = ParseImageRef("127.0.0.1:5000/recipe-harness/busybox@" + kDigest);
  CHECK(registry_digest.registry == "127.0.0.1:5000");
  CHECK(registry_digest.repository == "recipe-harness/busybox");
  CHECK(registry_digest.tag.empty());
}

// ----------------------------------------------------------------------------------------
// Pull policies

TEST_CASE("images: pull policies as compose spells them", "[images]") {
  auto missing = ParsePullPolicy("missing");
  REQUIRE(missing.ok());
  CHECK(*missing == PullPolicy::kMissing);
  auto if_not_present = ParsePullPolicy("if_not_present");  // compose's other spelling
  REQUIRE(if_not_present.ok());
  CHECK(*if_not_present == PullPolicy::kMissing);
  auto always = ParsePullPolicy("always");
  REQUIRE(always.ok());
  CHECK(*always == PullPolicy::kAlways);
  auto never = ParsePullPolicy("never");
  REQUIRE(never.ok());
  CHECK(*never == PullPolicy::kNever);

  CHECK(std::string(PullPolicyName(PullPolicy::kMissing)) == "missing");
  CHECK(std::string(PullPolicyName(PullPolicy::kAlways)) == "always");
  CHECK(std::string(PullPolicyName(PullPolicy::kNever)) == "never");

  for (const char* bad : {"sometimes", "Always", ""}) {
    auto p = ParsePullPolicy(bad);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == Status::Code::kInvalidArgument);
    CHECK_THAT(p.status().message(), Catch::Contains("'" + std::string(bad) + "'") &&
                                         Catch::Contains("missing, always or never"));
  }
}

// ----------------------------------------------------------------------------------------
// Digests

TEST_CASE("images: the digest is the one of the image's own repository", "[images]") {
  // Docker Hub: `docker image inspect postgres:16` lists RepoDigests by the short name.
  CHECK(DigestFor("postgres:16", {"postgres@" + kDigest}) == kDigest);
  CHECK(DigestFor("docker.io/library/postgres:16", {"postgres@" + kDigest}) == kDigest);
  CHECK(DigestFor("gitea/gitea:1.22", {"gitea/gitea@" + kDigest}) == kDigest);
  // Tagged into several repositories: the one asked for.
  CHECK(DigestFor("postgres:16", {"127.0.0.1:5000/mirror/postgres@" + kOther, "postgres@" + kDigest}) == kDigest);

  // A local registry's image.
  CHECK(DigestFor("127.0.0.1:5000/recipe-harness/busybox:1", {"127.0.0.1:5000/recipe-harness/busybox@" + kDigest}) ==
        kDigest);

  // RepoDigests of another repository (pushed from here, or a mirror): not this image's.
  CHECK(DigestFor("recipe-harness/busybox:1", {"127.0.0.1:5000/recipe-harness/busybox@" + kDigest}).empty());
  CHECK(DigestFor("127.0.0.1:5000/recipe-harness/busybox:1", {"127.0.0.1:5001/recipe-harness/busybox@" + kDigest})
            .empty());
  CHECK(DigestFor("busybox:1", {"library/busybox-extra@" + kDigest}).empty());
  // Built or loaded here: no RepoDigests at all, or an entry without a digest.
  CHECK(DigestFor("recipe-harness/busybox:1", {}).empty());
  CHECK(DigestFor("postgres:16", {"postgres"}).empty());

  // A reference with its own digest is its digest, whatever the node lists.
  CHECK(DigestFor("busybox@" + kDigest, {"busybox@" + kOther}) == kDigest);
  CHECK(DigestFor("nginx:1.27@" + kDigest, {}) == kDigest);
}

TEST_CASE("images: the pinned reference keeps the tag and adds the digest", "[images]") {
  CHECK(PinnedReference("postgres:16", kDigest) == "postgres:16@" + kDigest);
  CHECK(PinnedReference("127.0.0.1:5000/recipe-harness/busybox:1", kDigest) ==
        "127.0.0.1:5000/recipe-harness/busybox:1@" + kDigest);
  // A local-only image (no digest) stays as it is named.
  CHECK(PinnedReference("recipe-harness/busybox:1", "") == "recipe-harness/busybox:1");
  // Already pinned: unchanged.
  CHECK(PinnedReference("busybox@" + kDigest, kOther) == "busybox@" + kDigest);
  CHECK(PinnedReference("nginx:1.27@" + kDigest, kDigest) == "nginx:1.27@" + kDigest);
}

// ----------------------------------------------------------------------------------------
// Failed pulls

const Duration kBudget{90000};

struct Pull {
  const char* image;
  const char* docker_error;
  bool timed_out;
  Status::Code code;
  bool transient;
};

// Recorded from docker 20.10: a local registry, its proxy, and Docker Hub.
const Pull kPulls[] = {
    {"127.0.0.1:5001/support/stamp:never-pushed",
     "Error response from daemon: manifest for 127.0.0.1:5001/support/stamp:never-pushed not found: manifest "
     "unknown: manifest unknown\n",
     false, Status::Code::kFailed, false},
    {"nosuch/app:1",
     "Error response from daemon: pull access denied for nosuch/app, repository does not exist or may require "
     "'docker login': denied: requested access to the resource is denied\n",
     false, Status::Code::kFailed, false},
    {"127.0.0.1:5001/support/stamp:1", "Error response from daemon: received unexpected HTTP status: 503 Service Unavailable\n",
     false, Status::Code::kInfra, true},
    {"127.0.0.1:5001/support/stamp:1",
     "Error response from daemon: toomanyrequests: Too Many Requests (recipe-harness test proxy)\n", false,
     Status::Code::kInfra, true},
    {"127.0.0.1:5001/support/stamp:1",
     "Error response from daemon: Get \"http://127.0.0.1:5001/v2/\": dial tcp 127.0.0.1:5001: connect: connection "
     "refused\n",
     false, Status::Code::kInfra, false},
    {"127.0.0.1:5001/support/stamp:1", "Error response from daemon: Get \"http://127.0.0.1:5001/v2/\": EOF\n", false,
     Status::Code::kInfra, false},
    {"127.0.0.1:5001/support/stamp:1", "", true, Status::Code::kInfra, true},
};

Status Classify(const Pull& p) { return PullFailure(p.image, p.docker_error, p.timed_out, kBudget); }

TEST_CASE("images: a tag or repository the registry does not have is the recipe's failure", "[images]") {
  Status manifest = Classify(kPulls[0]);
  CHECK(manifest.code() == Status::Code::kFailed);
  CHECK_THAT(manifest.message(), Catch::Contains("127.0.0.1:5001/support/stamp:never-pushed"));
  CHECK_THAT(manifest.message(), Catch::Contains("127.0.0.1:5001 has no support/stamp:never-pushed"));
  CHECK_THAT(manifest.message(), Catch::Contains("manifest unknown"));
  CHECK_THAT(manifest.message(), !Catch::Contains("Error response from daemon"));
  CHECK_THAT(manifest.message(), !Catch::Contains("\n"));

  Status denied = Classify(kPulls[1]);
  CHECK(denied.code() == Status::Code::kFailed);
  CHECK_THAT(denied.message(), Catch::Contains("nosuch/app:1") && Catch::Contains("docker.io"));
  CHECK_THAT(denied.message(), Catch::Contains("repository does not exist"));

  // By digest: the digest is what is missing.
  Status by_digest = PullFailure("127.0.0.1:5001/support/stamp@" + kDigest,
                                 "Error response from daemon: manifest for 127.0.0.1:5001/support/stamp@" + kDigest +
                                     " not found: manifest unknown: manifest unknown",
                                 false, kBudget);
  CHECK(by_digest.code() == Status::Code::kFailed);
  CHECK_THAT(by_digest.message(), Catch::Contains("has no support/stamp@" + kDigest));
}

TEST_CASE("images: a 5xx, a 429 or a timeout is a transient infrastructure failure", "[images]") {
  Status unavailable = Classify(kPulls[2]);
  CHECK(unavailable.code() == Status::Code::kInfra);
  CHECK_THAT(unavailable.message(), Catch::StartsWith("image pull of 127.0.0.1:5001/support/stamp:1 from 127.0.0.1:5001"));
  CHECK_THAT(unavailable.message(), Catch::Contains("failed transiently: received unexpected HTTP status: 503"));

  Status rate = Classify(kPulls[3]);
  CHECK(rate.code() == Status::Code::kInfra);
  CHECK_THAT(rate.message(), Catch::Contains("failed transiently: toomanyrequests"));

  Status timeout = Classify(kPulls[6]);
  CHECK(timeout.code() == Status::Code::kInfra);
  CHECK_THAT(timeout.message(), Catch::Contains("image pull of 127.0.0.1:5001/support/stamp:1 from 127.0.0.1:5001"));
  CHECK_THAT(timeout.message(), Catch::Contains("timed out") && Catch::Contains("1m30s"));
}

TEST_CASE("images: an unreachable registry is infrastructure, not transient", "[images]") {
  Status refused = Classify(kPulls[4]);
  CHECK(refused.code() == Status::Code::kInfra);
  CHECK_THAT(refused.message(), Catch::Contains("from 127.0.0.1:5001 failed: Get"));
  CHECK_THAT(refused.message(), Catch::Contains("connection refused"));
  CHECK_THAT(refused.message(), !Catch::Contains("transiently"));

  Status eof = Classify(kPulls[5]);
  CHECK(eof.code() == Status::Code::kInfra);
  CHECK_THAT(eof.message(), Catch::EndsWith("failed: Get \"http://127.0.0.1:5001/v2/\": EOF"));
  CHECK_THAT(eof.message(), !Catch::Contains("transiently"));
}

// The `match` of the library's default transient class `name`, from lua/harness/defaults.lua.
std::string DefaultTransientMatch(const std::string& name) {
  std::ifstream f(std::string(HARNESS_SOURCE_DIR) + "/lua/harness/defaults.lua");
  REQUIRE(f);
  std::string line;
  while (std::getline(f, line)) {
    if (line.find("name = \"" + name + "\"") == std::string::npos) continue;
    const std::string key = "match = \"";
    auto start = line.find(key);
    REQUIRE(start != std::string::npos);
    std::string match;
    for (size_t i = start + key.size(); i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;  // Lua's \\ and \"
      match += line[i];
    }
    return match;
  }
  FAIL("no transient class '" << name << "' in lua/harness/defaults.lua");
  return "";
}

TEST_CASE("images: the library's image-pull class retries exactly the transient pulls", "[images]") {
  std::string match = DefaultTransientMatch("image-pull");
  REQUIRE_FALSE(match.empty());
  std::regex re(match, std::regex::ECMAScript);
  for (const Pull& p : kPulls) {
    Status s = Classify(p);
    INFO(s.message());
    CHECK(std::regex_search(s.message(), re) == p.transient);
  }
}

// Docker normalises "docker.io/nginx" to docker.io/library/nginx and lists its RepoDigests
// as "nginx@sha256:…": the same image as "nginx".
TEST_CASE("images: docker.io/<name> is a library image", "[images]") {
  ImageRef spelled = ParseImageRef("docker.io/nginx:1.27");
  CHECK(spelled.registry == "docker.io");
  CHECK(spelled.repository == "library/nginx");
  CHECK(spelled.Name() == "nginx");
  CHECK(DigestFor("docker.io/nginx:1.27", {"nginx@" + kDigest}) == kDigest);
}

// Beyond the recorded messages: Docker's reason must not decide transience by accident.
TEST_CASE("images: transience follows Docker's reason, not digits or words in an address", "[images]") {
  // A registry at a 50.x.x.x address that refuses connections is not a 5xx.
  Status refused = PullFailure("r.example.com/app:1",
                               "Error response from daemon: Get \"https://r.example.com/v2/\": dial tcp 50.18.7.1:443: "
                               "connect: connection refused",
                               false, kBudget);
  CHECK(refused.code() == Status::Code::kInfra);
  CHECK_THAT(refused.message(), !Catch::Contains("transiently"));

  // Whatever the C++ side calls a connect timeout, the library's class must agree with it.
  Status connect_timeout = PullFailure("r.example.com/app:1",
                                       "Error response from daemon: Get \"https://r.example.com/v2/\": dial tcp "
                                       "3.216.34.172:443: connect: connection timed out",
                                       false, kBudget);
  std::regex re(DefaultTransientMatch("image-pull"), std::regex::ECMAScript);
  bool said_transient = connect_timeout.message().find("failed transiently") != std::string::npos;
  INFO(connect_timeout.message());
  CHECK(std::regex_search(connect_timeout.message(), re) == said_transient);
}

}  // namespace
}  // namespace harness
