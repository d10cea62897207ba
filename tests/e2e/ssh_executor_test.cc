// SshExecutor against a real OpenSSH server on loopback (support/sshd.h).
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "base/temp_dir.h"
#include "exec/local_executor.h"
#include "exec/ssh_executor.h"
#include "support/executor_checks.h"
#include "support/sshd.h"

extern char** environ;

namespace harness {
namespace {

using testing::TestSshd;
namespace fs = std::filesystem;

SshOptions Options(const TestSshd& sshd) {
  SshOptions o;
  o.identity_file = sshd.client_key();
  o.known_hosts = sshd.known_hosts();
  o.connect_timeout = Duration(5000);
  return o;
}

std::unique_ptr<SshExecutor> OpenOrFail(const TestSshd& sshd, const SshOptions& o) {
  auto target = ParseTarget(sshd.target());
  REQUIRE(target.ok());
  auto e = SshExecutor::Open(*target, o);
  INFO((e.ok() ? std::string() : e.status().message()) << "\n" << sshd.Log());
  REQUIRE(e.ok());
  return std::move(*e);
}

Result<ProcessResult> RunArgv(Executor* e, std::vector<std::string> argv, Duration timeout = Duration(20000)) {
  Command c;
  c.argv = std::move(argv);
  c.deadline = Deadline::In(timeout);
  return e->Run(c, CancelToken::None());
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_CASE("ssh executor: exit status, output streams, stdin, environment; one connection reused", "[ssh]") {
  TestSshd sshd;
  auto e = OpenOrFail(sshd, Options(sshd));
  CHECK(e->Describe() == sshd.target());

  auto r = RunArgv(e.get(), {"sh", "-c", "echo out; echo err >&2; exit 3"});
  REQUIRE(r.ok());
  CHECK(r->exit_code == 3);
  CHECK(r->out == "out\n");
  CHECK(r->err == "err\n");

  Command cat;
  cat.argv = {"cat"};
  cat.stdin_data = std::string("binary\0data\nline two\n", 21);
  cat.deadline = Deadline::In(Duration(20000));
  auto c = e->Run(cat, CancelToken::None());
  REQUIRE(c.ok());
  CHECK(c->ok());
  CHECK(c->out == cat.stdin_data);

  Command env;
  env.argv = {"sh", "-c", "printf %s \"$GREETING\""};
  env.env = {{"GREETING", "hello there; $(not run)"}};
  env.deadline = Deadline::In(Duration(20000));
  auto v = e->Run(env, CancelToken::None());
  REQUIRE(v.ok());
  CHECK(v->out == "hello there; $(not run)");

  auto big = RunArgv(e.get(), {"head", "-c", "3000000", "/dev/zero"});
  REQUIRE(big.ok());
  CHECK(big->out.size() == 3000000);

  auto sig = RunArgv(e.get(), {"sh", "-c", "kill -TERM $$"});
  REQUIRE(sig.ok());
  CHECK(sig->term_signal == SIGTERM);
  CHECK_FALSE(sig->ok());

  for (int i = 0; i < 10; ++i) {
    auto t = RunArgv(e.get(), {"true"});
    REQUIRE(t.ok());
    CHECK(t->ok());
  }
  CHECK(e->connections_opened() == 1);

  // Concurrent commands each get a connection of their own.
  std::vector<std::future<Result<ProcessResult>>> parallel;
  for (int i = 0; i < 4; ++i) {
    parallel.push_back(std::async(std::launch::async, [&, i] {
      return RunArgv(e.get(), {"sh", "-c", "sleep 0.3; echo " + std::to_string(i)});
    }));
  }
  for (int i = 0; i < 4; ++i) {
    auto p = parallel[i].get();
    REQUIRE(p.ok());
    CHECK(p->out == std::to_string(i) + "\n");
  }
  CHECK(e->connections_opened() <= 4);
}

TEST_CASE("ssh executor: output streams in while the command runs", "[ssh]") {
  TestSshd sshd;
  auto e = OpenOrFail(sshd, Options(sshd));
  testing::CheckOutputStreams(e.get());
}

TEST_CASE("ssh executor: deadlines and cancellation end a command; the executor goes on", "[ssh]") {
  TestSshd sshd;
  auto e = OpenOrFail(sshd, Options(sshd));
  auto started = Clock::now();
  auto r = RunArgv(e.get(), {"sleep", "30"}, Duration(800));
  REQUIRE(r.ok());
  CHECK(r->timed_out);
  CHECK(r->Describe().find("timed out") == 0);
  CHECK(Clock::now() - started < Duration(5000));
  auto after = RunArgv(e.get(), {"echo", "still here"});
  REQUIRE(after.ok());
  CHECK(after->out == "still here\n");
}

TEST_CASE("ssh executor: hostile words reach the remote command verbatim", "[ssh]") {
  TestSshd sshd;
  auto e = OpenOrFail(sshd, Options(sshd));
  TempDir scratch("harness-hostile");
  const std::string marker = scratch.path() + "/pwned";
  const std::vector<std::string> hostile = {
      "; touch " + marker,
      "$(touch " + marker + ")",
      "`touch " + marker + "`",
      "' ; touch " + marker + " ; '",
      "\" ; touch " + marker + " ; \"",
      "a\ntouch " + marker,
      "| touch " + marker,
      "&& touch " + marker,
      "> " + marker,
      "${IFS}touch${IFS}" + marker,
      "$HOME ~ * ? [a] {a,b} \\",
      "ünïcødé 😀 \xe2\x80\x8b",
      "-n",
      "--",
      "",
      "trailing\\",
      "'",
  };
  std::vector<std::string> argv = {"printf", "[%s]\\n"};
  argv.insert(argv.end(), hostile.begin(), hostile.end());
  auto r = RunArgv(e.get(), argv);
  REQUIRE(r.ok());
  CHECK(r->ok());
  std::string expected;
  for (const auto& h : hostile) expected += "[" + h + "]\n";
  CHECK(r->out == expected);
  CHECK_FALSE(fs::exists(marker));

  // The same through the environment, and as the values of a recipe-style label.
  Command env;
  env.argv = {"sh", "-c", "printf '%s' \"$VALUE\""};
  for (const auto& h : hostile) {
    env.deadline = Deadline::In(Duration(20000));   // each command its own budget: a busy host is slow
    env.env = {{"VALUE", h}};
    auto v = e->Run(env, CancelToken::None());
    REQUIRE(v.ok());
    CHECK(v->out == h);
  }
  CHECK_FALSE(fs::exists(marker));
}

TEST_CASE("ssh executor: a dropped connection is replaced; a command cut off midway fails as infra", "[ssh]") {
  TestSshd sshd;
  auto e = OpenOrFail(sshd, Options(sshd));
  REQUIRE(RunArgv(e.get(), {"true"})->ok());
  REQUIRE(sshd.KillSessions() > 0);
  // The idle connection is dead; the next command finds out and reconnects.
  auto r = RunArgv(e.get(), {"echo", "reconnected"});
  REQUIRE(r.ok());
  CHECK(r->out == "reconnected\n");
  CHECK(e->connections_opened() == 2);

  auto cut = std::async(std::launch::async, [&] { return RunArgv(e.get(), {"sh", "-c", "echo started; sleep 20"}); });
  // Wait until the command runs on the server (its sleep is a child of a session).
  Deadline until = Deadline::In(Duration(10000));
  bool running = false;
  while (!running && !until.passed()) {
    LocalExecutor local;
    auto p = RunArgv(&local, {"pgrep", "-f", "^sleep 20$"});
    running = p.ok() && p->ok();
    if (!running) std::this_thread::sleep_for(Duration(20));
  }
  REQUIRE(running);
  sshd.KillSessions();
  auto lost = cut.get();
  REQUIRE_FALSE(lost.ok());
  CHECK(lost.status().code() == Status::Code::kInfra);
  CHECK(lost.status().message().find("connection lost while running `sh -c") != std::string::npos);
  auto next = RunArgv(e.get(), {"echo", "teardown"});
  REQUIRE(next.ok());
  CHECK(next->out == "teardown\n");
  LocalExecutor local;
  // Only in case the killed session left it running: usually there is nothing to kill.
  RunArgv(&local, {"pkill", "-f", "^sleep 20$"}).IgnoreError();
}

TEST_CASE("ssh executor: host key, credential and address errors are clear and refuse", "[ssh]") {
  TestSshd sshd;
  auto target = ParseTarget(sshd.target());
  REQUIRE(target.ok());

  SshOptions wrong_host = Options(sshd);
  wrong_host.known_hosts = sshd.wrong_known_hosts();
  wrong_host.accept_new_host_key = true;  // never overrides a changed key
  auto mismatch = SshExecutor::Open(*target, wrong_host);
  REQUIRE_FALSE(mismatch.ok());
  CHECK(mismatch.status().code() == Status::Code::kInfra);
  CHECK(mismatch.status().message().find("the host key has CHANGED") != std::string::npos);
  CHECK(mismatch.status().message().find("SHA256:") != std::string::npos);

  TempDir home("harness-known");
  SshOptions unknown = Options(sshd);
  unknown.known_hosts = home.path() + "/ssh/known_hosts";
  auto refused = SshExecutor::Open(*target, unknown);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("unknown host key ssh-ed25519 SHA256:") != std::string::npos);
  CHECK(refused.status().message().find("--accept-new-host-key") != std::string::npos);
  CHECK_FALSE(fs::exists(unknown.known_hosts));

  unknown.accept_new_host_key = true;
  auto accepted = SshExecutor::Open(*target, unknown);
  REQUIRE(accepted.ok());
  CHECK(Slurp(unknown.known_hosts).find("[127.0.0.1]:" + std::to_string(sshd.port()) + " ssh-ed25519 ") == 0);
  unknown.accept_new_host_key = false;
  auto known_now = SshExecutor::Open(*target, unknown);
  CHECK(known_now.ok());

  SshOptions stranger = Options(sshd);
  stranger.identity_file = sshd.stranger_key();
  auto denied = SshExecutor::Open(*target, stranger);
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.status().message().find("did not accept the key " + sshd.stranger_key() + " for user 'root'") !=
        std::string::npos);

