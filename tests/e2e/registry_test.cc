// Recipes that name registry images (support/registry.h: a real docker-registry on
// loopback): pulled, pinned by digest for the whole run, and each failure of a pull
// classified — the registry down (infra), a tag it lacks (the recipe's), a registry too
// slow for the pull budget (the transient class image-pull, retried once). `check`
// plans the same recipe and creates nothing. On the two-node Swarm, the worker pulls the
// pinned image itself. Every image a test pulled is removed again.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/temp_dir.h"
#include "exec/local_executor.h"
#include "support/e2e.h"
#include "support/registry.h"
#include "support/schema_check.h"
#include "support/two_node_swarm.h"

namespace harness::testing {
namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

ProcessResult Docker(const std::vector<std::string>& args) { return DockerCli(args); }

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return nlohmann::json::parse(ss.str(), nullptr, false);
}

// The files of a recipe as published whose one service runs `image` (named through
// .env.sample, as recipes do) and serves the image's /stamp; `lua` is its script.
void WriteRecipe(const fs::path& dir, const std::string& image, const std::string& version,
                 const std::string& lua, const std::string& extra_command = "") {
  Write(dir / ".env.sample", "TYPE=stamp\nDOMAIN=stamp.example.com\n\n## The image\nAPP_IMAGE=" + image + "\n");
  Write(dir / "compose.yml", R"(version: "3.8"
services:
  app:
    image: ${APP_IMAGE}
    command:
      - sh
      - -c
      - |
        trap 'exit 0' TERM INT
        mkdir -p /www && cp /stamp /www/stamp
        )" + (extra_command.empty() ? std::string("true") : extra_command) + R"(
        httpd -f -p 8080 -h /www &
        wait
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/stamp"]
      interval: 1s
      timeout: 2s
      retries: 3
    deploy:
      endpoint_mode: dnsrr
      labels:
        - "coop-cloud.${STACK_NAME}.version=)" + version + R"("
)");
  Write(dir / "recipe.lua", lua);
}

std::string StampTest(const std::string& stamp) {
  return R"(
  tests = {
    { "runs the pinned image", function()
        local r = http.get("http://app:8080/stamp")
        expect.eq(r.status, 200, "status of /stamp")
        expect.contains(r.body, ")" + stamp + R"(", "the image's stamp")
      end },
  },)";
}

struct Run {
  int exit_code = -1;
  nlohmann::json summary;
  nlohmann::json prepare;
  std::string err;
  std::string ns;
  LeftoverScan left;  // what the checker found right after the run, before any cleanup
};

Run RunRecipe(const std::string& recipes, const std::vector<std::string>& args, Duration timeout = Duration(300000)) {
  TempDir artifacts("harness-registry-e2e");
  std::vector<std::string> all = {"--recipes", recipes, "--artifacts", artifacts.path(), "--plain"};
  all.insert(all.end(), args.begin(), args.end());
  auto r = RunHarness(all, timeout);
  Run out;
  out.exit_code = r.exit_code;
  out.err = r.err;
  out.ns = r.namespace_name;
  out.summary = ReadJson(r.artifacts + "/summary.json");
  out.prepare = ReadJson(r.artifacts + "/00-prepare.json");
  out.left = LeftoversOf(out.ns);
  CleanUp(out.ns);
  return out;
}

const nlohmann::json& Image(const nlohmann::json& prepare) {
  static const nlohmann::json none = nlohmann::json::object();
  const auto& images = prepare["observations"]["images_resolved"];
  return images.is_array() && !images.empty() ? images[0] : none;
}

}  // namespace

