// The nightly canon sweep of git-sourced recipes, end to end: two recipes whose files live
// in local bare repositories (a subfolder of each), enrolled in the warm canon at their
// first release tag; a new release tag in one repository is cold-run and promoted by
// `harness sweep --canon`, the other has nothing new; a second sweep tests nothing; an
// unreachable repository fails the sweep. The warm deploys are retired however the test
// ends, and nothing of the test may be left on the Swarm.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/temp_dir.h"
#include "exec/local_executor.h"
#include "ledger/ledger.h"
#include "support/e2e.h"
#include "support/git_fixture.h"
#include "support/schema_check.h"

namespace harness::testing {
namespace {

namespace fs = std::filesystem;

// Names no other test uses: every object of this test has "gitcanon-" in its name (cold
// namespaces are <recipe>-<random>, warm ones wc-<recipe>-<hash>).
constexpr const char* kMark = "gitcanon-";
constexpr const char* kA = "gitcanon-a";
constexpr const char* kB = "gitcanon-b";

ProcessResult Docker(const std::vector<std::string>& args) {
  LocalExecutor exec;
  Command cmd;
  cmd.argv = {"docker"};
  cmd.argv.insert(cmd.argv.end(), args.begin(), args.end());
  cmd.deadline = Deadline::In(Duration(60000));
  auto r = exec.Run(cmd, CancelToken::None());
  return r.ok() ? *r : ProcessResult{};
}

// Every service, secret, config, volume, network and container (running or not) of every
// namespace of this test, by name and by label (support/leftover_check.h).
LeftoverScan OfThisTest() {
  Ownership ours;
  ours.namespace_marks = {kMark};
  return ScanFor(ours);
}

// Stack removal finishes a moment after the harness reports it verified (containers of a
// removed task linger briefly): wait up to `seconds` for nothing of the test to be left.
LeftoverScan LeftAfter(int seconds) {
  LeftoverScan left = OfThisTest();
  for (int i = 0; i < seconds * 4 && !left.empty(); ++i) {
    usleep(250000);
    left = OfThisTest();
  }
  return left;
}

// Removes, with the product's own teardown, every namespace of this test that is still on
// the Swarm (a leftover of a killed earlier run, or of a failed assertion now).
void SweepAway() {
  std::istringstream stacks(Docker({"stack", "ls", "--format", "{{.Name}}"}).out);
  for (std::string ns; std::getline(stacks, ns);) {
    if (ns.find(kMark) != std::string::npos) CleanUp(ns);
  }
  // And whatever of the test is not part of a stack.
  for (const auto& failed : RemoveFound(OfThisTest(), {ThisMachine()})) WARN("not removed: " << failed);
}

// One release of the recipe in the repository's `recipe/` folder: a busybox httpd that
// serves its version, labelled with it as Co-op Cloud recipes are (promotion checks it).
void Release(GitFixture& repo, const std::string& version, bool tag = true) {
  repo.Write("README.md", "The recipe is in recipe/; this file is not part of it.\n");
  repo.Write("recipe/compose.yml", R"yaml(# gitcanon test recipe )yaml" + version + R"yaml(
version: "3.8"
services:
  app:
    image: recipe-harness/busybox:1
    command:
      - sh
      - -c
      - |
        trap 'exit 0' TERM INT
        mkdir -p /srv
        echo ")yaml" + version + R"yaml(" > /srv/version
        httpd -f -p 8080 -h /srv &
        wait
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/version"]
      interval: 1s
      timeout: 2s
      retries: 3
    deploy:
      endpoint_mode: dnsrr
      restart_policy:
        condition: on-failure
        delay: 1s
      labels:
        - "coop-cloud.${STACK_NAME}.version=)yaml" + version + R"yaml("
)yaml");
  repo.Commit(tag ? "release " + version : version);
  if (tag) repo.Tag(version);
}

// recipes/<name>/recipe.lua naming the repository; its tests check the version served.
void WriteRecipe(const std::string& recipes, const std::string& name, const std::string& url) {
  fs::create_directories(recipes + "/" + name);
  std::ofstream(recipes + "/" + name + "/recipe.lua") << R"lua(-- )lua" << name << R"lua(: files from a git repository.
return recipe {
  source = { git = ")lua" << url << R"lua(", path = "recipe" },
  timeouts = { deploy = 60, test = 20, teardown = 120, settle = 1 },
  ready = { url = "http://app:8080/version", status = 200 },
  tests = {
    { "serves its version", function()
        local r = http.get("http://app:8080/version")
        expect.eq(r.status, 200, "status of /version")
        expect.eq(r.body, run.version .. "\n", "version served")
      end },
  },
}
)lua";
}

// The harness with this test's recipes, state, artifacts and (empty) reserved-names policy.
struct Harness {
  TempDir dir{"gitcanon-e2e"};
  std::string recipes() const { return dir.path() + "/recipes"; }
  std::string state() const { return dir.path() + "/state"; }
  std::string artifacts() const { return dir.path() + "/artifacts"; }
  HarnessResult operator()(std::vector<std::string> args, bool policy = true) const {
    args.insert(args.end(), {"--recipes", recipes(), "--state", state(), "--artifacts", artifacts()});
    if (policy) args.insert(args.end(), {"--warm-policy", dir.path() + "/reserved.yaml"});
    return RunHarness(args, Duration(300000));
  }
  nlohmann::json Json(std::vector<std::string> args) const {
    args.push_back("--json");
    auto r = (*this)(args);
    INFO(r.out << r.err);
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    j["process_exit_code"] = r.exit_code;
    return j;
  }
  // The run folders (and sweep folders) written so far.
  size_t ArtifactFolders() const {
    size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(artifacts(), ec)) n += e.is_directory() ? 1 : 0;
    return n;
  }
  size_t LedgerRuns() const {
    auto ledger = Ledger::Open(state());
    REQUIRE(ledger.ok());
    auto runs = (*ledger)->FinishedRuns(RunQuery{});
    REQUIRE(runs.ok());
    return runs->size();
  }
};

