// harness serve: webhooks shaped like Gitea's and Forgejo's, a recording forge stand-in
// (tests/support/forge-standin), a git recipe in a local bare repository, the real Swarm.
#include <httplib.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/temp_dir.h"
#include "forge/webhook.h"
#include "proof/phase_log.h"
#include "support/e2e.h"
#include "support/forge_standin.h"
#include "support/git_fixture.h"

namespace harness::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* kSecret = "webhook-secret-for-tests";
const char* kToken = "forge-token-for-tests";
const char* kRepo = "coop/srvapp";

json Payload(const std::string& name) {
  std::ifstream f(SourceDir() + "/tests/forge/payloads/" + name);
  return json::parse(f);
}

// An issue_comment delivery shaped like Gitea's (or Forgejo's): `user` comments `body` on
// pull request `pr`.
json Comment(int64_t pr, int64_t comment_id, const std::string& user, const std::string& body,
             const std::string& shape = "gitea_issue_comment_pr.json") {
  json p = Payload(shape);
  p["repository"]["full_name"] = kRepo;
  p["repository"]["name"] = "srvapp";
  p["repository"]["owner"]["login"] = "coop";
  p["repository"]["clone_url"] = "https://forge.invalid/coop/srvapp.git";
  p["issue"]["number"] = pr;
  p["comment"]["id"] = comment_id;
  p["comment"]["body"] = body;
  p["comment"]["user"]["login"] = user;
  p["sender"]["login"] = user;
  return p;
}

json Pull(const std::string& sha) {
  return {{"state", "open"},
          {"head", {{"sha", sha}, {"ref", "feature"}, {"repo", {{"clone_url", "https://forge.invalid/coop/srvapp.git"}}}}},
          {"base", {{"repo", {{"clone_url", "https://forge.invalid/coop/srvapp.git"}}}}}};
}

// A recipe repository: release 1.0.0+1 serves "release"; pull request heads serve what
// they are given. The harness's script checks for `want`, so a pass proves which commit ran.
struct Fixture {
  TempDir tmp{"harness-serve-test"};
  GitFixture repo{tmp.path() + "/git"};
  std::string recipes = tmp.path() + "/recipes";
  std::string state = tmp.path() + "/state";
  std::string artifacts = tmp.path() + "/artifacts";
  std::unique_ptr<ForgeStandin> forge;
  json config;

  Fixture() {
    Serving("release");
    repo.Commit("release");
    repo.Tag("1.0.0+1");
    repo.Push();
    fs::create_directories(recipes + "/srvapp");
    std::ofstream(recipes + "/srvapp/recipe.lua")
        << "return recipe {\n"
           "  source = { git = \"" << repo.url() << "\" },\n"
           "  tests = { { \"serves the head\", function()\n"
           "      local r = http.get(\"http://app:8080/\")\n"
           "      expect.contains(r.body, \"head\", \"page\")\n"
           "    end } },\n"
           "}\n";
    fs::create_directories(tmp.path() + "/forge");
    std::ofstream(tmp.path() + "/secret") << kSecret << "\n";
    std::ofstream(tmp.path() + "/token") << kToken << "\n";
    config = {{"token", kToken}, {"members", {{"coop", {"alice"}}}}, {"pulls", json::object()}};
    auto started = ForgeStandin::Start(tmp.path() + "/forge", config);
    REQUIRE(started.ok());
    forge = std::move(*started);
  }
  ~Fixture() {
    // Whatever happened: the runs' leftovers go (serve is gone by now).
    RunHarness({"--state", state, "--recipes", recipes, "--artifacts", artifacts, "--plain", "reap"}, Duration(300000));
  }