TEST_CASE("registry: an image only the registry has is pulled, pinned by digest, and the run passes",
          "[registry]") {
  TestRegistry registry;
  StampImage stamp("stamp one");
  std::string image = registry.Push(stamp.name(), "stamp/app:1");
  std::string digest = registry.Digest("stamp/app:1");
  TempDir recipes("harness-registry-recipes");
  WriteRecipe(fs::path(recipes.path()) / "stamp", image, "1.0.0+1", "return recipe {" + StampTest("stamp one") + "\n}\n");
  REQUIRE_FALSE(Docker({"image", "inspect", image}).ok());

  Run run = RunRecipe(recipes.path(), {"run", "stamp"});
  INFO(run.err);
  CHECK(run.exit_code == 0);
  const auto& img = Image(run.prepare);
  INFO(run.prepare.dump(2));
  CHECK(img.value("image", "") == image);
  CHECK(img.value("source", "") == "pulled");
  CHECK(img.value("digest", "") == digest);  // the registry's own answer
  CHECK(img.value("deployed_as", "") == image + "@" + digest);
  CHECK(img.value("pull_ms", -1) >= 0);
  CHECK(run.summary.value("version", "") == "1.0.0+1");
  CHECK_THAT(run.left, NothingLeft());
  TestRegistry::Forget({image, "127.0.0.1:" + std::to_string(registry.port()) + "/stamp/app@" + digest});
}