// Retires both warm deploys and removes whatever else of the test is left, however the
// test ends (an assertion that fails throws past the test's own retire).
struct RetireGuard {
  const Harness& harness;
  bool done = false;
  std::map<std::string, int> Retire() {
    done = true;
    std::map<std::string, int> codes;
    for (const char* recipe : {kA, kB}) codes[recipe] = harness({"promote", recipe, "--retire"}).exit_code;
    SweepAway();
    return codes;
  }
  ~RetireGuard() {
    if (!done) Retire();
  }
};

std::map<std::string, nlohmann::json> ByRecipe(const nlohmann::json& sweep) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& r : sweep["recipes"]) out[r["recipe"]] = r;
  return out;
}

// What the warm deploy of `ns` says: its service's version label and its page.
std::string WarmLabel(const std::string& ns) {
  std::string out = Docker({"service", "inspect", "--format",
                            "{{index .Spec.Labels \"coop-cloud." + ns + ".version\"}}", ns + "_app"}).out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}
std::string WarmPage(const std::string& ns) {
  std::istringstream ids(Docker({"ps", "-q", "--filter", "label=com.docker.swarm.service.name=" + ns + "_app"}).out);
  std::string id;
  ids >> id;
  if (id.empty()) return "<no running container>";
  return Docker({"exec", id, "cat", "/srv/version"}).out;
}

