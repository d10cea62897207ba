// The libcurl forge client against the forge stand-in: real HTTP on loopback.
#include "forge/forge_client.h"

#include <signal.h>

#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "base/temp_dir.h"
#include "support/forge_standin.h"

namespace harness {
namespace {

using nlohmann::json;
using testing::ForgeStandin;

const std::string kToken = "tok-3f9a7c1e5d2b";
const std::string kHead = "5b1c0d2f8e0a4b7c9d3e6f1a2b4c6d8e0f1a3b5c";
const std::string kStatuses = "POST /api/v1/repos/coop-cloud/traefik/statuses/" + kHead;

json BaseConfig() {
  return {
      {"token", kToken},
      {"members", {{"coop-cloud", {"alice"}}}},
      {"collaborators", {{"coop-cloud/traefik", {"bob"}}}},
      {"pulls",
       {{"coop-cloud/traefik#7",
         {{"state", "open"},
          {"head",
           {{"sha", kHead},
            {"ref", "bump-traefik"},
            {"repo", {{"clone_url", "https://git.example.coop/bob/traefik.git"}}}}},
          {"base", {{"repo", {{"clone_url", "https://git.example.coop/coop-cloud/traefik.git"}}}}},
          {"html_url", "https://git.example.coop/coop-cloud/traefik/pulls/7"}}}}},
  };
}

// A stand-in in its own temp folder, and a client for it.
struct Forgery {
  explicit Forgery(const json& config = BaseConfig(), int attempts = 3) {
    REQUIRE_FALSE(dir.path().empty());
    auto s = ForgeStandin::Start(dir.path(), config);
    INFO(s.status().ToString());
    REQUIRE(s.ok());
    standin = std::move(*s);
    options.base_url = standin->base_url();
    options.token = kToken;
    options.timeout = Duration(5000);
    options.attempts = attempts;
    options.first_backoff = Duration(20);
    forge = NewGiteaClient(options);
  }
  // The calls to `method path`, oldest first.
  std::vector<json> CallsTo(const std::string& method, const std::string& path) const {
    std::vector<json> out;
    for (const json& c : standin->Calls()) {
      if (c["method"] == method && c["path"] == path) out.push_back(c);
    }
    return out;
  }

  TempDir dir{"forge-standin"};
  std::unique_ptr<ForgeStandin> standin;
  ForgeOptions options;
  std::unique_ptr<Forge> forge;
};

void CheckNoToken(const Status& s) {
  INFO(s.ToString());
  CHECK(s.message().find(kToken) == std::string::npos);
}

TEST_CASE("forge client: org membership and collaborators", "[forge]") {
  Forgery f;
  auto alice = f.forge->IsOrgMember("coop-cloud", "alice");
  REQUIRE(alice.ok());
  CHECK(*alice);
  auto mallory = f.forge->IsOrgMember("coop-cloud", "mallory");
  REQUIRE(mallory.ok());
  CHECK_FALSE(*mallory);
  auto other_org = f.forge->IsOrgMember("elsewhere", "alice");
  REQUIRE(other_org.ok());
  CHECK_FALSE(*other_org);

  auto bob = f.forge->IsCollaborator("coop-cloud", "traefik", "bob");
  REQUIRE(bob.ok());
  CHECK(*bob);
  auto carol = f.forge->IsCollaborator("coop-cloud", "traefik", "carol");
  REQUIRE(carol.ok());
  CHECK_FALSE(*carol);

  auto calls = f.standin->Calls();
  REQUIRE(calls.size() == 5);
  CHECK(calls[0]["path"] == "/api/v1/orgs/coop-cloud/members/alice");
  CHECK(calls[3]["path"] == "/api/v1/repos/coop-cloud/traefik/collaborators/bob");
  for (const json& c : calls) {
    CHECK(c["method"] == "GET");
    CHECK(c["auth"] == true);  // "Authorization: token <token>"
  }
}

TEST_CASE("forge client: path segments are escaped, empty ones refused", "[forge]") {
  Forgery f;
  auto odd = f.forge->IsOrgMember("coop cloud", "al/ice?x=1");
  REQUIRE(odd.ok());
  CHECK_FALSE(*odd);
  auto calls = f.standin->Calls();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0]["path"] == "/api/v1/orgs/coop%20cloud/members/al%2Fice%3Fx%3D1");
  CHECK(calls[0]["query"].empty());

