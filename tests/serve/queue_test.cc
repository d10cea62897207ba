// The serve queue on real SQLite in a temporary folder, when writes are refused and when
// a worker dies: every refused write says why, naming the file, and no job is lost.
// serve's handling of the same (503s, polling, its exit status) is in server_test.cc.
#include "serve/queue.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include "base/files.h"
#include "base/temp_dir.h"
#include "support/unwritable.h"

using namespace harness;
namespace fs = std::filesystem;

namespace {

ServeJob Job(int64_t pr) {
  ServeJob j;
  j.repo = "coop/app";
  j.pr = pr;
  j.sha = std::string(40, 'a');
  j.recipe = "app";
  j.user = "alice";
  return j;
}

std::unique_ptr<ServeQueue> Open(const std::string& state) {
  auto q = ServeQueue::Open(state);
  INFO((q.ok() ? "" : q.status().message()));
  REQUIRE(q.ok());
  return std::move(*q);
}

// The ids of every job that can be claimed now, in order.
std::vector<int64_t> ClaimAll(ServeQueue& q) {
  std::vector<int64_t> ids;
  while (true) {
    auto job = q.Claim();
    REQUIRE(job.ok());
    if (!job->has_value()) return ids;
    ids.push_back((*job)->id);
  }
}

// Every file of `dir`, and `dir` itself, to `file_mode` / `dir_mode`.
void Chmod(const std::string& dir, mode_t dir_mode, mode_t file_mode) {
  auto names = ListFolder(dir);
  REQUIRE(names.ok());
  for (const auto& n : *names) REQUIRE(chmod((dir + "/" + n).c_str(), file_mode) == 0);
  REQUIRE(chmod(dir.c_str(), dir_mode) == 0);
}

}  // namespace

TEST_CASE("serve queue: a state folder made read-only refuses the queue clearly; every job is still there after",
          "[serve-unit]") {
  TempDir tmp("serve-queue");
  REQUIRE(testing::Unprivileged::Reach(tmp.path()));
  const std::string state = tmp.path() + "/state";
  REQUIRE(mkdir(state.c_str(), 0755) == 0);
  testing::Unprivileged user(state);
  if (!user.ok()) {
    WARN("skipped: as root, permissions do not stop writes, and this process could not become an unprivileged "
         "user to make them count");
    return;
  }
  int64_t running_id = 0;
  {
    auto q = Open(state);
    for (int64_t pr : {1, 2, 3}) REQUIRE(q->Enqueue(Job(pr), nullptr).ok());
    auto running = q->Claim();
    REQUIRE(running.ok());
    REQUIRE(running->has_value());
    running_id = (*running)->id;
  }  // serve stops (or is stopped), and the folder turns read-only under it

  Chmod(state, 0555, 0444);
  auto refused = ServeQueue::Open(state);  // what serve meets when it starts again
  Chmod(state, 0755, 0644);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == Status::Code::kInfra);
  CHECK_THAT(refused.status().message(), Catch::Contains(state + "/serve.sqlite"));
  CHECK_THAT(refused.status().message(), Catch::Contains("readonly"));

  // Writable again: the three jobs, one of them cut short, and each runs once.
  auto q = Open(state);
  CHECK(q->CountInState("queued").value() == 2);
  CHECK(q->CountInState("running").value() == 1);
  CHECK(q->RecoverInterrupted().value() == 1);
  std::vector<int64_t> ids = ClaimAll(*q);
  CHECK(ids.size() == 3);
  CHECK(ids.front() == running_id);  // oldest first
  CHECK(std::set<int64_t>(ids.begin(), ids.end()).size() == 3);
}

