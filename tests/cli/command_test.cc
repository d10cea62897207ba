#include "cli/command.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <string>

#include "base/temp_dir.h"

using namespace harness;

namespace {

// A subcommand that records which of its steps ran.
class Probe final : public Subcommand {
 public:
  explicit Probe(Status check = Status::Ok()) : check_(std::move(check)) {}
  void AddFlags(CLI::App* /*sub*/) override {}
  Status Check(Context& ctx) override {
    checked = true;
    target_error = ctx.target_error.has_value();
    return check_;
  }
  Status Run(Context& ctx) override {
    ran = true;
    had_docker = ctx.docker != nullptr;
    base_state = ctx.base.state_dir;
    return Status::Failed("");
  }
  bool checked = false, ran = false, target_error = false, had_docker = false;
  std::string base_state;

 private:
  Status check_;
};

CommandEntry Entry(bool needs_target, bool tolerate) {
  return {"probe", "a probe", nullptr, needs_target, false, "", tolerate};
}

GlobalOptions Quiet(const TempDir& state) {
  GlobalOptions g;
  g.quiet = true;
  g.state = state.path();
  return g;
}

}  // namespace

TEST_CASE("the command table names each command once", "[cli]") {
  std::set<std::string> names;
  for (const auto& e : CommandTable()) {
    CHECK(names.insert(e.name).second);
    CHECK(e.make != nullptr);
    CHECK(std::string(e.help).size() > 10);
    // A command that reaps first says what it does not do when the reap fails.
    if (e.reaps_first) CHECK(!std::string(e.reap_refusal).empty());
    // Every command's flags register without clashing.
    CLI::App app;
    auto command = e.make();
    CHECK_NOTHROW(command->AddFlags(app.add_subcommand(e.name, e.help)));
  }
  CHECK(names == std::set<std::string>{"run", "sweep", "serve", "triage", "reap", "report", "promote", "check",
                                      "doctor"});
}

TEST_CASE("dispatch checks before it runs, and a failed check runs nothing", "[cli]") {
  TempDir state("cli-test");
  Probe refused(Status::InvalidArgument("bad name"));
  Status s = Dispatch(Entry(true, false), refused, Quiet(state));
  CHECK(refused.checked);
  CHECK_FALSE(refused.ran);
  CHECK(s.code() == Status::Code::kInvalidArgument);
  CHECK(s.message() == "bad name");

  Probe accepted;
  s = Dispatch(Entry(true, false), accepted, Quiet(state));
  CHECK(accepted.ran);
  CHECK(accepted.had_docker);
  CHECK(accepted.base_state == state.path());
  CHECK(s.code() == Status::Code::kFailed);
}

TEST_CASE("bad global options are usage errors before anything runs", "[cli]") {
  TempDir state("cli-test");
  GlobalOptions g = Quiet(state);
  g.domain_suffix = "no..dots";
  Probe p;
  Status s = Dispatch(Entry(true, false), p, g);
  CHECK_FALSE(p.checked);
  CHECK(s.code() == Status::Code::kInvalidArgument);
  CHECK(s.message().find("--domain-suffix") != std::string::npos);

  g = Quiet(state);
  g.target = "ftp://host";
  s = Dispatch(Entry(true, false), p, g);
  CHECK_FALSE(p.checked);
  CHECK(s.code() == Status::Code::kInvalidArgument);
  CHECK(s.message().find("--target") != std::string::npos);

  for (const std::string proxy : {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", ":443", "host name:443", "a:b"}) {
    INFO(proxy);
    g = Quiet(state);
    g.proxy = proxy;
    s = Dispatch(Entry(true, false), p, g);
    CHECK_FALSE(p.checked);
    CHECK(s.code() == Status::Code::kInvalidArgument);
    CHECK(s.message().find("--proxy: expected host:port") != std::string::npos);
  }
  g = Quiet(state);
  g.proxy_ca = state.path() + "/no-such-ca.pem";
  s = Dispatch(Entry(true, false), p, g);
  CHECK_FALSE(p.checked);
  CHECK(s.code() == Status::Code::kInvalidArgument);
  CHECK(s.message().find("--proxy-ca: no readable file") != std::string::npos);
}

TEST_CASE("an unreachable target refuses, unless the command reports it or needs none", "[cli]") {
  TempDir state("cli-test");
  GlobalOptions g = Quiet(state);
  g.target = "ssh://127.0.0.1:1";  // nothing listens on port 1
  g.ssh.known_hosts = state.path() + "/known_hosts";

  Probe needs;
  Status s = Dispatch(Entry(true, false), needs, g);
  CHECK_FALSE(needs.checked);
  CHECK(s.code() == Status::Code::kInfra);

  Probe reports;
  s = Dispatch(Entry(true, true), reports, g);
  CHECK(reports.checked);
  CHECK(reports.target_error);

  Probe local;
  s = Dispatch(Entry(false, false), local, g);
  CHECK(local.ran);
  CHECK_FALSE(local.target_error);
}

TEST_CASE("a command that reaps first refuses when the reap fails, and runs nothing", "[cli]") {
  TempDir dir("cli-test");
  GlobalOptions g;
  g.quiet = true;
  g.state = dir.path() + "/state";
  {
    std::ofstream(g.state) << "a file where the state folder should be\n";   // the ledger cannot open
  }
  CommandEntry entry{"probe", "a probe", nullptr, false, true, "not deploying", false};
  Probe p;
  Status s = Dispatch(entry, p, g);
  CHECK(p.checked);
  CHECK_FALSE(p.ran);
  CHECK(s.code() == Status::Code::kInfra);
  CHECK_THAT(s.message(), Catch::Contains("leftovers of dead runs could not be removed; not deploying"));
}