  // `extra`: more keys of the app service, each line indented by four spaces.
  void Serving(const std::string& text, const std::string& extra = "") {
    repo.Write("compose.yml",
               "version: \"3.8\"\n"
               "services:\n"
               "  app:\n"
               "    image: recipe-harness/busybox:1\n"
               "    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM INT; echo " + text +
                   " > /www/index.html; httpd -f -p 8080 -h /www & wait\"]\n"
                   "    healthcheck:\n"
                   "      test: [\"CMD\", \"wget\", \"-q\", \"-O-\", \"http://127.0.0.1:8080/\"]\n"
                   "      interval: 1s\n"
                   "      retries: 3\n"
                   "    deploy:\n"
                   "      endpoint_mode: dnsrr\n" + extra);
  }
  // A new pull request head (never on a branch), known to the forge as pull request `pr`.
  std::string PullHead(int64_t pr, const std::string& text, const std::string& extra = "") {
    Serving(text, extra);
    repo.Commit("pull request " + std::to_string(pr) + ": " + text);
    std::string sha = repo.Head();
    repo.Git({"push", "--quiet", "--force", "origin", "HEAD:refs/pull/" + std::to_string(pr) + "/head"});
    repo.Git({"reset", "--quiet", "--hard", "1.0.0+1"});
    config["pulls"][std::string(kRepo) + "#" + std::to_string(pr)] = Pull(sha);
    forge->SetConfig(config);
    return sha;
  }
  std::vector<std::string> ServeArgs() {
    return {"--state", state, "--recipes", recipes, "--artifacts", artifacts, "--plain", "serve",
            "--listen", "127.0.0.1:0", "--port-file", tmp.path() + "/port", "--forge-url", forge->base_url(),
            "--forge-token-file", tmp.path() + "/token", "--webhook-secret-file", tmp.path() + "/secret",
            "--allow-org", "coop", "--max-body", "65536"};
  }
  int Port() {
    std::ifstream f(tmp.path() + "/port");
    int port = 0;
    f >> port;
    return port;
  }
  // Calls to the forge of one kind: "POST comments", "PATCH comments", "POST statuses".
  std::vector<json> CallsOf(const std::string& method, const std::string& part) {
    std::vector<json> out;
    for (const auto& c : forge->Calls()) {
      if (c["method"] == method && c["path"].get<std::string>().find(part) != std::string::npos) out.push_back(c);
    }
    return out;
  }
};

httplib::Result Deliver(int port, const json& payload, const std::string& secret = kSecret,
                        const std::string& event = "issue_comment", const std::string& forge = "Gitea") {
  std::string body = payload.dump();
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30, 0);
  httplib::Headers h = {{"X-" + forge + "-Event", event},
                        {"X-" + forge + "-Signature", HmacSha256Hex(secret, body)},
                        {"X-" + forge + "-Delivery", std::to_string(std::hash<std::string>()(body))}};
  return client.Post("/webhook", h, body, "application/json");
}

// The text of serve's comment on pull request `pr`, as the forge shows it now.
std::string LastText(Fixture& f, int64_t pr) {
  httplib::Client client("127.0.0.1", f.forge->port());
  auto r = client.Get("/api/v1/repos/coop/srvapp/issues/comments?limit=50", {{"Authorization", std::string("token ") + kToken}});
  REQUIRE(r);
  std::string text;
  for (const auto& c : json::parse(r->body)) {
    std::string url = c.value("pull_request_url", "") + c.value("issue_url", "");
    std::string body = c.value("body", "");
    std::string tail = "/" + std::to_string(pr);
    bool ours = body.find("recipe-harness") != std::string::npos && body.find("**srvapp**") != std::string::npos;
    if (ours && url.size() >= tail.size() && url.compare(url.size() - tail.size(), tail.size(), tail) == 0) {
      CHECK(text.empty());  // one comment per pull request
      text = body;
    }
  }
  return text;
}

// Each run's folder is "<id>-<namespace>"; every test here ran at least one.
void CheckNothingOfServeLeft(Fixture& f) {
  int runs = 0;
  for (const auto& entry : fs::directory_iterator(f.artifacts)) {
    std::string run = entry.path().filename().string();
    auto dash = run.find('-');
    if (dash == std::string::npos || run.rfind("srvapp", dash + 1) != dash + 1) continue;
    ++runs;
    CHECK_THAT(LeftoversOf(run.substr(dash + 1)), NothingLeft());
  }
  CHECK(runs > 0);
}