  CHECK(f.forge->IsOrgMember("", "alice").status().code() == Status::Code::kInvalidArgument);
  CHECK(f.forge->IsCollaborator("coop-cloud", "", "bob").status().code() ==
        Status::Code::kInvalidArgument);
  CHECK(f.forge->CreateComment("coop-cloud", "traefik", 0, "x").status().code() ==
        Status::Code::kInvalidArgument);
  CHECK(f.forge->SetStatus("coop-cloud", "traefik", "", "success", "c", "d", "").code() ==
        Status::Code::kInvalidArgument);
  CHECK(f.standin->Calls().size() == 1);  // none of those reached the forge
}

TEST_CASE("forge client: GetPull", "[forge]") {
  Forgery f;
  auto pr = f.forge->GetPull("coop-cloud", "traefik", 7);
  INFO(pr.status().ToString());
  REQUIRE(pr.ok());
  CHECK(pr->number == 7);
  CHECK(pr->state == "open");
  CHECK(pr->head_sha == kHead);
  CHECK(pr->head_ref == "bump-traefik");
  CHECK(pr->head_clone_url == "https://git.example.coop/bob/traefik.git");
  CHECK(pr->base_clone_url == "https://git.example.coop/coop-cloud/traefik.git");
  CHECK(pr->html_url == "https://git.example.coop/coop-cloud/traefik/pulls/7");

  SECTION("a missing pull request is NotFound, at once") {
    auto missing = f.forge->GetPull("coop-cloud", "traefik", 8);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.status().code() == Status::Code::kNotFound);
    CHECK(missing.status().message().find("GET /api/v1/repos/coop-cloud/traefik/pulls/8") !=
          std::string::npos);
    CheckNoToken(missing.status());
    CHECK(f.CallsTo("GET", "/api/v1/repos/coop-cloud/traefik/pulls/8").size() == 1);
  }
}

TEST_CASE("forge client: create a comment, then edit it", "[forge]") {
  Forgery f;
  auto first = f.forge->CreateComment("coop-cloud", "traefik", 7, "⏳ testing traefik…");
  INFO(first.status().ToString());
  REQUIRE(first.ok());
  CHECK(*first == 1000);
  auto second = f.forge->CreateComment("coop-cloud", "traefik", 7, "second");
  REQUIRE(second.ok());
  CHECK(*second == 1001);
  REQUIRE(f.forge->EditComment("coop-cloud", "traefik", *first, "✅ traefik passed").ok());

  auto posts = f.CallsTo("POST", "/api/v1/repos/coop-cloud/traefik/issues/7/comments");
  REQUIRE(posts.size() == 2);
  CHECK(posts[0]["body"] == json{{"body", "⏳ testing traefik…"}});
  auto patches = f.CallsTo("PATCH", "/api/v1/repos/coop-cloud/traefik/issues/comments/1000");
  REQUIRE(patches.size() == 1);
  CHECK(patches[0]["body"] == json{{"body", "✅ traefik passed"}});
  CHECK(patches[0]["status"] == 200);

  Status unknown = f.forge->EditComment("coop-cloud", "traefik", 5, "x");
  CHECK(unknown.code() == Status::Code::kNotFound);
}

TEST_CASE("forge client: SetStatus sends the commit status", "[forge]") {
  Forgery f;
  Status s = f.forge->SetStatus("coop-cloud", "traefik", kHead, "pending", "recipe-harness/traefik",
                                "deploying", "https://ci.example.coop/runs/42");
  INFO(s.ToString());
  REQUIRE(s.ok());
  auto calls = f.CallsTo("POST", "/api/v1/repos/coop-cloud/traefik/statuses/" + kHead);
  REQUIRE(calls.size() == 1);
  CHECK(calls[0]["body"] == json{{"state", "pending"},
                                 {"context", "recipe-harness/traefik"},
                                 {"description", "deploying"},
                                 {"target_url", "https://ci.example.coop/runs/42"}});
  CHECK(calls[0]["status"] == 201);

  Status bad = f.forge->SetStatus("coop-cloud", "traefik", kHead, "passed", "c", "d", "");
  CHECK(bad.code() == Status::Code::kInvalidArgument);
  CHECK(f.standin->Calls().size() == 1);
}