TEST_CASE("canon sweep of git-sourced recipes: new tags promoted, nothing new, unreachable", "[gitcanon]") {
  SweepAway();
  REQUIRE_THAT(LeftAfter(30), NothingLeft());  // before the test
  Harness harness;
  GitFixture a(harness.dir.path() + "/git-a");
  GitFixture b(harness.dir.path() + "/git-b");
  for (GitFixture* repo : {&a, &b}) {
    Release(*repo, "1.0.0+1");
    repo->Push();
  }
  WriteRecipe(harness.recipes(), kA, a.url());
  WriteRecipe(harness.recipes(), kB, b.url());
  RetireGuard guard{harness};

  // (a) Nothing enrolled: a loud failure, never a green sweep that tested nothing.
  {
    auto r = harness({"sweep", "--canon"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("no recipe is enrolled in the warm canon of " + harness.state()));
    CHECK_THAT(r.err, Catch::Contains("tests nothing is a failure"));
    CHECK(harness.ArtifactFolders() == 0);
    CHECK_THAT(OfThisTest(), NothingLeft());
  }

  // (b) Enrol both at their first release, after a cold pass: one named by its tag, the
  // other the newest release by default.
  {
    auto cold_a = harness({"run", std::string(kA) + "@1.0.0+1"}, false);
    INFO(cold_a.err);
    REQUIRE(cold_a.exit_code == 0);
    auto cold_b = harness({"run", kB}, false);
    INFO(cold_b.err);
    REQUIRE(cold_b.exit_code == 0);
    for (const char* recipe : {kA, kB}) {
      auto enrol = harness.Json({"promote", recipe, "1.0.0+1"});
      INFO(enrol.dump(2));
      REQUIRE(enrol["result"] == "enrolled");
    }
  }
  auto status = harness.Json({"promote", "--status"});
  REQUIRE(status["recipes"].size() == 2);
  std::map<std::string, std::string> ns;
  for (const auto& r : status["recipes"]) ns[r["recipe"]] = r["namespace"];
  CHECK(WarmLabel(ns[kA]) == "1.0.0+1");
  CHECK(WarmPage(ns[kA]) == "1.0.0+1\n");

  // (c) Repository a gets a release tag, a tag that is no version, and an untagged commit
  // on main after them; b gets nothing. Only a's new release is tested and promoted.
  Release(a, "1.1.0+1");
  Release(a, "work in progress", /*tag=*/false);
  a.Tag("latest");
  a.Push();
  auto sweep = harness.Json({"sweep", "--canon", "--jobs", "2"});
  {
    INFO(sweep.dump(2));
    CHECK(sweep["process_exit_code"] == 0);
    CHECK(sweep["exit_code"] == 0);
    CHECK(sweep["schema"] == "recipe-harness/canon-sweep/v1");
    auto by = ByRecipe(sweep);
    REQUIRE(by.size() == 2);
    CHECK(by[kA]["canonical"] == "1.0.0+1");
    CHECK(by[kA]["candidate"] == "1.1.0+1");
    CHECK(by[kA]["state"] == "new");
    REQUIRE(by[kA].contains("cold"));
    CHECK(by[kA]["cold"]["result"] == "passed");
    CHECK(by[kA]["cold"]["version"] == "1.1.0+1");
    REQUIRE(by[kA].contains("promotion"));
    CHECK(by[kA]["promotion"]["result"] == "promoted");
    CHECK(by[kA]["promotion"]["from"] == "1.0.0+1");
    CHECK(by[kA]["promotion"]["to"] == "1.1.0+1");
    CHECK(by[kB]["state"] == "nothing new");
    CHECK(by[kB]["candidate"] == "");
    CHECK_FALSE(by[kB].contains("cold"));
    CHECK_FALSE(by[kB].contains("promotion"));
    CHECK(by[kB]["exit_code"] == 0);
  }
  status = harness.Json({"promote", "--status"});
  for (const auto& r : status["recipes"]) {
    INFO(r.dump());
    CHECK(r["version"] == (r["recipe"] == kA ? "1.1.0+1" : "1.0.0+1"));
  }
  CHECK(WarmLabel(ns[kA]) == "1.1.0+1");
  CHECK(WarmPage(ns[kA]) == "1.1.0+1\n");
  CHECK(WarmLabel(ns[kB]) == "1.0.0+1");
  // The sweep kept its reports, and they and the sweep's own JSON fit their schemas.
  std::string sweep_dir = SweepDir(harness.artifacts());
  REQUIRE_FALSE(sweep_dir.empty());
  for (const char* f : {"junit.xml", "summary.md", "summary.json", "report.html"}) CHECK(fs::exists(sweep_dir + "/" + f));
  {
    nlohmann::json printed = sweep;
    printed.erase("process_exit_code");  // added by this test
    std::ofstream(harness.dir.path() + "/canon-sweep.json.txt") << printed.dump(2);
    std::string invalid = ValidateArtifacts(harness.dir.path() + "/canon-sweep.json.txt") +
                          ValidateArtifacts(sweep_dir);
    INFO(invalid);
    CHECK(invalid.empty());
  }

  // (d) Again: nothing new anywhere, no run made, and the table says so.
  {
    size_t folders = harness.ArtifactFolders(), runs = harness.LedgerRuns();
    auto r = harness({"sweep", "--canon"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("RECIPE") && Catch::Contains("CANONICAL") && Catch::Contains("CANDIDATE") &&
                          Catch::Contains("PROMOTION"));
    CHECK_THAT(r.out, Catch::Contains("newest release 1.1.0+1 is canonical"));
    CHECK_THAT(r.out, Catch::Contains("newest release 1.0.0+1 is canonical"));
    CHECK_THAT(r.out, Catch::Contains("0 tested, 0 promoted, 2 with nothing new, 0 failed"));
    CHECK(harness.ArtifactFolders() == folders);
    CHECK(harness.LedgerRuns() == runs);
  }

  // (e) Repository b is gone: its row says unreachable and the sweep fails as infra.
  fs::rename(b.url(), harness.dir.path() + "/git-b/moved-away.git");
  {
    size_t runs = harness.LedgerRuns();
    auto j = harness.Json({"sweep", "--canon"});
    INFO(j.dump(2));
    CHECK(j["process_exit_code"] == 3);
    CHECK(j["exit_code"] == 3);
    auto by = ByRecipe(j);
    CHECK(by[kB]["state"] == "unreachable");
    CHECK(by[kB]["exit_code"] == 3);
    CHECK_THAT(by[kB]["detail"].get<std::string>(), Catch::Contains(b.url()));
    CHECK(by[kA]["state"] == "nothing new");
    CHECK(harness.LedgerRuns() == runs);
  }

  // Retire both: nothing of the test is left on the Swarm.
  auto retired = guard.Retire();
  CHECK(retired[kA] == 0);
  CHECK(retired[kB] == 0);
  CHECK_THAT(LeftAfter(30), NothingLeft());
}

}  // namespace
}  // namespace harness::testing
