// The run lifecycle (ColdRun, RunRecipeWithRetry) on a FakeRuntime: exit codes and
// results per outcome, teardown on every path once anything may exist (verified, and
// reported when it fails or leaves objects), retries of declared transient classes and
// their escalation, upgrade runs, and warm deploys. Tiny recipe folders are written into a
// temporary folder; the ledger, locks and artifacts are real, the Swarm is the fake.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/cancel.h"
#include "base/temp_dir.h"
#include "report/check.h"
#include "run/run.h"
#include "support/fake_runtime.h"
#include "support/git_fixture.h"
#include "warm/warm_profile.h"

namespace harness {
namespace {

namespace fs = std::filesystem;
using testing::FakeSwarm;
using Behaviour = FakeSwarm::Behaviour;

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

std::string Read(const fs::path& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// One service with a compose-declared secret, labelled with `version`.
std::string Compose(const std::string& version) {
  return "version: \"3.8\"\n"
         "services:\n"
         "  app:\n"
         "    image: recipe-harness/busybox:1\n"
         "    secrets: [db_password]\n"
         "    deploy:\n"
         "      labels:\n"
         "        coop-cloud.${STACK_NAME}.version: " + version + "\n"
         "secrets:\n"
         "  db_password:\n"
         "    external: true\n"
         "    name: ${STACK_NAME}_db_password_${SECRET_DB_PASSWORD_VERSION}\n";
}

// A script whose one test runs `true` in the app's container and wants exit 0; `extra`
// goes into the recipe table.
std::string Script(const std::string& version, const std::string& extra = "") {
  return "return recipe {\n"
         "  version = \"" + version + "\",\n"
         "  timeouts = { deploy = 0.5, test = 5, teardown = 5, settle = 0 },\n" + extra +
         "  tests = { { \"exec answers\", function()\n"
         "    local r = exec(\"app\", { \"true\" })\n"
         "    expect.eq(r.code, 0, \"exit code of true\")\n"
         "  end } },\n"
         "}\n";
}

// A folder of recipes, the run's state and artifacts, all removed afterwards.
struct Sandbox {
  TempDir root{"harness-lifecycle"};
  fs::path recipes = fs::path(root.path()) / "recipes";
  FakeSwarm swarm;

  Sandbox() { Recipe("web", Script("1.0.0+1"), Compose("1.0.0+1")); }

  void Recipe(const std::string& name, const std::string& script, const std::string& compose,
              const std::string& release = "") {
    fs::path dir = recipes / name;
    if (!release.empty()) dir = dir / "releases" / release;
    Write(dir / "recipe.lua", script);
    Write(dir / "compose.yml", compose);
  }

  RunOptions Options(const std::string& recipe = "web") {
    RunOptions o;
    o.recipes_dir = recipes.string();
    o.recipe = recipe;
    o.artifacts_dir = root.path() + "/artifacts";
    o.state_dir = root.path() + "/state";
    o.make_runtime = swarm.Factory();
    return o;
  }

  RunOutcome Run(const RunOptions& o) { return RunRecipeWithRetry(o, nullptr, nullptr); }
  RunOutcome Run() { return Run(Options()); }
};

nlohmann::json Packet(const RunOutcome& out, const std::string& phase) {
  for (const auto& e : fs::directory_iterator(out.artifacts)) {
    std::string name = e.path().filename().string();
    if (name.size() == phase.size() + 8 && name.substr(3) == phase + ".json") {
      return nlohmann::json::parse(Read(e.path()));
    }
  }
  return nullptr;
}

nlohmann::json Summary(const RunOutcome& out) { return nlohmann::json::parse(Read(out.artifacts + "/summary.json")); }

// The teardown packet records the fake's teardown of the run's namespace.
bool TornDownOnDisk(const RunOutcome& out) {
  nlohmann::json p = Packet(out, "teardown");
  if (p.is_null()) return false;
  for (const auto& c : p["commands"]) {
    if (c.dump().find("teardown " + out.namespace_name) != std::string::npos) return true;
  }
  return false;
}

bool HasPhase(const RunOutcome& out, const std::string& name) {
  for (const auto& p : out.phases) {
    if (p.name == name) return true;
  }
  return false;
}

TEST_CASE("lifecycle: a passing run deploys, tests and tears down, verified", "[lifecycle]") {
  Sandbox box;
  RunOutcome out = box.Run();
  INFO(out.reason);
  CHECK(out.exit_code == 0);
  CHECK(out.result == "passed");
  CHECK(out.teardown.ok());
  // The secret before the stack, the test through exec, one teardown of the namespace.
  const auto& calls = box.swarm.calls;
  auto at = [&](const std::string& c) { return std::find(calls.begin(), calls.end(), c) - calls.begin(); };
  std::string ns = out.namespace_name;
  REQUIRE(box.swarm.Count("deploy " + ns) == 1);
  CHECK(at("secret " + ns + "_db_password_v1") < at("deploy " + ns));
  CHECK(at("deploy " + ns) < at("exec c-" + ns + "_app true"));
  CHECK(at("exec c-" + ns + "_app true") < at("teardown " + ns));
  CHECK(box.swarm.Count("teardown ") == 1);
  CHECK_FALSE(box.swarm.AnyOf(ns));
  CHECK(Summary(out)["result"] == "passed");
  CHECK(TornDownOnDisk(out));
  CHECK(Packet(out, "converge")["status"] == "ok");
}

TEST_CASE("lifecycle: a failing test is exit 1, with evidence, and still torn down", "[lifecycle]") {
  Sandbox box;
  box.swarm.exec = ProcessResult{1, 0, false, false, "", "nope", Duration(0)};
  RunOutcome out = box.Run();
  CHECK(out.exit_code == 1);
  CHECK(out.result == "failed");
  CHECK(out.failed_phase == "test");
  CHECK_THAT(out.reason, Catch::Contains("1 of 1 tests failed"));
  CHECK(box.swarm.Count("logs app") == 1);   // the evidence: the service's log tail
  CHECK(fs::exists(out.artifacts + "/logs/app.log"));
  CHECK(TornDownOnDisk(out));
  CHECK_FALSE(box.swarm.AnyOf(out.namespace_name));
  CHECK(Summary(out)["exit_code"] == 1);
}

TEST_CASE("lifecycle: a failed deploy is exit 1 and removes the secrets it created", "[lifecycle]") {
  Sandbox box;
  box.swarm.deploys = {Status::Failed("service app: image not found")};
  RunOutcome out = box.Run();
  CHECK(out.exit_code == 1);
  CHECK(out.failed_phase == "deploy");
  CHECK_THAT(out.reason, Catch::Contains("image not found"));
  CHECK(box.swarm.Count("observe ") == 0);   // no convergence wait after a failed deploy
  CHECK(box.swarm.Count("exec ") == 0);
  CHECK(box.swarm.Count("teardown " + out.namespace_name) == 1);
  CHECK_FALSE(box.swarm.AnyOf(out.namespace_name));
}

TEST_CASE("lifecycle: a failed secret stops the deploy before the stack", "[lifecycle]") {
  Sandbox box;
  box.swarm.secrets = {Status::Infra("docker secret create: connection reset")};
  RunOutcome out = box.Run();
  CHECK(out.exit_code == 3);
  CHECK(out.result == "infra");
  CHECK(out.failed_phase == "deploy");
  CHECK(box.swarm.Count("deploy ") == 0);
  CHECK(box.swarm.Count("teardown " + out.namespace_name) == 1);  // armed before the first object
}

TEST_CASE("lifecycle: a deploy that never converges times out at its budget, exit 1", "[lifecycle]") {
  Sandbox box;
  box.swarm.converge = {Behaviour::kNeverConverges};
  RunOutcome out = box.Run();
  CHECK(out.exit_code == 1);
  CHECK(out.failed_phase == "converge");
  CHECK_THAT(out.reason, Catch::Contains("did not converge within the deploy budget"));
  CHECK_THAT(out.reason, Catch::Contains("is Preparing"));   // the last state it saw
  CHECK(box.swarm.Count("observe ") > 1);                    // it looked again, not once
  CHECK(box.swarm.Count("exec ") == 0);
  CHECK(Packet(out, "converge")["status"] == CodeName(Status::Code::kTimeout));
  CHECK(TornDownOnDisk(out));
}

TEST_CASE("lifecycle: a crash-looping service fails convergence at once", "[lifecycle]") {
  Sandbox box;
  box.swarm.converge = {Behaviour::kCrashLoops};
  RunOutcome out = box.Run();
  CHECK(out.exit_code == 1);
  CHECK(out.failed_phase == "converge");
  CHECK_THAT(out.reason, Catch::Contains("crash-looping"));
  CHECK(box.swarm.Count("observe ") >= 1);
  CHECK(TornDownOnDisk(out));
}

TEST_CASE("lifecycle: Docker failing in preflight is infra, and nothing is torn down", "[lifecycle]") {
  Sandbox box;
  box.swarm.preflight = {Status::Infra("Docker does not answer")};
  RunOutcome out = box.Run();
  CHECK(out.exit_code == 3);
  CHECK(out.result == "infra");
  CHECK(out.failed_phase == "prepare");
  CHECK_FALSE(out.deployed);
  CHECK(box.swarm.Count("secret ") == 0);
  CHECK(box.swarm.Count("deploy ") == 0);
  CHECK(box.swarm.Count("teardown ") == 0);
  CHECK(Packet(out, "teardown").is_null());
}

TEST_CASE("lifecycle: a Docker restart during the run makes a passed run infra", "[lifecycle]") {
  Sandbox box;
  box.swarm.daemon = {"100/1", "200/2"};   // at prepare, then when the run is judged
  RunOutcome out = box.Run();
  CHECK(out.exit_code == 3);
  CHECK(out.result == "infra");
  CHECK_THAT(out.reason, Catch::Contains("the Docker daemon restarted during the run"));
  CHECK(box.swarm.Count("teardown " + out.namespace_name) == 1);
}

TEST_CASE("lifecycle: Docker gone after a failure makes the failure infra", "[lifecycle]") {
  Sandbox box;
  box.swarm.exec = ProcessResult{1, 0, false, false, "", "", Duration(0)};
  box.swarm.preflight = {Status::Ok(), Status::Infra("Cannot connect to the Docker daemon")};
  RunOutcome out = box.Run();
  CHECK(out.exit_code == 3);
  CHECK(out.failed_phase == "test");
  CHECK_THAT(out.reason, Catch::Contains("Docker stopped answering during the run"));
  CHECK_THAT(out.reason, Catch::Contains("test failed with"));
}

TEST_CASE("lifecycle: a teardown that fails is exit 3, and the outcome says so", "[lifecycle]") {
  Sandbox box;
  box.swarm.teardown = Status::Infra("docker stack rm: connection refused");
  SECTION("after a passing run") {
    RunOutcome out = box.Run();
    CHECK(out.exit_code == 3);
    CHECK(out.result == "infra");
    CHECK(out.failed_phase == "teardown");
    CHECK_THAT(out.reason, Catch::Contains("connection refused"));
    CHECK_FALSE(out.teardown.ok());
    CHECK(Packet(out, "teardown")["status"] == CodeName(Status::Code::kInfra));
    CHECK(Summary(out)["exit_code"] == 3);
  }
  SECTION("after a failing test: the test's failure stays first") {
    box.swarm.exec = ProcessResult{1, 0, false, false, "", "", Duration(0)};
    RunOutcome out = box.Run();
    CHECK(out.exit_code == 3);
    CHECK(out.failed_phase == "test");
    CHECK_THAT(out.reason, Catch::Contains("(and teardown failed: docker stack rm: connection refused)"));
  }
}

TEST_CASE("lifecycle: objects left after teardown are named, exit 3", "[lifecycle]") {
  Sandbox box;
  box.swarm.stuck = {"db_password"};
  RunOutcome out = box.Run();
  CHECK(out.exit_code == 3);
  CHECK(out.failed_phase == "teardown");
  CHECK_THAT(out.reason, Catch::Contains("left objects behind: secret:" + out.namespace_name + "_db_password_v1"));
  CHECK(box.swarm.AnyOf(out.namespace_name));
  CHECK(box.swarm.Count("teardown ") == 1);   // once, not retried
}

TEST_CASE("lifecycle: an interrupted run still tears down", "[lifecycle]") {
  Sandbox box;
  CancelSource stop;
  box.swarm.on_call = [&](const std::string& call) {
    if (call.rfind("deploy ", 0) == 0) stop.Cancel();
  };
  RunOptions o = box.Options();
  o.cancel = &stop.token();
  RunOutcome out = box.Run(o);
  CHECK(out.result == "interrupted");
  CHECK(out.exit_code == 130);
  CHECK(box.swarm.Count("exec ") == 0);
  CHECK(box.swarm.Count("teardown " + out.namespace_name) == 1);
  CHECK_FALSE(box.swarm.AnyOf(out.namespace_name));
}

const char* kTransient =
    "  transient = { { name = \"slow-start\", phase = \"converge\", match = \"crash-looping\" } },\n";

TEST_CASE("lifecycle: a failure of a declared transient class is retried once, fresh", "[lifecycle]") {
  Sandbox box;
  box.Recipe("web", Script("1.0.0+1", kTransient), Compose("1.0.0+1"));
  box.swarm.converge = {Behaviour::kCrashLoops, Behaviour::kConverges};
  RunOutcome out = box.Run();
  INFO(out.reason);
  CHECK(out.exit_code == 0);
  CHECK(box.swarm.runtimes == 2);
  REQUIRE(box.swarm.namespaces.size() == 2);
  CHECK(box.swarm.namespaces[0] != box.swarm.namespaces[1]);   // a fresh namespace
  CHECK(box.swarm.Count("teardown " + box.swarm.namespaces[0]) == 1);
  CHECK(box.swarm.Count("teardown " + box.swarm.namespaces[1]) == 1);
  CHECK(out.transient_class == "slow-start");
  CHECK_FALSE(out.retry_of.empty());
  CHECK_THAT(out.first_reason, Catch::Contains("crash-looping"));
  CHECK_FALSE(out.escalated);
  CHECK(Summary(out)["retry"]["first_run"] == out.retry_of);
}

TEST_CASE("lifecycle: a retried failure that fails again is escalated, not retried again", "[lifecycle]") {
  Sandbox box;
  box.Recipe("web", Script("1.0.0+1", kTransient), Compose("1.0.0+1"));
  box.swarm.converge = {Behaviour::kCrashLoops};
  RunOutcome out = box.Run();
  CHECK(out.exit_code == 1);
  CHECK(box.swarm.runtimes == 2);
  CHECK(out.escalated);
  CHECK_THAT(out.reason, Catch::StartsWith("failed again after one retry for the transient class 'slow-start'"));
  CHECK(box.swarm.Count("teardown ") == 2);
}

TEST_CASE("lifecycle: a failure matching no class is not retried", "[lifecycle]") {
  Sandbox box;
  box.Recipe("web", Script("1.0.0+1", kTransient), Compose("1.0.0+1"));
  box.swarm.converge = {Behaviour::kNeverConverges};   // a timeout, which the class does not match
  RunOutcome out = box.Run();
  CHECK(out.exit_code == 1);
  CHECK(box.swarm.runtimes == 1);
  CHECK(out.transient_class.empty());
  CHECK(out.retry_of.empty());
}

TEST_CASE("lifecycle: an upgrade deploys the release, then the new version in place", "[lifecycle]") {
  Sandbox box;
  box.Recipe("web", Script("1.0.0+1"), Compose("1.0.0+1"), "1.0.0+1");
  box.Recipe("web", Script("1.1.0+1"), Compose("1.1.0+1"), "1.1.0+1");
  RunOptions o = box.Options();
  o.version = "1.1.0+1";
  o.upgrade_from = "1.0.0+1";
  box.swarm.versions = {"1.0.0+1", "1.1.0+1"};
  SECTION("the new version comes up") {
    RunOutcome out = box.Run(o);
    INFO(out.reason);
    CHECK(out.exit_code == 0);
    CHECK(out.upgraded_from == "1.0.0+1");
    REQUIRE(box.swarm.namespaces.size() == 2);
    CHECK(box.swarm.namespaces[0] == box.swarm.namespaces[1]);   // in place
    CHECK_THAT(box.swarm.deployed[0], Catch::Contains("version: 1.0.0+1"));
    CHECK_THAT(box.swarm.deployed[1], Catch::Contains("version: 1.1.0+1"));
    CHECK(HasPhase(out, "upgrade"));
    CHECK(box.swarm.Count("versions ") >= 1);   // the version label was checked
    CHECK(box.swarm.Count("teardown ") == 1);
    CHECK(Packet(out, "upgrade")["status"] == "ok");
  }
  SECTION("Swarm rolls the update back: the upgrade fails") {
    box.swarm.update_states = {"", "rollback_completed"};
    box.swarm.versions = {"1.0.0+1"};
    RunOutcome out = box.Run(o);
    CHECK(out.exit_code == 1);
    CHECK(out.failed_phase == "upgrade");
    CHECK_THAT(out.reason, Catch::Contains("rolled the update of"));
    CHECK(box.swarm.Count("exec ") == 0);
    CHECK(box.swarm.Count("teardown ") == 1);
  }
}

TEST_CASE("lifecycle: a warm deploy stays, and keeps its secrets for the next one", "[lifecycle]") {
  Sandbox box;
  RunOptions o = box.Options();
  o.profile = WarmProfile("web", WarmSite{"web-warm", "web.warm.test", box.root.path() + "/warm/web.secrets", "1.0.0+1"});
  box.swarm.versions = {"1.0.0+1"};
  RunOutcome first = box.Run(o);
  INFO(first.reason);
  CHECK(first.exit_code == 0);
  CHECK(first.namespace_name == "web-warm");
  CHECK(box.swarm.Count("teardown ") == 0);   // no teardown: the deploy stays
  CHECK(box.swarm.live.count("stack:web-warm") == 1);
  CHECK(box.swarm.Count("versions ") >= 1);   // the version the promotion expects
  CHECK(fs::exists(box.root.path() + "/warm/web.secrets"));
  CHECK(Packet(first, "teardown").is_null());

  RunOutcome second = box.Run(o);   // at once, in the same ledger: the run ids differ
  INFO(second.reason);
  CHECK(second.run_id != first.run_id);
  CHECK(second.exit_code == 0);
  CHECK(box.swarm.Count("secret web-warm_db_password_v1") == 1);   // kept, not created again
  CHECK(box.swarm.Count("deploy web-warm") == 2);
}

TEST_CASE("lifecycle: a warm deploy during which Docker restarted is infra, and still stays", "[lifecycle]") {
  Sandbox box;
  RunOptions o = box.Options();
  o.profile = WarmProfile("web", WarmSite{"web-warm", "web.warm.test", box.root.path() + "/warm/web.secrets", ""});
  box.swarm.daemon = {"100/1", "200/2"};   // at prepare, then when the run is judged
  RunOutcome out = box.Run(o);
  CHECK(out.exit_code == 3);
  CHECK(out.result == "infra");
  CHECK_THAT(out.reason, Catch::Contains("the Docker daemon restarted during the run"));
  CHECK(box.swarm.Count("teardown ") == 0);   // the promotion decides what becomes of it
  CHECK(box.swarm.live.count("stack:web-warm") == 1);
}

TEST_CASE("lifecycle: a warm deploy's kept secrets are private, and unreadable ones stop it", "[lifecycle]") {
  Sandbox box;
  const std::string file = box.root.path() + "/warm/web.secrets";
  RunOptions o = box.Options();
  o.profile = WarmProfile("web", WarmSite{"web-warm", "web.warm.test", file, ""});
  SECTION("written for this user only, every value a string") {
    RunOutcome out = box.Run(o);
    REQUIRE(out.exit_code == 0);
    auto perms = fs::status(file).permissions();
    CHECK((perms & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
    nlohmann::json kept = nlohmann::json::parse(Read(file));
    REQUIRE(kept.contains("db_password"));
    CHECK(kept["db_password"].is_string());
  }
  SECTION("a file that is not a JSON object: infra before anything is created") {
    Write(file, "[\"not\", \"an object\"]");
    RunOutcome out = box.Run(o);
    CHECK(out.exit_code == 3);
    CHECK(out.failed_phase == "prepare");
    CHECK_THAT(out.reason, Catch::Contains("unreadable secrets file"));
    CHECK(box.swarm.Count("secret ") == 0);
    CHECK(box.swarm.Count("deploy ") == 0);
  }
  SECTION("a value that is not a string is not kept: a new one is generated") {
    Write(file, "{\"db_password\": 42}");
    RunOutcome out = box.Run(o);
    INFO(out.reason);
    CHECK(out.exit_code == 0);
    CHECK(nlohmann::json::parse(Read(file))["db_password"].is_string());
  }
}

// A pull request's head asks for the Docker host three ways; the release does not.
TEST_CASE("lifecycle: an untrusted head that asks for the host is refused before anything exists", "[lifecycle]") {
  Sandbox box;
  testing::GitFixture repo(box.root.path() + "/git");
  auto compose = [](const std::string& extra, const std::string& version = "1.0.0+1") {
    return "version: \"3.8\"\n"
           "services:\n"
           "  app:\n"
           "    image: recipe-harness/busybox:1\n" + extra +
           "    networks: [proxy]\n"
           "    deploy:\n"
           "      labels:\n"
           "        coop-cloud.${STACK_NAME}.version: " + version + "\n"
           "        traefik.http.routers.${STACK_NAME}.rule: Host(`${DOMAIN}`)\n"
           "networks:\n"
           "  proxy:\n"
           "    external: true\n";
  };
  repo.Write("compose.yml", compose(""));
  repo.Write(".env.sample", "TYPE=gitweb\nDOMAIN=gitweb.example.com\n");
  repo.Commit("release");
  repo.Tag("1.0.0+1");
  Write(box.recipes / "gitweb" / "recipe.lua", "return recipe { source = { git = \"" + repo.url() + "\" } }\n");

  struct Head {
    const char* name;
    std::string extra;
    std::vector<std::string> expect;
  };
  std::vector<Head> heads = {
      {"the Docker socket", "    volumes: [\"/var/run/docker.sock:/var/run/docker.sock\"]\n",
       {"compose.yml: service app: volumes: /var/run/docker.sock:/var/run/docker.sock", "(docker-socket)"}},
      {"the host's root", "    volumes:\n      - type: bind\n        source: /\n        target: /host\n",
       {"compose.yml: service app: volumes:", "(docker-socket)"}},
      {"privileges", "    privileged: true\n    cap_add: [SYS_ADMIN]\n",
       {"compose.yml: service app: privileged: true (privileged)", "compose.yml: service app: cap_add: SYS_ADMIN (cap-add)"}},
  };
  for (const auto& head : heads) {
    DYNAMIC_SECTION("a head asking for " << head.name) {
      repo.Write("compose.yml", compose(head.extra));
      repo.Commit(std::string("ask for ") + head.name);
      repo.Push();
      RunOptions o = box.Options("gitweb");
      o.commit = repo.Head();
      RunOutcome out = box.Run(o);
      INFO(out.reason);
      CHECK(out.exit_code == 2);
      CHECK(out.failed_phase == "prepare");
      CHECK_THAT(out.reason, Catch::Contains("refused by the compose policy"));
      for (const auto& e : head.expect) CHECK_THAT(out.reason, Catch::Contains(e));
      CHECK(box.swarm.Count("secret ") == 0);
      CHECK(box.swarm.Count("preflight") == 0);          // refused before Docker is even asked
      CHECK(box.swarm.Count("inspect-network ") == 0);
      CHECK(box.swarm.Count("create-network ") == 0);
      CHECK(box.swarm.Count("deploy ") == 0);
      nlohmann::json prepare = Packet(out, "prepare");
      REQUIRE(prepare.is_object());
      CHECK_FALSE(prepare["observations"]["compose_policy"]["findings"].empty());
      CHECK(prepare["evidence"].dump().find("policy_finding") != std::string::npos);

      // The operator's policy may allow it for this recipe: then the head runs.
      if (std::string(head.name) == "privileges") {
        o.compose_policy.allow["gitweb"] = {"privileged", "cap-add"};
        RunOutcome allowed = box.Run(o);
        INFO(allowed.reason);
        CHECK(allowed.exit_code == 0);
      }
    }
  }
  SECTION("the released version is trusted and runs as published") {
    repo.Write("compose.yml", compose("    privileged: true\n"));   // a later head; the release is older
    repo.Commit("ask for privileges");
    repo.Push();
    RunOptions o = box.Options("gitweb");
    o.version = "1.0.0+1";
    RunOutcome out = box.Run(o);
    INFO(out.reason);
    CHECK(out.exit_code == 0);
    CHECK(box.swarm.Count("deploy ") == 1);
  }
  SECTION("a release of a repository off the policy's trusted list is checked like a head") {
    repo.Write("compose.yml", compose("    privileged: true\n", "1.1.0+1"));
    repo.Commit("release 1.1.0+1, privileged");
    repo.Tag("1.1.0+1");
    repo.Push();
    RunOptions o = box.Options("gitweb");
    o.version = "1.1.0+1";
    o.compose_policy.trusted_repositories = std::vector<std::string>{"https://git.example.org/other.git"};
    RunOutcome out = box.Run(o);
    INFO(out.reason);
    CHECK(out.exit_code == 2);
    CHECK_THAT(out.reason, Catch::Contains("service app: privileged: true (privileged)"));
    CHECK(box.swarm.Count("deploy ") == 0);
    nlohmann::json prepare = Packet(out, "prepare");
    REQUIRE(prepare.is_object());
    CHECK(prepare["observations"]["compose_policy"]["source"] == "git " + repo.url());
    CHECK(prepare["observations"]["compose_policy"]["untrusted"] == true);

    o.compose_policy.trusted_repositories->push_back(RepositoryKey(repo.url()));
    RunOutcome trusted = box.Run(o);
    INFO(trusted.reason);
    CHECK(trusted.exit_code == 0);
    CHECK(box.swarm.Count("deploy ") == 1);
  }
  SECTION("check reports a trusted release's findings without refusing, and refuses a head's") {
    repo.Write("compose.yml", compose("    cap_add: [NET_ADMIN]\n", "1.2.0+1"));
    repo.Commit("release 1.2.0+1, a capability");
    repo.Tag("1.2.0+1");
    repo.Push();
    RunOptions o = box.Options("gitweb");
    o.version = "1.2.0+1";
    nlohmann::json checked = CheckRecipe(o, nullptr);
    INFO(checked.dump(2));
    CHECK(checked["exit_code"] == 0);
    CHECK(checked["compose_policy"]["untrusted"] == false);
    REQUIRE(checked["compose_policy"]["findings"].size() == 1);
    CHECK(checked["compose_policy"]["findings"][0]["rule"] == "cap-add");
    CHECK(checked["compose_policy"]["findings"][0]["detail"] == "NET_ADMIN");
    CHECK_THAT(CheckText(checked), Catch::Contains("compose.yml: service app: cap_add: NET_ADMIN (cap-add)") &&
                                       Catch::Contains("trusted: runs as published"));

    o.version.clear();
    o.commit = repo.Head();
    nlohmann::json head = CheckRecipe(o, nullptr);
    CHECK(head["exit_code"] == 2);
    CHECK(head["compose_policy"]["untrusted"] == true);
    CHECK_THAT(head["reason"].get<std::string>(), Catch::Contains("refused by the compose policy"));
    CHECK(box.swarm.Count("deploy ") == 0);
  }
}

}  // namespace
}  // namespace harness