TEST_CASE("serve queue: on a full disk every write is refused, naming the file and why; nothing changes",
          "[serve-unit]") {
  TempDir tmp("serve-queue");
  const std::string state = tmp.path() + "/state";
  auto q = Open(state);
  auto a = q->Enqueue(Job(1), nullptr);
  auto b = q->Enqueue(Job(2), nullptr);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  auto claimed = q->Claim();
  REQUIRE(claimed.ok());
  REQUIRE(claimed->has_value());
  REQUIRE((*claimed)->id == *a);
  REQUIRE(q->SetCursor("poll:coop/app", "2026-11-26T10:00:00Z").ok());

  // The disk fills up under the open queue; nothing is checked until it has room again.
  bool full_ok = false;
  Result<int64_t> enqueue = int64_t{0};
  Result<std::optional<ServeJob>> claim = std::optional<ServeJob>();
  Result<bool> finish = false, sighting = false;
  Result<int> recover = 0;
  Status requeue, supersede, cursor, reply;
  {
    testing::DiskFull full;
    full_ok = full.ok();
    enqueue = q->Enqueue(Job(3), nullptr, "comment:9");
    claim = q->Claim();
    finish = q->Finish(*a, "passed", "all good");
    requeue = q->Requeue(*a);
    recover = q->RecoverInterrupted();
    std::vector<int64_t> cancelled;
    supersede = q->Supersede("coop/app", 2, "", &cancelled);
    sighting = q->FirstSighting("delivery:d-1");
    cursor = q->SetCursor("poll:coop/app", "2026-11-27T10:00:00Z");
    reply = q->SetReplyComment("coop/app", 1, 100);
  }
  REQUIRE(full_ok);
  const std::string file = state + "/serve.sqlite";
  for (const Status& s : {enqueue.status(), claim.status(), finish.status(), requeue, recover.status(), supersede,
                          sighting.status(), cursor, reply}) {
    INFO(s.ToString());
    CHECK(s.code() == Status::Code::kInfra);
    CHECK_THAT(s.message(), Catch::Contains(file));
    CHECK_THAT(s.message(), Catch::Contains("File too large"));  // the operating system's reason
  }

  // Room again: everything as it was before the disk filled up.
  CHECK(q->CountInState("queued").value() == 1);
  CHECK(q->CountInState("running").value() == 1);
  CHECK(q->CountInState("superseded").value() == 0);
  CHECK(q->CountInState("done").value() == 0);
  CHECK_FALSE(q->Seen("comment:9").value());  // the request can be asked for again
  CHECK_FALSE(q->Seen("delivery:d-1").value());
  CHECK(q->Cursor("poll:coop/app").value() == "2026-11-26T10:00:00Z");
  CHECK(q->ReplyComment("coop/app", 1).value() == 0);
  auto again = q->Enqueue(Job(3), nullptr, "comment:9");
  REQUIRE(again.ok());
  CHECK(*again > *b);
  CHECK(q->Enqueue(Job(3), nullptr, "comment:9").value() == 0);  // asked for once, queued once
  CHECK(q->Finish(*a, "passed", "all good").value());
  CHECK(ClaimAll(*q) == std::vector<int64_t>{*b, *again});
}

TEST_CASE("serve queue: a worker killed after claiming a job: the reopened queue gives it back, to run once",
          "[serve-unit]") {
  TempDir tmp("serve-queue");
  const std::string state = tmp.path() + "/state";
  int64_t a = 0, b = 0;
  {
    auto q = Open(state);
    a = q->Enqueue(Job(1), nullptr).value();
    b = q->Enqueue(Job(2), nullptr).value();
  }
  // A serve process claims the oldest job and is killed in the middle of running it.
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto q = ServeQueue::Open(state);
    if (!q.ok()) _exit(10);
    auto job = (*q)->Claim();
    if (!job.ok() || !job->has_value() || (*job)->id != a) _exit(11);
    raise(SIGKILL);
    _exit(12);
  }
  int wstatus = 0;
  REQUIRE(waitpid(pid, &wstatus, 0) == pid);
  INFO("child exit status " << (WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1));
  REQUIRE(WIFSIGNALED(wstatus));
  CHECK(WTERMSIG(wstatus) == SIGKILL);

  // Serve starts again: the job cut short is queued again, before the other, and each
  // job is claimed exactly once.
  auto q = Open(state);
  CHECK(q->CountInState("running").value() == 1);
  CHECK(q->RecoverInterrupted().value() == 1);
  CHECK(ClaimAll(*q) == std::vector<int64_t>{a, b});
  CHECK(q->Finish(a, "passed", "ok").value());
  CHECK(q->Finish(b, "failed", "test x").value());
  q.reset();
  q = Open(state);  // and once finished, a later start runs neither again
  CHECK(q->RecoverInterrupted().value() == 0);
  CHECK(ClaimAll(*q).empty());
  CHECK(q->Get(a).value()->result == "passed");
}