TEST_CASE("forge client: a refused token fails at once and never shows", "[forge]") {
  json config = BaseConfig();
  config["token"] = "the-real-token";
  Forgery f(config, /*attempts=*/4);
  auto r = f.forge->IsOrgMember("coop-cloud", "alice");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kInvalidArgument);
  CHECK(r.status().message().find("refused the token") != std::string::npos);
  CHECK(r.status().message().find("401") != std::string::npos);
  CheckNoToken(r.status());
  auto calls = f.standin->Calls();
  REQUIRE(calls.size() == 1);  // a 4xx is never retried
  CHECK(calls[0]["auth"] == false);
}

TEST_CASE("forge client: 5xx answers are retried with backoff", "[forge]") {
  json config = BaseConfig();
  SECTION("503, 503, then success") {
    config["fail"] = {{kStatuses, {503, 503}}};
    Forgery f(config, /*attempts=*/4);
    Status s = f.forge->SetStatus("coop-cloud", "traefik", kHead, "success", "c", "ok", "");
    INFO(s.ToString());
    CHECK(s.ok());
    auto calls = f.CallsTo("POST", "/api/v1/repos/coop-cloud/traefik/statuses/" + kHead);
    REQUIRE(calls.size() == 3);
    CHECK(calls[0]["status"] == 503);
    CHECK(calls[1]["status"] == 503);
    CHECK(calls[2]["status"] == 201);
  }
  SECTION("503 every time: Infra naming the endpoint") {
    config["fail"] = {{kStatuses, {503, 503, 503, 503, 503}}};
    Forgery f(config, /*attempts=*/3);
    Status s = f.forge->SetStatus("coop-cloud", "traefik", kHead, "success", "c", "ok", "");
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == Status::Code::kInfra);
    CHECK(s.message().find(kStatuses) != std::string::npos);
    CHECK(s.message().find("503") != std::string::npos);
    CHECK(s.message().find("3 attempts") != std::string::npos);
    CheckNoToken(s);
    CHECK(f.CallsTo("POST", "/api/v1/repos/coop-cloud/traefik/statuses/" + kHead).size() == 3);
  }
  SECTION("a new comment is not repeated after a 500 (it may exist), but is after a 503") {
    const std::string path = "/api/v1/repos/coop-cloud/traefik/issues/7/comments";
    config["fail"] = {{"POST " + path, {500}}};
    Forgery f(config, /*attempts=*/4);
    auto r = f.forge->CreateComment("coop-cloud", "traefik", 7, "hello");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kInfra);
    CHECK(r.status().message().find("not retried") != std::string::npos);
    CHECK(f.CallsTo("POST", path).size() == 1);

    config["fail"] = {{"POST " + path, {503}}};
    f.standin->SetConfig(config);
    auto again = f.forge->CreateComment("coop-cloud", "traefik", 7, "hello");
    INFO(again.status().ToString());
    REQUIRE(again.ok());
    CHECK(*again == 1000);
    CHECK(f.CallsTo("POST", path).size() == 3);
  }
}

TEST_CASE("forge client: a forge that does not answer in time", "[forge]") {
  json config = BaseConfig();
  config["delay_ms"] = {{"GET /api/v1/repos/coop-cloud/traefik/pulls/7", 3000}};
  Forgery f(config);
  f.options.timeout = Duration(300);
  f.options.attempts = 2;
  auto forge = NewGiteaClient(f.options);
  auto started = Clock::now();
  auto r = forge->GetPull("coop-cloud", "traefik", 7);
  auto took = std::chrono::duration_cast<Duration>(Clock::now() - started);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kInfra);
  CHECK(r.status().message().find("no answer within") != std::string::npos);
  CHECK(r.status().message().find("GET /api/v1/repos/coop-cloud/traefik/pulls/7") !=
        std::string::npos);
  CHECK(took < Duration(2500));  // 2 × 300 ms and a backoff, not the forge's 3 s
  CHECK(f.CallsTo("GET", "/api/v1/repos/coop-cloud/traefik/pulls/7").size() == 2);
}

TEST_CASE("forge client: transport failures are retried, then Infra", "[forge]") {
  ForgeOptions o;
  o.base_url = "http://127.0.0.1:1";  // nothing listens on port 1
  o.token = kToken;
  o.timeout = Duration(2000);
  o.attempts = 3;
  o.first_backoff = Duration(10);
  auto forge = NewGiteaClient(o);
  auto r = forge->CreateComment("coop-cloud", "traefik", 7, "x");  // never sent: retried
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kInfra);
  CHECK(r.status().message().find("POST /api/v1/repos/coop-cloud/traefik/issues/7/comments") !=
        std::string::npos);
  CHECK(r.status().message().find("3 attempts") != std::string::npos);
  CheckNoToken(r.status());
}

