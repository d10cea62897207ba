// serve's decisions behind the Forge seam: who may start runs, rate limits, supersession,
// redeliveries and polling — with a fake forge and the real SQLite queue; a queue that
// refuses writes (a full disk) and a serve killed mid-run, with jobs run on the fake
// Swarm. The webhook path against a real HTTP server, the recording forge stand-in and
// the Swarm is tests/e2e/serve_test.cc.
#include "serve/server.h"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "base/cancel.h"
#include "base/temp_dir.h"
#include "support/fake_runtime.h"
#include "support/git_fixture.h"
#include "support/unwritable.h"

using namespace harness;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* kSecret = "s3cret-for-unit-tests";

class FakeForge : public Forge {
 public:
  std::vector<std::string> members = {"alice"};
  std::map<int64_t, PullRequest> pulls;
  std::vector<std::pair<int64_t, std::string>> created;   // pr, body
  std::vector<std::pair<int64_t, std::string>> edited;    // comment id, body
  std::vector<std::pair<std::string, std::string>> statuses;  // sha, state
  std::vector<ForgeComment> comments;
  int next_id = 100;

  Result<bool> IsOrgMember(const std::string& org, const std::string& user) override {
    if (user == "unknowable") return Status::Infra("GET /api/v1/orgs/coop/members/unknowable: 503 after 4 attempts");
    return org == "coop" && std::find(members.begin(), members.end(), user) != members.end();
  }
  Result<bool> IsCollaborator(const std::string&, const std::string&, const std::string& user) override {
    return user == "carol";
  }
  Result<PullRequest> GetPull(const std::string&, const std::string&, int64_t number) override {
    if (!pulls.count(number)) return Status::NotFound("no pull");
    return pulls[number];
  }
  Result<int64_t> CreateComment(const std::string&, const std::string&, int64_t pr, const std::string& body) override {
    created.emplace_back(pr, body);
    return int64_t{next_id++};
  }
  Status EditComment(const std::string&, const std::string&, int64_t id, const std::string& body) override {
    edited.emplace_back(id, body);
    return Status::Ok();
  }
  Status SetStatus(const std::string&, const std::string&, const std::string& sha, const std::string& state,
                   const std::string&, const std::string&, const std::string&) override {
    statuses.emplace_back(sha, state);
    return Status::Ok();
  }
  Result<std::vector<ForgeComment>> CommentsSince(const std::string&, const std::string&, const std::string&) override {
    return comments;
  }
};

struct Fixture {
  TempDir tmp{"serve-unit"};
  harness::testing::GitFixture repo{tmp.path() + "/git"};
  FakeForge forge;
  std::unique_ptr<ServeQueue> queue;
  std::unique_ptr<Server> server;
  ServeOptions opts;

  explicit Fixture(const std::function<void(ServeOptions&)>& tweak = nullptr) {
    repo.Write("compose.yml", "services: {app: {image: busybox}}\n");
    repo.Commit("one");
    repo.Tag("1.0.0+1");
    repo.Push();
    fs::create_directories(tmp.path() + "/recipes/app");
    std::ofstream(tmp.path() + "/recipes/app/recipe.lua") << "return recipe { source = { git = \"" << repo.url() << "\" } }\n";
    fs::create_directories(tmp.path() + "/recipes/folder");
    std::ofstream(tmp.path() + "/recipes/folder/recipe.lua") << "return recipe {}\n";
    opts.webhook_secret = kSecret;
    opts.allow_orgs = {"coop"};
    opts.base.recipes_dir = tmp.path() + "/recipes";
    opts.base.state_dir = tmp.path() + "/state";
    opts.poll_repos = {"coop/app"};
    if (tweak) tweak(opts);
    Reopen();
    for (int64_t pr : {7, 8}) forge.pulls[pr] = {pr, "open", std::string(40, pr == 7 ? 'a' : 'b'), "f", "", "", ""};
  }
  void Reopen() {
    server.reset();
    queue.reset();
    auto q = ServeQueue::Open(opts.base.state_dir);
    REQUIRE(q.ok());
    queue = std::move(*q);
    server = std::make_unique<Server>(opts, &forge, queue.get(), nullptr, nullptr);
  }
  Server::Reply Deliver(const json& payload, const std::string& event = "issue_comment", const std::string& secret = kSecret,
                        const std::string& delivery = "") {
    std::string body = payload.dump();
    std::vector<std::pair<std::string, std::string>> headers = {{"x-gitea-event", event},
                                                                {"x-gitea-signature", HmacSha256Hex(secret, body)}};
    if (!delivery.empty()) headers.emplace_back("x-gitea-delivery", delivery);
    return server->HandleWebhook(headers, body);
  }
};

