// Nothing from a pull request runs on the harness host: its `.gitattributes` filters and
// LFS attributes, its submodules (an `ext::` address among them), the operator's hooks and
// its `abra.sh` are neither run nor fetched when the harness takes its head, even with a
// user git configuration that would run all of them; and no path of its compose files
// leaves the checkout (a symlink out, `..` in a config's `file:`, `env_file`, `extends`).
//
// Each "not run" is checked against a control: plain git, with the same configuration,
// does run what the harness did not, so a marker file missing proves something.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>

#include "base/temp_dir.h"
#include "exec/local_executor.h"
#include "support/e2e.h"
#include "support/git_fixture.h"

namespace harness::testing {
namespace {

namespace fs = std::filesystem;

std::string Compose(const std::string& page, const std::string& extra = "", const std::string& top = "") {
  return "version: \"3.8\"\n"
         "services:\n"
         "  app:\n"
         "    image: recipe-harness/busybox:1\n"
         "    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM INT; echo " + page +
         " > /www/index.html; httpd -f -p 8080 -h /www & wait\"]\n"
         "    healthcheck:\n"
         "      test: [\"CMD\", \"wget\", \"-q\", \"-O-\", \"http://127.0.0.1:8080/\"]\n"
         "      interval: 1s\n"
         "      retries: 3\n"
         "    deploy:\n"
         "      endpoint_mode: dnsrr\n" +
         extra + top;
}

// A recipe `gitsafe` whose files live in a local bare repository: release 1.0.0+1, and
// pull request heads pushed to refs/pull/N/head. Its script checks the page for `want`.
struct Fixture {
  TempDir tmp{"harness-git-safety"};
  GitFixture repo{tmp.path() + "/git"};
  std::string recipes = tmp.path() + "/recipes";
  std::string state = tmp.path() + "/state";
  std::string artifacts = tmp.path() + "/artifacts";

  explicit Fixture(const std::string& want) {
    repo.Write("compose.yml", Compose("release"));
    repo.Commit("release");
    repo.Tag("1.0.0+1");
    repo.Push();
    fs::create_directories(recipes + "/gitsafe");
    std::ofstream(recipes + "/gitsafe/recipe.lua")
        << "return recipe {\n"
           "  source = { git = \"" << repo.url() << "\" },\n"
           "  tests = { { \"serves the page\", function()\n"
           "      local r = http.get(\"http://app:8080/\")\n"
           "      expect.contains(r.body, \"" << want << "\", \"page\")\n"
           "    end } },\n"
           "}\n";
  }

  // Commits what the work tree holds now (and `gitlinks`: path → commit), pushes it as
  // pull request `pr`'s head and puts the work tree back at the release.
  std::string PullHead(int pr, const std::vector<std::pair<std::string, std::string>>& gitlinks = {}) {
    repo.Git({"add", "-A"});
    for (const auto& [path, commit] : gitlinks) {
      repo.Git({"update-index", "--add", "--cacheinfo", "160000," + commit + "," + path});
    }
    repo.Git({"-c", "user.name=Test", "-c", "user.email=test@example.invalid", "commit", "--quiet", "-m",
              "pull request " + std::to_string(pr)});
    std::string sha = repo.Head();
    repo.Git({"push", "--quiet", "--force", "origin", "HEAD:refs/pull/" + std::to_string(pr) + "/head"});
    repo.Git({"reset", "--quiet", "--hard", "1.0.0+1"});
    repo.Git({"clean", "--quiet", "-fdx"});
    return sha;
  }