TEST_CASE("forge client: a cancelled token stops requests", "[forge]") {
  json config = BaseConfig();
  config["delay_ms"] = {{"GET /api/v1/repos/coop-cloud/traefik/pulls/7", 3000}};
  Forgery f(config);
  f.options.cancel = &CancelToken::Signals();
  f.options.first_backoff = Duration(30000);
  auto forge = NewGiteaClient(f.options);
  auto started = Clock::now();
  Result<PullRequest> r = Status::Failed("not run");
  std::thread t([&] { r = forge->GetPull("coop-cloud", "traefik", 7); });
  CancelToken::RaiseForTest(SIGTERM);  // before or during the request: either way it stops
  t.join();
  CancelToken::ResetForTest();
  CHECK(r.status().code() == Status::Code::kCancelled);
  CHECK(std::chrono::duration_cast<Duration>(Clock::now() - started) < Duration(2500));
}

TEST_CASE("forge client: CommentsSince follows pages and reads pull numbers", "[forge]") {
  json comments = json::array();
  for (int i = 0; i < 70; ++i) {
    char when[32];
    std::snprintf(when, sizeof when, "2024-05-02T10:%02d:00Z", i % 60);
    std::string hour = i < 60 ? "10" : "11";
    std::string at = std::string(when).replace(11, 2, hour);
    comments.push_back({{"id", 2000 + i},
                        {"pr", i % 2 == 0 ? 7 : 9},
                        {"user", i == 69 ? "alice" : "bob"},
                        {"body", i == 69 ? "!testme" : "comment " + std::to_string(i)},
                        {"created_at", at},
                        {"updated_at", at}});
  }
  comments.push_back({{"id", 2999},
                      {"pr", 3},
                      {"is_pull", false},
                      {"user", "carol"},
                      {"body", "an issue comment"},
                      {"created_at", "2024-05-02T12:00:00Z"}});
  json config = BaseConfig();
  config["comments"] = {{"coop-cloud/traefik", comments}};
  Forgery f(config);

  // Since 10:05: comments 5..69 (65) and the issue comment.
  auto got = f.forge->CommentsSince("coop-cloud", "traefik", "2024-05-02T10:05:00+00:00");
  INFO(got.status().ToString());
  REQUIRE(got.ok());
  REQUIRE(got->size() == 66);
  CHECK(got->front().id == 2005);
  CHECK(got->front().pr == 9);
  CHECK(got->front().on_pull);
  CHECK(got->front().user == "bob");
  CHECK(got->front().created_at == "2024-05-02T10:05:00Z");
  const ForgeComment& testme = (*got)[64];
  CHECK(testme.id == 2069);
  CHECK(testme.user == "alice");
  CHECK(testme.body == "!testme");
  CHECK(testme.pr == 9);
  CHECK(got->back().id == 2999);
  CHECK(got->back().pr == 3);
  CHECK_FALSE(got->back().on_pull);

  auto calls = f.CallsTo("GET", "/api/v1/repos/coop-cloud/traefik/issues/comments");
  REQUIRE(calls.size() == 2);
  CHECK(calls[0]["query"] ==
        json{{"since", "2024-05-02T10:05:00+00:00"}, {"limit", "50"}, {"page", "1"}});
  CHECK(calls[1]["query"]["page"] == "2");

  SECTION("the bot's own comments are listed too") {
    REQUIRE(f.forge->CreateComment("coop-cloud", "traefik", 7, "bot says hi").ok());
    auto all = f.forge->CommentsSince("coop-cloud", "traefik", "2024-05-02T11:00:00Z");
    REQUIRE(all.ok());
    REQUIRE(all->size() == 12);
    CHECK(all->back().user == "harness-bot");
    CHECK(all->back().pr == 7);
  }
}

TEST_CASE("forge client: one client, several threads", "[forge]") {
  Forgery f;
  std::vector<std::thread> threads;
  std::vector<std::vector<int64_t>> ids(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        auto id = f.forge->CreateComment("coop-cloud", "traefik", 7, "from thread");
        if (id.ok()) ids[t].push_back(*id);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<int64_t> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  CHECK(all.size() == 20);
}

}  // namespace
}  // namespace harness