TEST_CASE("registry: check plans the recipe and creates nothing", "[registry]") {
  TestRegistry registry;
  StampImage stamp("stamp check");
  std::string image = registry.Push(stamp.name(), "stamp/app:1");
  TempDir recipes("harness-registry-recipes");
  WriteRecipe(fs::path(recipes.path()) / "stamp", image, "1.0.0+1", "return recipe {" + StampTest("stamp check") + "\n}\n");
  auto objects = [] {
    std::string all;
    for (const char* kind : {"service", "secret", "config", "network", "volume"}) {
      all += Docker({kind, "ls", "-q"}).out;
    }
    return all + Docker({"ps", "-aq"}).out + Docker({"images", "-q", "--no-trunc"}).out;
  };
  std::string before = objects();
  auto r = RunHarness({"--recipes", recipes.path(), "--json", "check", "stamp"}, Duration(60000));
  INFO(r.err << r.out);
  CHECK(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(j.is_object());
  CHECK(j["schema"] == "recipe-harness/check/v1");
  const auto& images = j["prepare"]["observations"]["images_resolved"];
  REQUIRE(images.size() == 1);
  CHECK(images[0]["source"] == "pullable");
  CHECK(images[0]["digest"] == registry.Digest("stamp/app:1"));
  CHECK(objects() == before);  // no object and no image more or less
  {
    TempDir out("harness-check-json");
    Write(fs::path(out.path()) / "check.json", r.out);
    std::string violations = ValidateArtifacts(out.path());
    INFO("the check report does not fit docs/schema/check.v1.json:\n" << violations);
    CHECK(violations == "");
  }
  // A tag the registry lacks: the recipe is wrong (exit 1), named in a problem with a fix.
  WriteRecipe(fs::path(recipes.path()) / "stamp", registry.host() + "/stamp/app:nope", "1.0.0+1", "return recipe {}\n");
  auto bad = RunHarness({"--recipes", recipes.path(), "--json", "check", "stamp"}, Duration(60000));
  auto jb = nlohmann::json::parse(bad.out, nullptr, false);
  INFO(bad.out);
  CHECK(bad.exit_code == 1);
  REQUIRE(jb["problems"].size() == 1);
  CHECK_THAT(jb["problems"][0]["error"].get<std::string>(), Contains("stamp/app:nope"));
  CHECK_FALSE(jb["problems"][0]["fix"].get<std::string>().empty());
  CHECK(objects() == before);
}

TEST_CASE("registry: a pull from a registry that is down is infra (exit 3) naming the image", "[registry]") {
  TestRegistry registry;
  StampImage stamp("stamp down");
  std::string image = registry.Push(stamp.name(), "stamp/app:1");
  registry.Stop();
  TempDir recipes("harness-registry-recipes");
  WriteRecipe(fs::path(recipes.path()) / "stamp", image, "1.0.0+1", "return recipe {}\n");
  Run run = RunRecipe(recipes.path(), {"run", "stamp"});
  INFO(run.err);
  CHECK(run.exit_code == 3);
  CHECK(run.summary.value("result", "") == "infra");
  CHECK(run.summary.value("failed_phase", "") == "prepare");
  std::string reason = run.summary.value("reason", "");
  CHECK_THAT(reason, Contains(image));
  CHECK_THAT(reason, Contains("connection refused"));
  CHECK_THAT(run.left, NothingLeft());
}

TEST_CASE("registry: a tag the registry does not have is the recipe's failure (exit 1) naming it", "[registry]") {
  TestRegistry registry;
  TempDir recipes("harness-registry-recipes");
  std::string image = registry.host() + "/stamp/app:2.0-missing";
  WriteRecipe(fs::path(recipes.path()) / "stamp", image, "1.0.0+1", "return recipe {}\n");
  Run run = RunRecipe(recipes.path(), {"run", "stamp"});
  INFO(run.err);
  CHECK(run.exit_code == 1);
  CHECK(run.summary.value("result", "") == "failed");
  CHECK_THAT(run.summary.value("reason", ""), Contains("does not exist"));
  CHECK_THAT(run.summary.value("reason", ""), Contains("stamp/app:2.0-missing"));
  CHECK_THAT(run.left, NothingLeft());
}

TEST_CASE("registry: a registry slower than the pull budget is the transient class image-pull, retried once",
          "[registry]") {
  TestRegistry registry;
  StampImage stamp("stamp slow");
  std::string pushed = registry.Push(stamp.name(), "stamp/app:1");
  DelayingProxy proxy("127.0.0.1", registry.port());
  proxy.set_delay(Duration(2000));  // per connection; a pull makes several
  std::string image = proxy.host() + "/stamp/app:1";
  TempDir recipes("harness-registry-recipes");
  WriteRecipe(fs::path(recipes.path()) / "stamp", image, "1.0.0+1", "return recipe { timeouts = { pull = 3 } }\n");
  // A sweep retries a failure of a declared transient class once.
  TempDir artifacts("harness-registry-e2e");
  auto r = RunHarness({"--recipes", recipes.path(), "--artifacts", artifacts.path(), "--json", "sweep"},
                      Duration(300000));
  INFO(r.err << r.out);
  CHECK(r.exit_code == 3);
  auto run = nlohmann::json::parse(r.out, nullptr, false);  // one run: its summary alone
  REQUIRE(run.is_object());
  CHECK(run["recipe"] == "stamp");
  INFO(run.dump(2));
  CHECK(run["result"] == "infra");
  CHECK(run["failed_phase"] == "prepare");
  CHECK(run["retry"]["transient_class"] == "image-pull");
  CHECK(run["retry"]["escalated"] == true);
  CHECK_THAT(run["retry"]["first_reason"].get<std::string>(), Contains("timed out"));
  CHECK_THAT(run["reason"].get<std::string>(), Contains("pull budget of 3.0s"));
  CHECK_THAT(run["reason"].get<std::string>(), Contains(image));
  CHECK_THAT(LeftoversOf(run.value("namespace", "")), NothingLeft());
  CleanUp(run.value("namespace", ""));
  TestRegistry::Forget({image, pushed});
}

TEST_CASE("registry: the tag moved between deploy and upgrade, and the run kept its digest", "[registry]") {
  TestRegistry registry;
  StampImage first("stamp first");
  StampImage second("stamp second");
  std::string image = registry.Push(first.name(), "stamp/app:1");
  std::string digest = registry.Digest("stamp/app:1");
  TempDir recipes("harness-registry-recipes");
  fs::path dir = fs::path(recipes.path()) / "stamp";
  // The first release waits, in its readiness probe, until the test has moved the tag;
  // the second creates the flag itself.
  std::string ready = R"(
  ready = function()
    local r = http.get("http://app:8080/go")
    return r.status == 200, "waiting for /go"
  end,)";
  WriteRecipe(dir / "releases" / "1.0.0+1", image, "1.0.0+1", "return recipe { version = \"1.0.0+1\"," + ready + "}\n");
  WriteRecipe(dir / "releases" / "1.1.0+1", image, "1.1.0+1",
              "return recipe { version = \"1.1.0+1\"," + ready + StampTest("stamp first") + "\n}\n",
              "echo go > /www/go");
  TempDir artifacts("harness-registry-e2e");
  HarnessProcess h({"--recipes", recipes.path(), "--artifacts", artifacts.path(), "--plain", "run",
                    "stamp@1.1.0+1", "--upgrade-from", "1.0.0+1"});
  REQUIRE(h.WaitForLine("readiness probe", Duration(180000)));
  // The tag now names another image, on the registry and on this node.
  registry.Push(second.name(), "stamp/app:1");
  REQUIRE(Docker({"pull", image}).ok());
  REQUIRE(registry.Digest("stamp/app:1") != digest);
  std::string ns = h.namespace_name();
  auto ids = Docker({"ps", "-q", "--filter", "label=com.docker.swarm.service.name=" + ns + "_app"});
  std::istringstream in(ids.out);
  std::string container;
  in >> container;
  REQUIRE_FALSE(container.empty());
  REQUIRE(Docker({"exec", container, "sh", "-c", "echo go > /www/go"}).ok());
  int code = h.Wait(Duration(240000));
  INFO(h.err());
  CHECK(code == 0);  // the upgrade's test saw "stamp first": the pinned digest, not the moved tag
  CHECK_THAT(h.err(), Contains("pass runs the pinned image"));
  CHECK_THAT(LeftoversOf(ns), NothingLeft());
  TestRegistry::Forget({image, registry.host() + "/stamp/app@" + digest});
}