json Comment(int64_t pr, int64_t id, const std::string& user, const std::string& body = "!testme",
             const std::string& repo = "app") {
  return {{"action", "created"},
          {"issue", {{"number", pr}, {"pull_request", {{"merged", false}}}}},
          {"comment", {{"id", id}, {"body", body}, {"user", {{"login", user}}}}},
          {"repository", {{"full_name", "coop/" + repo}, {"name", repo}, {"owner", {{"login", "coop"}}},
                          {"clone_url", "https://forge.invalid/coop/" + repo + ".git"}}},
          {"sender", {{"login", user}}},
          {"is_pull", true}};
}

json Push(int64_t pr, const std::string& action, const std::string& sha) {
  return {{"action", action},
          {"number", pr},
          {"pull_request", {{"number", pr}, {"state", action == "closed" ? "closed" : "open"},
                            {"head", {{"sha", sha}, {"ref", "f"}, {"repo", {{"clone_url", "x"}}}}},
                            {"base", {{"repo", {{"clone_url", "x"}}}}}}},
          {"repository", {{"full_name", "coop/app"}, {"name", "app"}, {"owner", {{"login", "coop"}}},
                          {"clone_url", "https://forge.invalid/coop/app.git"}}},
          {"sender", {{"login", "alice"}}}};
}

}  // namespace

TEST_CASE("serve: only members, the allow-list or collaborators start runs; others get one reply", "[serve-unit]") {
  Fixture f([](ServeOptions& o) { o.allow_users = {"bob"}; });
  CHECK(f.Deliver(Comment(7, 1, "mallory")).status == 202);
  CHECK(f.Deliver(Comment(7, 2, "mallory")).status == 202);
  REQUIRE(f.forge.created.size() == 1);  // one polite reply per user and pull request
  CHECK_THAT(f.forge.created[0].second, Catch::Contains("@mallory"));
  CHECK(f.queue->CountInState("queued").value() == 0);
  CHECK(f.Deliver(Comment(7, 3, "carol")).status == 202);  // a collaborator, not allowed here
  CHECK(f.queue->CountInState("queued").value() == 0);

  auto alice = f.Deliver(Comment(7, 4, "alice"));
  CHECK(alice.status == 202);
  CHECK_THAT(alice.body, Catch::Contains("\"queued\""));
  auto bob = f.Deliver(Comment(8, 5, "bob"));
  CHECK(bob.status == 202);
  CHECK(f.queue->CountInState("queued").value() == 2);
  auto job = f.queue->Claim();
  REQUIRE(job.ok());
  REQUIRE(job->has_value());
  CHECK((*job)->recipe == "app");
  CHECK((*job)->sha == std::string(40, 'a'));
  CHECK((*job)->user == "alice");
  // Queued: a comment on the pull request and a pending status for its head.
  auto on7 = std::find_if(f.forge.created.rbegin(), f.forge.created.rend(), [](auto& c) { return c.first == 7; });
  REQUIRE(on7 != f.forge.created.rend());
  CHECK_THAT(on7->second, Catch::Contains("queued (asked by @alice)"));
  CHECK(f.forge.statuses.front() == std::make_pair(std::string(40, 'a'), std::string("pending")));
}