TEST_CASE("serve: a member's !testme tests the pull request's head and posts; strangers and bad deliveries run nothing",
          "[serve]") {
  Fixture f;
  std::string head = f.PullHead(7, "head-of-7");
  f.config["pulls"][std::string(kRepo) + "#8"] = Pull(head);
  f.forge->SetConfig(f.config);
  HarnessProcess serve(f.ServeArgs());
  REQUIRE(serve.WaitForLine("listening on", Duration(30000)));
  int port = f.Port();
  REQUIRE(port > 0);

  auto bad = Deliver(port, Comment(7, 501, "alice", "!testme"), "not-the-secret");
  REQUIRE(bad);
  CHECK(bad->status == 401);
  auto big = Deliver(port, Comment(7, 502, "alice", "!testme\n" + std::string(100000, 'x')));
  REQUIRE(big);
  CHECK(big->status == 413);
  {
    httplib::Client client("127.0.0.1", port);
    std::string junk = "{not json";
    auto r = client.Post("/webhook", {{"X-Gitea-Event", "issue_comment"}, {"X-Gitea-Signature", HmacSha256Hex(kSecret, junk)}},
                         junk, "application/json");
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(r->body.find(kSecret) == std::string::npos);
  }
  CHECK(f.CallsOf("GET", "/pulls/").empty());  // nothing was even looked at

  auto stranger = Deliver(port, Comment(8, 503, "mallory", "!testme"));
  REQUIRE(stranger);
  CHECK(stranger->status == 202);
  auto polite = f.CallsOf("POST", "/issues/8/comments");
  REQUIRE(polite.size() == 1);
  CHECK_THAT(polite[0]["body"]["body"].get<std::string>(), Catch::Contains("@mallory") && Catch::Contains("maintainer"));
  CHECK(f.CallsOf("POST", "/statuses/").empty());

  auto ok = Deliver(port, Comment(7, 504, "alice", "!testme"));
  REQUIRE(ok);
  INFO(ok->body);
  CHECK(ok->status == 202);
  auto again = Deliver(port, Comment(7, 504, "alice", "!testme"));  // a redelivery
  REQUIRE(again);
  CHECK(again->status == 200);
  REQUIRE(serve.WaitForLine("job 1: passed (2 run(s)) (posted)", Duration(300000)));
  INFO(serve.err() << "\n" << f.forge->Log());

  CHECK(f.CallsOf("POST", "/issues/7/comments").size() == 1);  // created once…
  CHECK(f.CallsOf("PATCH", "/issues/comments/").size() >= 2);   // …and edited as it went
  std::string last = LastText(f, 7);
  CHECK_THAT(last, Catch::Contains("passed") && Catch::Contains(head.substr(0, 12)) &&
                       Catch::Contains("cold deploy: 1 tests passed") && Catch::Contains("upgrade from 1.0.0+1: 1 tests passed"));
  CHECK(last.find(kSecret) == std::string::npos);
  CHECK(last.find(kToken) == std::string::npos);
  auto statuses = f.CallsOf("POST", "/statuses/" + head);
  REQUIRE(statuses.size() >= 2);
  CHECK(statuses.front()["body"]["state"] == "pending");
  CHECK(statuses.back()["body"]["state"] == "success");
  CHECK(statuses.back()["body"]["context"] == "recipe-harness/srvapp");
  for (const auto& c : f.forge->Calls()) CHECK(c.value("auth", false));

  serve.Signal(SIGTERM);
  CHECK(serve.Wait(Duration(60000)) == 143);
  CheckNothingOfServeLeft(f);
}

TEST_CASE("serve: of two !testme in quick succession only the newer result is posted", "[serve]") {
  Fixture f;
  std::string first = f.PullHead(7, "head-first");
  HarnessProcess serve(f.ServeArgs());
  REQUIRE(serve.WaitForLine("listening on", Duration(30000)));
  int port = f.Port();
  auto a = Deliver(port, Comment(7, 601, "alice", "!testme"));
  REQUIRE(a);
  CHECK(a->status == 202);
  REQUIRE(serve.WaitForLine("running srvapp at " + first.substr(0, 12), Duration(60000)));
  std::string second = f.PullHead(7, "head-second");  // a push, then a new !testme
  // This one as Forgejo delivers it (its headers and payload).
  auto b = Deliver(port, Comment(7, 602, "alice", "!testme please", "forgejo_issue_comment_pr.json"), kSecret,
                   "issue_comment", "Forgejo");
  REQUIRE(b);
  CHECK(b->status == 202);
  REQUIRE(serve.WaitForLine("nothing posted", Duration(240000)));   // the older one gave way
  REQUIRE(serve.WaitForLine("job 2: passed (2 run(s)) (posted)", Duration(300000)));
  INFO(serve.err());

  CHECK(f.CallsOf("POST", "/issues/7/comments").size() == 1);
  std::string last = LastText(f, 7);
  CHECK_THAT(last, Catch::Contains("passed") && Catch::Contains(second.substr(0, 12)));
  // The older commit never got a result; the newer one's is the last word.
  for (const auto& s : f.CallsOf("POST", "/statuses/" + first)) CHECK(s["body"]["state"] == "pending");
  auto newer = f.CallsOf("POST", "/statuses/" + second);
  REQUIRE_FALSE(newer.empty());
  CHECK(newer.back()["body"]["state"] == "success");
  for (const auto& c : f.CallsOf("PATCH", "/issues/comments/")) {
    std::string text = c["body"]["body"];
    if (text.find(first.substr(0, 12)) != std::string::npos) CHECK(text.find("passed") == std::string::npos);
  }
  serve.Signal(SIGTERM);
  CHECK(serve.Wait(Duration(60000)) == 143);
  CheckNothingOfServeLeft(f);
}