  SshOptions missing = Options(sshd);
  missing.identity_file = home.path() + "/no-such-key";
  auto unreadable = SshExecutor::Open(*target, missing);
  REQUIRE_FALSE(unreadable.ok());
  CHECK(unreadable.status().message().find("cannot read the key file") != std::string::npos);

  auto closed = ParseTarget("ssh://root@127.0.0.1:1");
  REQUIRE(closed.ok());
  auto unreachable = SshExecutor::Open(*closed, Options(sshd));
  REQUIRE_FALSE(unreachable.ok());
  CHECK(unreachable.status().message() == "ssh://root@127.0.0.1:1: cannot reach the host: Connection refused");
}

TEST_CASE("ssh executor: keys from ssh-agent", "[ssh]") {
  TestSshd sshd;
  std::string sock = sshd.dir() + "/agent.sock";
  std::vector<std::string> args = {"/usr/bin/ssh-agent", "-D", "-a", sock};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t agent = -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  REQUIRE(posix_spawn(&agent, argv[0], &fa, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&fa);
  struct Stop {
    pid_t pid;
    ~Stop() {
      kill(pid, SIGTERM);
      int st;
      waitpid(pid, &st, 0);
      unsetenv("SSH_AUTH_SOCK");
    }
  } stop{agent};
  Deadline up = Deadline::In(Duration(10000));
  while (!fs::exists(sock) && !up.passed()) std::this_thread::sleep_for(Duration(10));
  REQUIRE(fs::exists(sock));
  LocalExecutor local;
  Command add;
  add.argv = {"ssh-add", sshd.client_key()};
  add.env = {{"SSH_AUTH_SOCK", sock}};
  add.deadline = Deadline::In(Duration(10000));
  auto added = local.Run(add, CancelToken::None());
  REQUIRE(added.ok());
  REQUIRE(added->ok());
  setenv("SSH_AUTH_SOCK", sock.c_str(), 1);
  SshOptions o = Options(sshd);
  o.identity_file.clear();
  auto e = OpenOrFail(sshd, o);
  auto r = RunArgv(e.get(), {"echo", "via agent"});
  REQUIRE(r.ok());
  CHECK(r->out == "via agent\n");
}

TEST_CASE("ssh executor: shared folders and tunnels", "[ssh]") {
  TestSshd sshd;
  auto e = OpenOrFail(sshd, Options(sshd));
  TempDir local("harness-share");
  fs::create_directories(local.path() + "/sub");
  std::ofstream(local.path() + "/0-compose.yml") << "services: {}\n";
  std::ofstream(local.path() + "/sub/it's here.conf") << "key=value\n";
  auto shared = e->Share(local.path(), Deadline::In(Duration(20000)), CancelToken::None());
  REQUIRE(shared.ok());
  CHECK(*shared != local.path());
  CHECK(Slurp(*shared + "/0-compose.yml") == "services: {}\n");  // loopback: the same filesystem
  CHECK(Slurp(*shared + "/sub/it's here.conf") == "key=value\n");
  e->Unshare(*shared, Deadline::In(Duration(20000)));
  CHECK_FALSE(fs::exists(*shared));

  // A tunnel to a listener that only the target would need to reach.
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(listener, 4) == 0);
  socklen_t len = sizeof a;
  getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  std::thread server([&] {
    int c = accept(listener, nullptr, nullptr);
    char buf[64];
    ssize_t n = read(c, buf, sizeof buf);
    std::string reply = "pong:" + std::string(buf, n > 0 ? n : 0);
    (void)!write(c, reply.data(), reply.size());
    close(c);
  });
  auto forward = e->Forward("127.0.0.1", port, Deadline::In(Duration(10000)));
  REQUIRE(forward.ok());
  REQUIRE(*forward > 0);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in f{};
  f.sin_family = AF_INET;
  f.sin_port = htons(*forward);
  f.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&f), sizeof f) == 0);
  REQUIRE(write(fd, "ping", 4) == 4);
  std::string got;
  char buf[64];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) got.append(buf, n);
  close(fd);
  server.join();
  close(listener);
  CHECK(got == "pong:ping");

  auto refused = e->Forward("127.0.0.1", 1, Deadline::In(Duration(10000)));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == Status::Code::kFailed);
  CHECK(refused.status().message().find("cannot connect to 127.0.0.1:1 from " + sshd.target()) == 0);
}

}  // namespace
}  // namespace harness