TEST_CASE("serve: collaborators may start runs when allowed", "[serve-unit]") {
  Fixture f([](ServeOptions& o) {
    o.allow_orgs.clear();
    o.allow_collaborators = true;
  });
  f.Deliver(Comment(7, 1, "carol"));
  f.Deliver(Comment(8, 2, "alice"));
  CHECK(f.queue->CountInState("queued").value() == 1);
}

TEST_CASE("serve: bad signatures, malformed bodies, redeliveries and other events start nothing", "[serve-unit]") {
  Fixture f;
  CHECK(f.Deliver(Comment(7, 1, "alice"), "issue_comment", "wrong").status == 401);
  CHECK(f.Deliver(Comment(7, 1, "alice"), "issue_comment", "").status == 401);
  {
    std::string junk = "[1,2";
    auto r = f.server->HandleWebhook({{"x-gitea-event", "issue_comment"}, {"x-gitea-signature", HmacSha256Hex(kSecret, junk)}}, junk);
    CHECK(r.status == 400);
  }
  CHECK(f.Deliver(Comment(7, 1, "alice", "please !testme")).status == 202);  // not a command
  CHECK(f.Deliver(Comment(7, 2, "alice"), "issue_comment", kSecret, "d-1").status == 202);
  CHECK(f.Deliver(Comment(7, 3, "alice"), "issue_comment", kSecret, "d-1").status == 200);  // the same delivery
  CHECK(f.Deliver(Comment(7, 2, "alice")).status == 200);  // the same comment again
  CHECK(f.queue->CountInState("queued").value() == 1);
  CHECK(f.Deliver(Comment(7, 9, "alice", "!testme", "unknown")).status == 202);  // no recipe builds from it
  CHECK_THAT(f.forge.created.back().second, Catch::Contains("no recipe built from coop/unknown"));
  CHECK(f.queue->CountInState("queued").value() == 1);
}

TEST_CASE("serve: a newer request or a push supersedes; a superseded job never speaks", "[serve-unit]") {
  Fixture f;
  f.Deliver(Comment(7, 1, "alice"));
  auto first = f.queue->Claim();
  REQUIRE(first.ok());
  REQUIRE(first->has_value());
  const int64_t old_id = (*first)->id;
  CHECK(f.queue->IsLatest(old_id).value());
  f.forge.pulls[7].head_sha = std::string(40, 'c');
  f.Deliver(Comment(7, 2, "alice"));
  CHECK_FALSE(f.queue->IsLatest(old_id).value());
  CHECK_FALSE(f.queue->Finish(old_id, "passed", "x").value());  // superseded: nothing to post
  auto job = f.queue->Get(old_id);
  REQUIRE(job.ok());
  CHECK((*job)->state == "superseded");

  SECTION("a push to another commit supersedes the queued run") {
    f.Deliver(Push(7, "synchronized", std::string(40, 'd')), "pull_request");
    CHECK(f.queue->CountInState("queued").value() == 0);
  }
  SECTION("a push of the same head keeps it; closing supersedes it") {
    f.Deliver(Push(7, "synchronized", std::string(40, 'c')), "pull_request");
    CHECK(f.queue->CountInState("queued").value() == 1);
    f.Deliver(Push(7, "closed", std::string(40, 'c')), "pull_request");
    CHECK(f.queue->CountInState("queued").value() == 0);
  }
}

TEST_CASE("serve: rate limits per pull request and per user", "[serve-unit]") {
  Fixture f([](ServeOptions& o) {
    o.per_pr_per_hour = 2;
    o.per_user_per_hour = 3;
  });
  CHECK(f.Deliver(Comment(7, 1, "alice")).status == 202);
  CHECK(f.Deliver(Comment(7, 2, "alice")).status == 202);
  CHECK(f.Deliver(Comment(7, 3, "alice")).status == 429);
  CHECK_THAT(f.forge.created.back().second, Catch::Contains("this pull request"));
  CHECK(f.Deliver(Comment(8, 4, "alice")).status == 202);
  CHECK(f.Deliver(Comment(8, 5, "alice")).status == 429);
  CHECK_THAT(f.forge.created.back().second, Catch::Contains("@alice"));
}