  // `harness run gitsafe --commit <sha>` with `env` added to its environment.
  HarnessResult RunHead(const std::string& sha, const std::vector<std::pair<std::string, std::string>>& env = {}) {
    Command c;
    c.argv = {HarnessBinary(), "--state", state, "--recipes", recipes, "--artifacts", artifacts, "--plain",
              "run", "gitsafe", "--commit", sha};
    c.env = env;
    c.deadline = Deadline::In(Duration(300000));
    auto r = LocalExecutor().Run(c, CancelToken::None());
    REQUIRE(r.ok());
    HarnessResult h;
    h.exit_code = r->timed_out ? -1 : r->exit_code;
    h.out = r->out;
    h.err = r->err;
    auto at = h.err.find("namespace ");
    if (at != std::string::npos) h.namespace_name = h.err.substr(at + 10, h.err.find_first_of(",\n", at) - at - 10);
    return h;
  }
};

std::vector<std::string> Markers(const std::string& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(dir)) found.push_back(e.path().filename().string());
  std::sort(found.begin(), found.end());
  return found;
}

TEST_CASE("git safety: a pull request's filters, LFS, submodules, abra.sh and the operator's hooks do not run",
          "[git-safety]") {
  Fixture f("head-safe");
  const std::string markers = f.tmp.path() + "/markers";
  const std::string home = f.tmp.path() + "/home";
  fs::create_directories(markers);
  fs::create_directories(home + "/hooks");
  // An operator's user configuration as git-lfs and a taste for hooks leave it: a
  // smudge filter for every file, LFS's, hooks, and the ext:: transport allowed.
  auto touch = [&](const std::string& name) { return "touch " + markers + "/" + name; };
  std::ofstream(home + "/.gitconfig") << "[filter \"evil\"]\n"
                                         "\tsmudge = \"sh -c '" << touch("filter-ran") << "; cat'\"\n"
                                         "\tclean = cat\n"
                                         "[filter \"lfs\"]\n"
                                         "\tsmudge = \"sh -c '" << touch("lfs-ran") << "; cat'\"\n"
                                         "\tclean = cat\n"
                                         "[core]\n"
                                         "\thooksPath = " << home << "/hooks\n"
                                         "[protocol \"ext\"]\n"
                                         "\tallow = always\n";
  for (const char* hook : {"post-checkout", "reference-transaction", "post-merge", "post-rewrite"}) {
    std::string path = home + "/hooks/" + hook;
    std::ofstream(path) << "#!/bin/sh\n" << touch(std::string("hook-") + hook) << "\n";
    fs::permissions(path, fs::perms::owner_all);
  }

  // The head: its page, filter and LFS attributes on every file, a submodule whose
  // address runs a command, and an abra.sh with a command beside its export.
  f.repo.Write("compose.yml", Compose("head-safe"));
  f.repo.Write(".gitattributes", "* filter=evil\n*.yml filter=lfs diff=lfs merge=lfs -text\n");
  f.repo.Write(".gitmodules", "[submodule \"vendor\"]\n\tpath = vendor\n\turl = ext::sh -c touch% " + markers +
                                  "/ext-ran\n");
  f.repo.Write("abra.sh", "#!/usr/bin/env bash\nexport APP_CONF_VERSION=v1\n" + touch("abra-ran") + "\n");
  std::string release = f.repo.Head();
  std::string head = f.PullHead(31, {{"vendor", release}});

  HarnessResult r = f.RunHead(head, {{"HOME", home}, {"XDG_CONFIG_HOME", home}});
  INFO(r.err);
  CHECK(r.exit_code == 0);  // the head's own page, exported as committed
  CHECK_THAT(r.err, Catch::Contains("pass serves the page"));
  CHECK(Markers(markers).empty());
  if (!r.namespace_name.empty()) CHECK_THAT(LeftoversOf(r.namespace_name), NothingLeft());

  // The control: plain git with the same configuration runs the filters, the hooks and
  // the submodule's address.
  const std::string clone = f.tmp.path() + "/control";
  Command c;
  c.argv = {"sh", "-c",
            "git clone --quiet --no-checkout \"$0\" \"$1\" && cd \"$1\" && "
            "git fetch --quiet origin refs/pull/31/head && git checkout --quiet FETCH_HEAD && "
            "{ git submodule --quiet update --init 2>/dev/null; true; }",
            f.repo.url(), clone};
  c.env = {{"HOME", home}, {"XDG_CONFIG_HOME", home}, {"GIT_CONFIG_NOSYSTEM", "1"}};
  c.deadline = Deadline::In(Duration(60000));
  auto control = LocalExecutor().Run(c, CancelToken::None());
  REQUIRE(control.ok());
  INFO(control->err);
  CHECK(control->ok());
  auto ran = Markers(markers);
  std::string listed;
  for (const auto& m : ran) listed += m + " ";
  INFO("plain git ran: " << listed);
  for (const char* m : {"filter-ran", "lfs-ran", "hook-post-checkout", "ext-ran"}) {
    CHECK(std::find(ran.begin(), ran.end(), m) != ran.end());
  }
  CHECK(std::find(ran.begin(), ran.end(), "abra-ran") == ran.end());
}

TEST_CASE("git safety: a pull request's paths out of the checkout are refused before anything is created",
          "[git-safety]") {
  Fixture f("release");
  struct Head {
    std::string what;
    std::function<void(GitFixture&)> write;
    std::vector<std::string> named;  // what the refusal must name
  };
  const std::string configs =
      "    configs:\n"
      "      - source: app_conf\n"
      "        target: /etc/app.conf\n";
  std::vector<Head> heads = {
      {"a symlink to /etc/passwd as a config's file",
       [&](GitFixture& g) {
         g.Write("compose.yml", Compose("head", configs, "configs:\n  app_conf:\n    file: ./app.conf\n"));
         fs::create_symlink("/etc/passwd", g.work() + "/app.conf");
       },
       {"configs.app_conf.file", "./app.conf (resolves to /etc/passwd)"}},
      {"a folder symlink that climbs out",
       [&](GitFixture& g) {
         g.Write("compose.yml", Compose("head", configs, "configs:\n  app_conf:\n    file: ./up/etc/hostname\n"));
         fs::create_symlink("../../../../../../../../..", g.work() + "/up");
       },
       {"configs.app_conf.file", "./up/etc/hostname (resolves to /etc/hostname)"}},
      {"`..` in a config's file",
       [&](GitFixture& g) {
         g.Write("compose.yml",
                 Compose("head", configs, "configs:\n  app_conf:\n    file: ../../../../../../../../etc/hostname\n"));
       },
       {"configs.app_conf.file", "../etc/hostname"}},
      {"`..` in env_file",
       [&](GitFixture& g) {
         g.Write("compose.yml", Compose("head", "    env_file: ../../../../../../../../etc/environment\n"));
       },
       {"service app", "env_file", "../etc/environment"}},
      {"`..` in extends",
       [&](GitFixture& g) {
         g.Write("compose.yml", Compose("head", "    extends:\n      file: ../../../../../../../../etc/compose.yml\n"
                                                "      service: app\n"));
       },
       {"service app", "extends", "../etc/compose.yml"}},
  };
  int pr = 40;
  for (const auto& h : heads) {
    h.write(f.repo);
    std::string sha = f.PullHead(++pr);
    HarnessResult r = f.RunHead(sha);
    INFO(h.what << "\n" << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("refused by the compose policy") && Catch::Contains("path-outside-recipe"));
    for (const auto& n : h.named) CHECK_THAT(r.err, Catch::Contains(n));
    CHECK_THAT(r.err, !Catch::Contains("deploy started"));
    if (!r.namespace_name.empty()) CHECK_THAT(LeftoversOf(r.namespace_name), NothingLeft());
  }
}

}  // namespace
}  // namespace harness::testing