TEST_CASE("registry: on a two-node Swarm the worker pulls the pinned image itself", "[registry]") {
  TwoNodeSwarm swarm;
  TestRegistry registry;
  swarm.ReachRegistry(registry.port());
  StampImage stamp("stamp spread");
  std::string image = registry.Push(stamp.name(), "stamp/app:1");
  std::string digest = registry.Digest("stamp/app:1");
  TempDir recipes("harness-registry-recipes");
  fs::path dir = fs::path(recipes.path()) / "stamp";
  Write(dir / ".env.sample", "APP_IMAGE=" + image + "\n");
  std::string service = R"(
    image: ${APP_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM INT; mkdir -p /www; cp /stamp /www/stamp; httpd -f -p 8080 -h /www & wait"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/stamp"]
      interval: 1s
      retries: 3
    deploy:
      endpoint_mode: dnsrr
      placement:
        constraints: ["node.role == )";
  Write(dir / "compose.yml", "version: \"3.8\"\nservices:\n  front:" + service + "manager\"]\n  back:" + service +
                                 "worker\"]\n");
  Write(dir / "recipe.lua", R"(return recipe {
  tests = {
    { "both nodes run the stamp", function()
        for _, svc in ipairs({ "front", "back" }) do
          local r = http.get("http://" .. svc .. ":8080/stamp")
          expect.contains(r.body, "stamp spread", svc .. "'s stamp")
        end
      end },
  },
}
)");
  TempDir artifacts("harness-registry-e2e");
  auto r = RunHarness({"--recipes", recipes.path(), "--artifacts", artifacts.path(), "--plain", "--target",
                       swarm.target(), "--ssh-key", swarm.client_key(), "--known-hosts", swarm.known_hosts(), "run",
                       "stamp"},
                      Duration(300000));
  INFO(r.err << r.out);
  CHECK(r.exit_code == 0);
  auto prepare = ReadJson(r.artifacts + "/00-prepare.json");
  INFO(prepare.dump(2));
  const auto& there = prepare["observations"]["images_pulled_on_nodes"];
  REQUIRE(there.size() == 1);
  CHECK(there[0]["node"] == "node-b");
  CHECK(there[0]["image"] == image + "@" + digest);
  CHECK(Image(prepare).value("digest", "") == digest);
  // node-b has the image by the registry's digest, not a copy through this machine.
  CHECK_THAT(TwoNodeSwarm::Docker("b", {"images", "--digests", "--format", "{{.Repository}}@{{.Digest}}"}),
             Contains(registry.host() + "/stamp/app@" + digest));
  CHECK_FALSE(prepare["observations"].contains("images_copied"));
  CHECK_THAT(ScanFor(Namespace(r.namespace_name), TwoNodeSwarm::Nodes()), NothingLeft());
  TestRegistry::Forget({image});
}

}  // namespace harness::testing