TEST_CASE("serve: the queue survives a restart; interrupted runs are queued again", "[serve-unit]") {
  Fixture f;
  f.Deliver(Comment(7, 1, "alice"));
  f.Deliver(Comment(8, 2, "alice"));
  auto running = f.queue->Claim();
  REQUIRE(running.ok());
  REQUIRE(running->has_value());
  f.Reopen();  // serve died mid-run
  CHECK(f.queue->RecoverInterrupted().value() == 1);
  CHECK(f.queue->CountInState("queued").value() == 2);
  auto again = f.queue->Claim();
  REQUIRE(again.ok());
  CHECK((*again)->id == (*running)->id);  // oldest first
  CHECK(f.queue->Finish((*again)->id, "passed", "ok").value());
  CHECK(f.queue->IsLatest((*again)->id).value());  // done, still the pull request's latest word
  CHECK(f.queue->ReplyComment("coop/app", 7).value() != 0);  // the comment is remembered too
}

TEST_CASE("serve: polling finds new !testme comments once, and ignores its own", "[serve-unit]") {
  Fixture f;
  f.forge.comments = {{50, 7, true, "alice", "!testme", "2026-11-26T10:00:00Z"},
                      {51, 7, false, "alice", "!testme", "2026-11-26T10:00:00Z"},  // on an issue
                      {52, 8, true, "harness-bot", "<!-- recipe-harness -->\n!testme", "2026-11-26T10:00:00Z"},
                      {53, 8, true, "mallory", "!testme", "2026-11-26T10:00:00Z"}};
  f.server->PollOnce();
  CHECK(f.queue->CountInState("queued").value() == 1);
  f.server->PollOnce();
  CHECK(f.queue->CountInState("queued").value() == 1);
  CHECK(f.queue->Cursor("poll:coop/app").value() != "");
}

TEST_CASE("serve: when the forge cannot answer, nothing is queued and the delivery says so", "[serve-unit]") {
  Fixture f;
  auto unknowable = f.Deliver(Comment(7, 1, "unknowable"));
  CHECK(unknowable.status == 503);  // membership could not be checked: no run, no reply
  CHECK(f.forge.created.empty());
  auto no_pull = f.Deliver(Comment(9, 2, "alice"));  // the forge has no pull request 9
  CHECK(no_pull.status == 502);
  CHECK(f.queue->CountInState("queued").value() == 0);
  CHECK(f.forge.statuses.empty());
  f.forge.pulls[7].state = "closed";
  CHECK(f.Deliver(Comment(7, 3, "alice")).status == 202);
  CHECK_THAT(f.forge.created.back().second, Catch::Contains("closed"));
  CHECK(f.queue->CountInState("queued").value() == 0);
}

TEST_CASE("serve: a port file that cannot be written stops serve before it takes work", "[serve-unit]") {
  Fixture f([](ServeOptions& o) {
    o.host = "127.0.0.1";
    o.port = 0;
  });
  f.opts.port_file = f.tmp.path() + "/no/such/folder/port";
  f.Reopen();
  REQUIRE(f.Deliver(Comment(7, 1, "alice")).status == 202);
  CancelSource stop;
  stop.Cancel();   // were the port file written, serve would stop at once rather than hang the test
  Status s = f.server->Run(stop.token());
  CHECK(s.code() == Status::Code::kInfra);
  CHECK_THAT(s.message(), Catch::Contains("--port-file"));
  CHECK(f.queue->CountInState("queued").value() == 1);   // the job waits for the next start
  CHECK(f.queue->CountInState("running").value() == 0);
}

