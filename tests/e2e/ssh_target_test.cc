// The harness deploying to the local Swarm through a real OpenSSH server on loopback
// (--target ssh://…): what a remote Swarm manager looks like to it.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/temp_dir.h"
#include "exec/local_executor.h"
#include "support/e2e.h"
#include "support/proxy_standin.h"
#include "support/sshd.h"

namespace harness::testing {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Through(const TestSshd& sshd, const std::string& artifacts, std::vector<std::string> args) {
  std::vector<std::string> all = {"--recipes", FixtureRecipes(), "--artifacts", artifacts, "--plain",
                                  "--target", sshd.target(), "--ssh-key", sshd.client_key(),
                                  "--known-hosts", sshd.known_hosts()};
  all.insert(all.end(), args.begin(), args.end());
  return all;
}

nlohmann::json Summary(const std::string& artifacts) {
  std::ifstream f(artifacts + "/summary.json");
  nlohmann::json j;
  if (f) f >> j;
  return j;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

void RequireNothingLeft(const std::string& ns) {
  REQUIRE_FALSE(ns.empty());
  CHECK_THAT(LeftoversOf(ns), NothingLeft());
  CleanUp(ns);
}

TEST_CASE("ssh target: a recipe passes through the target, another fails; both are torn down", "[ssh]") {
  TestSshd sshd;
  TempDir artifacts("harness-ssh-artifacts");
  auto pass = RunHarness(Through(sshd, artifacts.path(), {"run", "remote"}), Duration(180000));
  INFO(pass.err << "\n" << pass.out);
  CHECK(pass.exit_code == 0);
  auto s = Summary(pass.artifacts);
  CHECK(s["result"] == "passed");
  CHECK(s["teardown"]["verified"] == true);
  // The commands went through sshd, the config file was copied to the target (the page
  // serves it), and the HTTP probe went through a tunnel of the target.
  std::string log = sshd.Log();
  CHECK(Count(log, "Accepted publickey for root") >= 1);
  CHECK(Count(log, "new direct-tcpip") >= 1);
  RequireNothingLeft(pass.namespace_name);
  // The copy of the staging folder on the target is gone.
  bool staged_left = false;
  for (const auto& e : fs::directory_iterator("/tmp")) {
    staged_left = staged_left || e.path().filename().string().rfind("recipe-harness-stage.", 0) == 0;
  }
  CHECK_FALSE(staged_left);

  // doctor checks the target's Docker and Swarm through the connection.
  auto doctor = RunHarness(Through(sshd, artifacts.path(), {"doctor"}), Duration(60000));
  INFO(doctor.out);
  CHECK(doctor.exit_code == 0);
  CHECK_THAT(doctor.out, Catch::Contains("ok    target: " + sshd.target() + ": host key known, key accepted"));
  CHECK_THAT(doctor.out, Catch::Contains("free for Docker on " + sshd.target()));

  auto fail = RunHarness(Through(sshd, artifacts.path(), {"run", "runtime-error"}), Duration(180000));
  INFO(fail.err << "\n" << fail.out);
  CHECK(fail.exit_code == 1);
  CHECK_THAT(fail.out, Catch::Contains("recipes/runtime-error/recipe.lua:9: undefined global 'undefined_helper'"));
  CHECK(Summary(fail.artifacts)["teardown"]["verified"] == true);
  RequireNothingLeft(fail.namespace_name);
}

// A `docker` first on the sessions' PATH that logs each call and runs the real one.
struct DockerShim {
  TempDir dir{"harness-ssh-shim"};
  DockerShim() {
    std::ofstream f(dir.path() + "/docker");
    f << "#!/bin/sh\nprintf '%s\\n' \"$*\" >> " << dir.path() << "/calls\nexec /usr/bin/docker \"$@\"\n";
    f.close();
    fs::permissions(dir.path() + "/docker", fs::perms::owner_all);
  }
  std::string path() const { return dir.path() + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"; }
  std::vector<std::string> Calls() const {
    std::ifstream f(dir.path() + "/calls");
    std::vector<std::string> calls;
    for (std::string line; std::getline(f, line);) calls.push_back(line);
    return calls;
  }
};

nlohmann::json PrepareOf(const HarnessResult& r) {
  std::ifstream f(r.artifacts + "/00-prepare.json");
  nlohmann::json j;
  if (f) f >> j;
  return j["observations"];
}

TEST_CASE("ssh target: everything but the deploy goes through the target's Docker socket, over the connection", "[ssh]") {
  DockerShim shim;
  TestSshdOptions options;
  options.path = shim.path();
  TestSshd sshd(options);
  TempDir artifacts("harness-ssh-artifacts");
  auto r = RunHarness(Through(sshd, artifacts.path(), {"run", "remote"}), Duration(180000));
  INFO(r.err << "\n" << r.out);
  CHECK(r.exit_code == 0);
  // The recipe's secret, its exec, the waits and the teardown started no docker process on
  // the target: the probe of the daemon's ID and the deploy are the two.
  auto calls = shim.Calls();
  REQUIRE(calls.size() == 2);
  CHECK(calls[0] == "info --format {{.ID}}");
  CHECK(calls[1].rfind("stack deploy ", 0) == 0);
  auto prepare = PrepareOf(r);
  CHECK(prepare["observations_via"] == "engine-api");
  CHECK(prepare["docker_api"] == sshd.target() + " unix:///var/run/docker.sock (direct-streamlocal)");
  CHECK(Count(sshd.Log(), "server_request_direct_streamlocal") >= 1);
  RequireNothingLeft(r.namespace_name);
}

TEST_CASE("ssh target: requests by domain reach the target's proxy through the connection", "[ssh]") {
  ProxyStandin proxy;
  TestSshd sshd;
  TempDir artifacts("harness-ssh-artifacts");
  auto r = RunHarness(Through(sshd, artifacts.path(), {"--proxy-ca", proxy.ca_file(), "run", "routed"}),
                      Duration(300000));
  INFO(r.err << "\n" << r.out << "\nstand-in:\n" << proxy.Log());
  CHECK(r.exit_code == 0);
  auto prepare = PrepareOf(r);
  CHECK(prepare["proxy"]["https"] == "127.0.0.1:443");
  CHECK(prepare["proxy"]["http"] == "127.0.0.1:80");
  // The proxy's ports are the target's: reached through tunnels of the SSH connection.
  CHECK_THAT(sshd.Log(), Catch::Contains("target 127.0.0.1 port 443"));
  CHECK_THAT(sshd.Log(), Catch::Contains("target 127.0.0.1 port 80"));
  RequireNothingLeft(r.namespace_name);
}

TEST_CASE("ssh target: a target that forwards no unix socket is driven through its CLI, and says so", "[ssh]") {
  DockerShim shim;
  TestSshdOptions options;
  options.path = shim.path();
  options.stream_local = false;
  TestSshd sshd(options);
  TempDir artifacts("harness-ssh-artifacts");
  auto r = RunHarness(Through(sshd, artifacts.path(), {"run", "remote"}), Duration(180000));
  INFO(r.err << "\n" << r.out);
  CHECK(r.exit_code == 0);
  auto prepare = PrepareOf(r);
  CHECK(prepare["observations_via"] == "docker-cli");
  CHECK_THAT(prepare["docker_api"].get<std::string>(),
             Catch::StartsWith("docker-cli: " + sshd.target() + " does not forward /var/run/docker.sock"));
  auto calls = shim.Calls();
  CHECK(calls.size() > 2);
  bool exec = false;
  for (const auto& c : calls) exec = exec || c.rfind("exec ", 0) == 0;
  CHECK(exec);  // the recipe's exec went through the CLI
  RequireNothingLeft(r.namespace_name);
}

TEST_CASE("ssh target: a connection killed mid-run; teardown completes through a new one", "[ssh]") {
  TestSshd sshd;
  TempDir artifacts("harness-ssh-artifacts");
  HarnessProcess h(Through(sshd, artifacts.path(), {"run", "remote"}));
  // The second test holds `sleep 5` open in the container over SSH: cut it there. Its exec's
  // output ends while Docker still says it runs (checked for DockerApi::kExecSettle, 2 s),
  // so the cut is told from an exit.
  REQUIRE(h.WaitForLine("pass serves the config", Duration(120000)));
  LocalExecutor local;
  Command find;
  find.argv = {"pgrep", "-f", "sleep 5; cat /run/secrets/token"};
  bool running = false;
  Deadline until = Deadline::In(Duration(20000));
  while (!running && !until.passed()) {
    find.deadline = Deadline::In(Duration(5000));
    auto p = local.Run(find, CancelToken::None());
    running = p.ok() && p->ok();
    if (!running) std::this_thread::sleep_for(Duration(20));
  }
  REQUIRE(running);
  size_t accepted_before = Count(sshd.Log(), "Accepted publickey for root");
  REQUIRE(sshd.KillSessions() > 0);
  int rc = h.Wait(Duration(180000));
  INFO(h.err());
  // The cut command's effect is unknown: an infrastructure failure, not the recipe's.
  CHECK(rc == 3);
  CHECK_THAT(h.err(), Catch::Contains("connection lost while running `docker exec"));
  CHECK_THAT(h.err(), Catch::Contains("teardown ok"));
  CHECK(Count(sshd.Log(), "Accepted publickey for root") > accepted_before);
  RequireNothingLeft(h.namespace_name());
}

TEST_CASE("ssh target: host key mismatch, a refused key, an unreachable host: exit 3, nothing deployed",
          "[ssh]") {
  TestSshd sshd;
  TempDir artifacts("harness-ssh-artifacts");
  auto base = [&](std::vector<std::string> extra) {
    std::vector<std::string> all = {"--recipes", FixtureRecipes(), "--artifacts", artifacts.path(), "--plain"};
    all.insert(all.end(), extra.begin(), extra.end());
    all.insert(all.end(), {"run", "pass"});
    return RunHarness(all, Duration(60000));
  };
  auto mismatch = base({"--target", sshd.target(), "--ssh-key", sshd.client_key(), "--known-hosts",
                        sshd.wrong_known_hosts(), "--accept-new-host-key"});
  CHECK(mismatch.exit_code == 3);
  CHECK_THAT(mismatch.err, Catch::Contains(sshd.target() + ": the host key has CHANGED"));

  auto stranger = base({"--target", sshd.target(), "--ssh-key", sshd.stranger_key(), "--known-hosts",
                        sshd.known_hosts()});
  CHECK(stranger.exit_code == 3);
  CHECK_THAT(stranger.err, Catch::Contains("did not accept the key " + sshd.stranger_key()));

  auto unreachable = base({"--target", "ssh://root@127.0.0.1:1", "--ssh-key", sshd.client_key(), "--known-hosts",
                           sshd.known_hosts()});
  CHECK(unreachable.exit_code == 3);
  CHECK_THAT(unreachable.err, Catch::Contains("ssh://root@127.0.0.1:1: cannot reach the host: Connection refused"));

  // doctor reports the same as a finding, in its JSON too.
  auto doctor = RunHarness({"--json", "--target", sshd.target(), "--ssh-key", sshd.client_key(), "--known-hosts",
                            sshd.wrong_known_hosts(), "doctor"},
                           Duration(60000));
  CHECK(doctor.exit_code == 3);
  auto findings = nlohmann::json::parse(doctor.out, nullptr, false);
  REQUIRE(findings.is_object());
  CHECK(findings["findings"][0]["check"] == "target");
  CHECK(findings["findings"][0]["level"] == "fail");
  CHECK_THAT(findings["findings"][0]["detail"].get<std::string>(), Catch::Contains("the host key has CHANGED"));

  for (const auto& r : {mismatch, stranger, unreachable}) {
    CHECK(r.namespace_name.empty());
    CHECK_THAT(r.err, !Catch::Contains("deploy started"));
  }
  CHECK(fs::is_empty(artifacts.path()));
  // No command ran on the server: it never let anyone in.
  CHECK(Count(sshd.Log(), "Accepted publickey") == 0);

  // A malformed or hostile target is a usage error before any connection.
  for (const char* bad : {"ftp://host", "ssh://root@host;touch /tmp/x", "ssh://$(id)@host",
                                 "ssh://root@host:99999", "ssh://-oProxyCommand=x"}) {
    auto r = base({"--target", bad});
    INFO(bad << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("--target"));
  }
}

TEST_CASE("ssh target: hostile recipe names, versions and domains are refused before any command", "[ssh]") {
  TestSshd sshd;
  TempDir artifacts("harness-ssh-artifacts");
  TempDir scratch("harness-hostile");
  std::string marker = scratch.path() + "/pwned";
  size_t sessions_before = Count(sshd.Log(), "session_new");
  for (const std::string& name : std::vector<std::string>{"pass;touch " + marker, "pass$(touch " + marker + ")", "pass`touch " + marker + "`",
                                  "pass' '", "pass\ntouch " + marker, "pässe", "pass@1.0;touch " + marker,
                                  "pass@$(touch " + marker + ")"}) {
    auto r = RunHarness(Through(sshd, artifacts.path(), {"run", name}), Duration(60000));
    INFO(name << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.namespace_name.empty());
  }
  for (const std::string& suffix : std::vector<std::string>{"x;touch " + marker, "$(touch " + marker + ")", "a b"}) {
    auto r = RunHarness(Through(sshd, artifacts.path(), {"--domain-suffix", suffix, "run", "pass"}), Duration(60000));
    INFO(suffix << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("--domain-suffix"));
  }
  CHECK_FALSE(fs::exists(marker));
  // Each run connected (to check the target) but started no command session.
  CHECK(Count(sshd.Log(), "session_new") == sessions_before);
}

}  // namespace
}  // namespace harness::testing