TEST_CASE("serve: stopped mid-queue, serve resumes the queue when it starts again", "[serve]") {
  Fixture f;
  std::string seven = f.PullHead(7, "head-seven");
  std::string nine = f.PullHead(9, "head-nine");
  {
    HarnessProcess serve(f.ServeArgs());
    REQUIRE(serve.WaitForLine("listening on", Duration(30000)));
    int port = f.Port();
    REQUIRE(Deliver(port, Comment(7, 701, "alice", "!testme"))->status == 202);
    REQUIRE(Deliver(port, Comment(9, 702, "alice", "!testme"))->status == 202);
    REQUIRE(serve.WaitForLine("running srvapp at " + seven.substr(0, 12), Duration(60000)));
    REQUIRE(serve.WaitForLine("deploy", Duration(60000)));
    serve.Signal(SIGTERM);
    INFO(serve.err());
    CHECK(serve.Wait(Duration(180000)) == 143);
    CHECK_THAT(serve.err(), Catch::Contains("queued again"));
  }
  CHECK(f.CallsOf("POST", "/statuses/" + nine).size() == 1);  // queued, never started
  HarnessProcess serve(f.ServeArgs());
  REQUIRE(serve.WaitForLine("resuming the queue: 2 run(s) waiting", Duration(30000)));
  REQUIRE(serve.WaitForLine("job 1: passed (2 run(s)) (posted)", Duration(300000)));
  REQUIRE(serve.WaitForLine("job 2: passed (2 run(s)) (posted)", Duration(300000)));
  INFO(serve.err());
  CHECK_THAT(LastText(f, 7), Catch::Contains("passed") && Catch::Contains(seven.substr(0, 12)));
  CHECK_THAT(LastText(f, 9), Catch::Contains("passed") && Catch::Contains(nine.substr(0, 12)));
  CHECK(f.CallsOf("POST", "/issues/7/comments").size() == 1);
  CHECK(f.CallsOf("POST", "/issues/9/comments").size() == 1);
  serve.Signal(SIGTERM);
  CHECK(serve.Wait(Duration(60000)) == 143);
  CheckNothingOfServeLeft(f);
}

}  // namespace
}  // namespace harness::testing

namespace harness::testing {
namespace {

TEST_CASE("serve: polling the forge finds a new !testme without any webhook", "[serve]") {
  Fixture f;
  std::string head = f.PullHead(7, "head-polled");
  std::vector<std::string> args = {"--state", f.state, "--recipes", f.recipes, "--artifacts", f.artifacts, "--plain",
                                   "serve", "--listen", "127.0.0.1:0", "--forge-url", f.forge->base_url(),
                                   "--forge-token-file", f.tmp.path() + "/token", "--allow-user", "alice",
                                   "--poll-repo", kRepo, "--poll-interval", "1"};
  HarnessProcess serve(args);
  REQUIRE(serve.WaitForLine("listening on", Duration(30000)));
  // Comments from before serve first polled are history; this one is new.
  const std::string now = IsoTime(std::chrono::system_clock::now() + std::chrono::seconds(2));
  f.config["comments"] = {{kRepo, {{{"id", 950}, {"pr", 7}, {"user", "alice"}, {"body", "!testme"}, {"created_at", now},
                                    {"updated_at", now}}}}};
  f.forge->SetConfig(f.config);
  REQUIRE(serve.WaitForLine("job 1: passed (2 run(s)) (posted)", Duration(300000)));
  INFO(serve.err());
  CHECK_THAT(LastText(f, 7), Catch::Contains("passed") && Catch::Contains(head.substr(0, 12)));
  CHECK(serve.err().find("job 2") == std::string::npos);  // the same comment is acted on once
  CHECK_FALSE(f.CallsOf("GET", "/issues/comments").empty());
  serve.Signal(SIGTERM);
  CHECK(serve.Wait(Duration(60000)) == 143);
  CheckNothingOfServeLeft(f);
}

}  // namespace
}  // namespace harness::testing