TEST_CASE("serve: a !testme the queue cannot take gets 503 and is queued once the disk has room", "[serve-unit]") {
  Fixture f;
  f.forge.comments = {{50, 8, true, "alice", "!testme", "2026-11-26T10:00:00Z"}};
  f.forge.pulls[9] = {9, "open", std::string(40, 'c'), "f", "", "", ""};
  auto waiting = json::parse(f.Deliver(Comment(9, 2, "alice")).body);  // queued before the disk fills up
  REQUIRE(waiting.contains("queued"));
  const size_t created_before = f.forge.created.size();
  const size_t statuses_before = f.forge.statuses.size();
  Server::Reply refused, closed;
  bool full_ok = false;
  {
    testing::DiskFull full;  // nothing is checked until the disk has room again
    full_ok = full.ok();
    refused = f.Deliver(Comment(7, 1, "alice"), "issue_comment", kSecret, "d-1");
    closed = f.Deliver(Push(9, "closed", std::string(40, 'c')), "pull_request", kSecret, "d-2");
    f.server->PollOnce();
  }
  REQUIRE(full_ok);
  CHECK(refused.status == 503);
  CHECK(closed.status == 503);
  CHECK(f.queue->CountInState("queued").value() == 1);  // the job of #9 is not cancelled
  CHECK(f.queue->CountInState("superseded").value() == 0);
  // Nothing said on a pull request about a run that is not queued.
  CHECK(f.forge.created.size() == created_before);
  CHECK(f.forge.statuses.size() == statuses_before);
  CHECK(f.queue->Cursor("poll:coop/app").value() == "");  // the poll will read that comment again

  // The same deliveries, and the next poll, once the disk has room: each handled once.
  CHECK(f.Deliver(Comment(7, 1, "alice"), "issue_comment", kSecret, "d-1").status == 202);
  CHECK(f.Deliver(Comment(7, 1, "alice"), "issue_comment", kSecret, "d-1").status == 200);
  CHECK(f.Deliver(Comment(7, 1, "alice")).status == 200);  // the comment, delivered anew
  CHECK(f.Deliver(Push(9, "closed", std::string(40, 'c')), "pull_request", kSecret, "d-2").status == 202);
  CHECK(f.queue->CountInState("superseded").value() == 1);
  f.server->PollOnce();
  f.server->PollOnce();
  CHECK(f.queue->CountInState("queued").value() == 2);
  CHECK(f.queue->Cursor("poll:coop/app").value() != "");
}

TEST_CASE("serve: it does not start when it cannot give back the runs cut short last time", "[serve-unit]") {
  Fixture f;
  f.Deliver(Comment(7, 1, "alice"));
  auto cut_short = f.queue->Claim();  // serve was killed while running it
  REQUIRE(cut_short.ok());
  REQUIRE(cut_short->has_value());
  f.Reopen();
  CancelSource stop;
  stop.Cancel();
  Status started;
  {
    testing::DiskFull full;
    started = f.server->Run(stop.token());
  }
  CHECK(started.code() == Status::Code::kInfra);
  CHECK_THAT(started.message(), Catch::Contains("cannot queue again the runs cut short"));
  CHECK_THAT(started.message(), Catch::Contains(f.opts.base.state_dir + "/serve.sqlite"));
  CHECK(f.queue->CountInState("running").value() == 1);  // still there for the next start
  CHECK(f.queue->RecoverInterrupted().value() == 1);
}

// The recipe's head, on the fake Swarm: what one job runs is the cold run of the head and
// the upgrade from its release, each a Runtime made by the FakeSwarm.
struct RunningFixture {
  testing::FakeSwarm swarm;
  Fixture f{[this](ServeOptions& o) {
    o.port = 0;
    o.base.make_runtime = swarm.Factory();
    o.base.artifacts_dir = o.base.state_dir + "/../artifacts";
  }};
  RunningFixture() { f.forge.pulls[7].head_sha = f.repo.Head(); }
  // Serves until job `id` is done (or a minute passed), then stops; Run's status.
  Status ServeUntilDone(int64_t id) {
    CancelSource stop;
    Status served;
    std::thread serve([&] { served = f.server->Run(stop.token()); });
    for (int i = 0; i < 600; ++i) {
      auto job = f.queue->Get(id);
      if (job.ok() && job->has_value() && (*job)->state == "done") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    stop.Cancel();
    serve.join();
    return served;
  }
};

TEST_CASE("serve: a job whose serve was killed mid-run is given back at the next start and run once", "[serve-unit]") {
  RunningFixture r;
  auto queued = json::parse(r.f.Deliver(Comment(7, 1, "alice")).body);
  REQUIRE(queued.contains("queued"));
  const int64_t id = queued["queued"].get<int64_t>();

  // A serve process takes the job and is killed before it finishes it.
  r.f.server.reset();
  r.f.queue.reset();
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto q = ServeQueue::Open(r.f.opts.base.state_dir);
    if (!q.ok()) _exit(10);
    auto job = (*q)->Claim();
    if (!job.ok() || !job->has_value() || (*job)->id != id) _exit(11);
    raise(SIGKILL);
    _exit(12);
  }
  int wstatus = 0;
  REQUIRE(waitpid(pid, &wstatus, 0) == pid);
  REQUIRE(WIFSIGNALED(wstatus));
  r.f.Reopen();
  REQUIRE(r.f.queue->Get(id).value()->state == "running");

