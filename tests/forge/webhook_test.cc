#include "forge/webhook.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

namespace harness {
namespace {

// Payloads shaped as Gitea 1.21 / Forgejo 7 send them (see the notes in forge/webhook.cc).
std::string Payload(const std::string& name) {
  std::ifstream in(std::string(HARNESS_SOURCE_DIR) + "/tests/forge/payloads/" + name + ".json");
  REQUIRE(in.good());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ForgeEvent Parse(const std::string& event, const std::string& body) {
  auto e = ParseWebhook(event, body);
  REQUIRE(e.ok());
  return *e;
}

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

TEST_CASE("HMAC-SHA256 matches RFC 4231 test case 2", "[forge]") {
  CHECK(HmacSha256Hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("webhook signatures verify only for the right secret and body", "[forge]") {
  const std::string body = Payload("gitea_issue_comment_pr");
  const std::string good = HmacSha256Hex("hook-secret", body);
  REQUIRE(good.size() == 64);

  CHECK(VerifySignature("hook-secret", body, good));
  CHECK(VerifySignature("hook-secret", body, Upper(good)));
  CHECK(VerifySignature("hook-secret", body, "sha256=" + good));
  CHECK(VerifySignature("hook-secret", body, "SHA256=" + good));
  CHECK(VerifySignature("hook-secret", body, " " + good + "\r\n"));

  CHECK_FALSE(VerifySignature("other-secret", body, good));
  CHECK_FALSE(VerifySignature("hook-secret", body + " ", good));
  std::string flipped = good;
  flipped[10] = flipped[10] == '0' ? '1' : '0';
  CHECK_FALSE(VerifySignature("hook-secret", body, flipped));
  CHECK_FALSE(VerifySignature("hook-secret", body, good.substr(0, 62)));  // wrong length
  CHECK_FALSE(VerifySignature("hook-secret", body, good + "00"));
  CHECK_FALSE(VerifySignature("hook-secret", body, good.substr(0, 63) + "g"));  // not hex
  CHECK_FALSE(VerifySignature("hook-secret", body, ""));
  CHECK_FALSE(VerifySignature("hook-secret", body, "sha256="));
  // An empty secret never verifies, even against the HMAC under the empty key.
  CHECK_FALSE(VerifySignature("", body, HmacSha256Hex("", body)));
}

TEST_CASE("!testme is a command only on a line of its own", "[forge]") {
  CHECK(IsTestmeComment("!testme"));
  CHECK(IsTestmeComment("!testme\n"));
  CHECK(IsTestmeComment("  !testme  "));
  CHECK(IsTestmeComment("!testme\nthe healthcheck changed, please look"));
  CHECK(IsTestmeComment("Looks good.\r\n!testme\r\n"));
  CHECK(IsTestmeComment("!testme traefik --rerun 3"));
  CHECK(IsTestmeComment("\t!testme\tnow"));

  CHECK_FALSE(IsTestmeComment("please !testme"));
  CHECK_FALSE(IsTestmeComment("!testmenow"));
  CHECK_FALSE(IsTestmeComment("!TESTME"));
  CHECK_FALSE(IsTestmeComment("> !testme"));  // quoting someone else's command
  CHECK_FALSE(IsTestmeComment("`!testme`"));
  CHECK_FALSE(IsTestmeComment("type\n```\n!testme\n```\nto run the tests"));
  CHECK_FALSE(IsTestmeComment(""));
  CHECK(IsTestmeComment("```\ncode\n```\n!testme"));
}

TEST_CASE("a !testme comment on a Gitea pull request", "[forge]") {
  for (const char* header : {"issue_comment", "pull_request_comment", "ISSUE_COMMENT"}) {
    ForgeEvent e = Parse(header, Payload("gitea_issue_comment_pr"));
    CHECK(e.kind == ForgeEvent::Kind::kTestme);
    CHECK(e.action == "created");
    CHECK(e.owner == "coop-cloud");
    CHECK(e.repo == "traefik");
    CHECK(e.full_name == "coop-cloud/traefik");
    CHECK(e.clone_url == "https://git.example.coop/coop-cloud/traefik.git");
    CHECK(e.pr == 7);
    CHECK(e.pr_state == "open");
    CHECK(e.user == "alice");
    CHECK(e.comment_id == 88123);
    CHECK(e.head_sha.empty());  // Gitea does not send the pull request with a comment
    CHECK(e.delivery.empty());
  }
}

TEST_CASE("a !testme comment on a Forgejo pull request carries the head", "[forge]") {
  ForgeEvent e = Parse("issue_comment", Payload("forgejo_issue_comment_pr"));
  CHECK(e.kind == ForgeEvent::Kind::kTestme);
  CHECK(e.pr == 7);
  CHECK(e.comment_id == 88124);
  CHECK(e.user == "alice");
  CHECK(e.head_sha == "5b1c0d2f8e0a4b7c9d3e6f1a2b4c6d8e0f1a3b5c");
  CHECK(e.head_clone_url == "https://git.example.coop/bob/traefik.git");
}

TEST_CASE("comments that are not a new !testme on a pull request are ignored", "[forge]") {
  SECTION("a comment on a plain issue") {
    ForgeEvent e = Parse("issue_comment", Payload("gitea_issue_comment_issue"));
    CHECK(e.kind == ForgeEvent::Kind::kIgnored);
    CHECK(e.why_ignored.find("issue") != std::string::npos);
    CHECK(e.pr == 3);
  }
  SECTION("is_pull alone marks a pull request") {
    auto j = nlohmann::json::parse(Payload("gitea_issue_comment_issue"));
    j["is_pull"] = true;
    CHECK(Parse("issue_comment", j.dump()).kind == ForgeEvent::Kind::kTestme);
  }
  SECTION("an edited or deleted comment") {
    auto j = nlohmann::json::parse(Payload("gitea_issue_comment_pr"));
    for (const char* action : {"edited", "deleted"}) {
      j["action"] = action;
      ForgeEvent e = Parse("issue_comment", j.dump());
      CHECK(e.kind == ForgeEvent::Kind::kIgnored);
      CHECK(e.why_ignored.find(action) != std::string::npos);
    }
  }
  SECTION("other text") {
    auto j = nlohmann::json::parse(Payload("gitea_issue_comment_pr"));
    j["comment"]["body"] = "please !testme when you can";
    ForgeEvent e = Parse("issue_comment", j.dump());
    CHECK(e.kind == ForgeEvent::Kind::kIgnored);
    CHECK(e.why_ignored.find("!testme") != std::string::npos);
  }
  SECTION("a review comment on the diff (X-Gitea-Event: pull_request_comment)") {
    ForgeEvent e = Parse("pull_request_comment", Payload("gitea_pull_request_review_comment"));
    CHECK(e.kind == ForgeEvent::Kind::kIgnored);
    CHECK(e.why_ignored.find("review") != std::string::npos);
  }
}

TEST_CASE("pull request pushes, openings and closings update the pull", "[forge]") {
  ForgeEvent sync = Parse("pull_request", Payload("gitea_pull_request_synchronized"));
  CHECK(sync.kind == ForgeEvent::Kind::kPullUpdated);
  CHECK(sync.action == "synchronized");
  CHECK(sync.pr == 7);
  CHECK(sync.user == "bob");
  CHECK(sync.full_name == "coop-cloud/traefik");
  CHECK(sync.head_sha == "5b1c0d2f8e0a4b7c9d3e6f1a2b4c6d8e0f1a3b5c");
  CHECK(sync.head_clone_url == "https://git.example.coop/bob/traefik.git");
  CHECK(sync.pr_state == "open");

  ForgeEvent opened = Parse("pull_request", Payload("forgejo_pull_request_opened"));
  CHECK(opened.kind == ForgeEvent::Kind::kPullUpdated);
  CHECK(opened.action == "opened");

  ForgeEvent closed = Parse("pull_request", Payload("gitea_pull_request_closed"));
  CHECK(closed.kind == ForgeEvent::Kind::kPullUpdated);
  CHECK(closed.action == "closed");
  CHECK(closed.pr_state == "closed");
  CHECK(closed.user == "alice");
  CHECK_FALSE(closed.head_sha.empty());

  auto j = nlohmann::json::parse(Payload("gitea_pull_request_synchronized"));
  for (const char* action : {"synchronize", "reopened"}) {
    j["action"] = action;
    CHECK(Parse("pull_request_sync", j.dump()).kind == ForgeEvent::Kind::kPullUpdated);
  }
  for (const char* action : {"edited", "label_updated", "assigned", "review_requested"}) {
    j["action"] = action;
    ForgeEvent e = Parse("pull_request", j.dump());
    CHECK(e.kind == ForgeEvent::Kind::kIgnored);
    CHECK_FALSE(e.why_ignored.empty());
  }
  SECTION("the head repository of a deleted fork is null") {
    j["action"] = "synchronized";
    j["pull_request"]["head"]["repo"] = nullptr;
    ForgeEvent e = Parse("pull_request", j.dump());
    CHECK(e.kind == ForgeEvent::Kind::kPullUpdated);
    CHECK(e.head_clone_url.empty());
  }
}

TEST_CASE("other events are ignored without reading the body", "[forge]") {
  for (const char* header : {"push", "issues", "create", "release", "pull_request_approved"}) {
    ForgeEvent e = Parse(header, "not even json");
    CHECK(e.kind == ForgeEvent::Kind::kIgnored);
    CHECK(e.why_ignored.find(header) != std::string::npos);
  }
  CHECK_FALSE(ParseWebhook("", "{}").ok());
}

TEST_CASE("malformed webhook bodies are refused without echoing them", "[forge]") {
  const std::string secret_looking = "{\"action\": \"created\", \"hunter2-body-text";
  auto bad = ParseWebhook("issue_comment", secret_looking);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Status::Code::kInvalidArgument);
  CHECK(bad.status().message().find("hunter2") == std::string::npos);

  CHECK(ParseWebhook("pull_request", "[1, 2]").status().code() == Status::Code::kInvalidArgument);
  CHECK(ParseWebhook("pull_request", "").status().code() == Status::Code::kInvalidArgument);

  struct Case {
    const char* payload;
    const char* event;
    std::vector<std::string> path;
    const char* named;
  };
  for (const Case& c : std::vector<Case>{
           {"gitea_issue_comment_pr", "issue_comment", {"comment", "id"}, "comment.id"},
           {"gitea_issue_comment_pr", "issue_comment", {"issue", "number"}, "issue.number"},
           {"gitea_issue_comment_pr", "issue_comment", {"comment", "user"}, "comment.user.login"},
           {"gitea_issue_comment_pr",
            "issue_comment",
            {"repository", "full_name"},
            "repository.full_name"},
           {"gitea_pull_request_synchronized", "pull_request", {"number"}, "number"},
           {"gitea_pull_request_synchronized",
            "pull_request",
            {"pull_request", "head", "sha"},
            "pull_request.head.sha"},
           {"gitea_pull_request_synchronized", "pull_request", {"action"}, "action"},
       }) {
    auto j = nlohmann::json::parse(Payload(c.payload));
    nlohmann::json* parent = &j;
    for (size_t i = 0; i + 1 < c.path.size(); ++i) parent = &(*parent)[c.path[i]];
    parent->erase(c.path.back());
    auto r = ParseWebhook(c.event, j.dump());
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kInvalidArgument);
    CHECK(r.status().message().find(c.named) != std::string::npos);
  }
  // A wrong type is as bad as a missing field.
  auto j = nlohmann::json::parse(Payload("gitea_issue_comment_pr"));
  j["issue"]["number"] = "7";
  CHECK(ParseWebhook("issue_comment", j.dump()).status().code() == Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace harness