namespace harness::testing {
namespace {

// Pull request heads whose compose file asks for the Docker host: refused before anything
// is created, by `run --commit` (exit 2) and through serve (the comment says why), while
// the recipe's release runs as published.
TEST_CASE("serve: pull request heads asking for the Docker host are refused, saying why; the release passes",
          "[serve][policy]") {
  Fixture f;
  // The script checks for the release's page: the heads never get as far as a test.
  std::ofstream(f.recipes + "/srvapp/recipe.lua")
      << "return recipe {\n"
         "  source = { git = \"" << f.repo.url() << "\" },\n"
         "  tests = { { \"serves the release\", function()\n"
         "      local r = http.get(\"http://app:8080/\")\n"
         "      expect.contains(r.body, \"release\", \"page\")\n"
         "    end } },\n"
         "}\n";
  struct Head {
    int64_t pr;
    std::string extra;
    std::vector<std::string> named;  // what the refusal must name
    std::string sha;
  };
  std::vector<Head> heads = {
      {21, "    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock\n", {"service app", "volumes", "docker.sock"}, ""},
      {22, "    volumes:\n      - type: bind\n        source: /\n        target: /host\n", {"service app", "volumes", "/host"}, ""},
      {23, "    privileged: true\n    cap_add: [SYS_ADMIN]\n", {"service app", "privileged", "cap_add", "SYS_ADMIN"}, ""},
  };
  for (auto& h : heads) h.sha = f.PullHead(h.pr, "head-" + std::to_string(h.pr), h.extra);

  for (const auto& h : heads) {
    HarnessResult r = RunHarness({"--state", f.state, "--recipes", f.recipes, "--artifacts", f.artifacts, "--plain",
                                  "run", "srvapp", "--commit", h.sha},
                                 Duration(180000));
    INFO("pull request " << h.pr << "\n" << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("refused by the compose policy") && Catch::Contains("compose.yml"));
    for (const auto& n : h.named) CHECK_THAT(r.err, Catch::Contains(n));
    if (!r.namespace_name.empty()) CHECK_THAT(LeftoversOf(r.namespace_name), NothingLeft());
  }

  HarnessProcess serve(f.ServeArgs());
  REQUIRE(serve.WaitForLine("listening on", Duration(30000)));
  int port = f.Port();
  int64_t comment = 900;
  for (const auto& h : heads) {
    auto d = Deliver(port, Comment(h.pr, ++comment, "alice", "!testme"));
    REQUIRE(d);
    CHECK(d->status == 202);
  }
  for (size_t i = 1; i <= heads.size(); ++i) {
    REQUIRE(serve.WaitForLine("job " + std::to_string(i) + ": cold deploy: error in prepare", Duration(120000)));
  }
  REQUIRE(serve.WaitForLine("job " + std::to_string(heads.size()) + ": cold deploy", Duration(60000)));
  serve.Signal(SIGTERM);
  CHECK(serve.Wait(Duration(60000)) == 143);
  INFO(serve.err() << "\n" << f.forge->Log());
  for (const auto& h : heads) {
    std::string last = LastText(f, h.pr);
    INFO("pull request " << h.pr << ": " << last);
    CHECK_THAT(last, Catch::Contains(h.sha.substr(0, 12)) && Catch::Contains("cold deploy: error in prepare") &&
                         Catch::Contains("refused by the compose policy") && Catch::Contains("compose.yml"));
    for (const auto& n : h.named) CHECK_THAT(last, Catch::Contains(n));
    CHECK(last.find("passed") == std::string::npos);
    auto statuses = f.CallsOf("POST", "/statuses/" + h.sha);
    REQUIRE_FALSE(statuses.empty());
    CHECK(statuses.back()["body"]["state"] == "error");
  }
  CheckNothingOfServeLeft(f);

  // The released version of the same recipe, a trusted source, runs as published.
  HarnessResult release = RunHarness({"--state", f.state, "--recipes", f.recipes, "--artifacts", f.artifacts,
                                      "--plain", "run", "srvapp"},
                                     Duration(300000));
  INFO(release.err);
  CHECK(release.exit_code == 0);
  CHECK_THAT(release.err, Catch::Contains("pass serves the release"));  // the script checks the page is the release's
  CHECK_THAT(LeftoversOf(release.namespace_name), NothingLeft());
}

}  // namespace
}  // namespace harness::testing