  Status served = r.ServeUntilDone(id);
  INFO(served.ToString());
  CHECK(served.ok());
  auto job = r.f.queue->Get(id);
  REQUIRE(job.ok());
  INFO((*job)->detail);
  CHECK((*job)->state == "done");
  CHECK((*job)->result == "passed");
  CHECK(r.swarm.runtimes == 2);  // the cold run and the upgrade run, once each
  CHECK_THAT(r.f.forge.edited.back().second, Catch::Contains("passed"));

  // A later start has nothing to give back or to run.
  r.f.Reopen();
  CHECK(r.ServeUntilDone(id).ok());
  CHECK(r.swarm.runtimes == 2);
  CHECK(r.f.queue->CountInState("done").value() == 1);
}

TEST_CASE("serve: a job it cannot put back in the queue when it stops stays there as running, and serve exits 3",
          "[serve-unit]") {
  RunningFixture r;
  auto queued = json::parse(r.f.Deliver(Comment(7, 1, "alice")).body);
  REQUIRE(queued.contains("queued"));
  const int64_t id = queued["queued"].get<int64_t>();
  // Serve is stopped while the job deploys, and the disk fills up at that moment: the
  // run tears down, and the queue refuses to take the job back.
  CancelSource stop;
  std::optional<testing::DiskFull> full;
  r.swarm.on_call = [&](const std::string& call) {
    if (call.rfind("deploy ", 0) == 0 && !full) {
      full.emplace();
      stop.Cancel();
    }
  };
  Status served = r.f.server->Run(stop.token());
  full.reset();  // nothing was checked while the disk was full
  CHECK(served.code() == Status::Code::kInfra);
  CHECK_THAT(served.message(), Catch::Contains("1 job(s) could not be recorded in the queue"));
  CHECK_THAT(served.message(), Catch::Contains("the next start of serve queues them again"));
  CHECK(r.f.queue->Get(id).value()->state == "running");
  CHECK(r.f.queue->RecoverInterrupted().value() == 1);  // what the next start does
  CHECK(r.f.queue->Get(id).value()->state == "queued");
}

TEST_CASE("serve: a worker the queue refuses a job waits 5 s before it asks again", "[serve-unit]") {
  Fixture f{[](ServeOptions& o) { o.port = 0; }};
  REQUIRE(json::parse(f.Deliver(Comment(7, 1, "alice")).body).contains("queued"));
  std::atomic<int> refused{0};
  Server server(f.opts, &f.forge, f.queue.get(), nullptr, [&](const std::string& line) {
    if (line.find("cannot take the next job") != std::string::npos) ++refused;
  });
  CancelSource stop;
  Status served;
  bool full_ok = false;
  {
    testing::DiskFull full;  // the queued job can be read, not taken
    full_ok = full.ok();
    std::thread serve([&] { served = server.Run(stop.token()); });
    std::this_thread::sleep_for(std::chrono::seconds(1));
    stop.Cancel();
    serve.join();
  }
  REQUIRE(full_ok);
  CHECK(served.ok());
  CHECK(refused == 1);
  CHECK(f.queue->CountInState("queued").value() == 1);
}
