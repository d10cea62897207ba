// GitFixture: a local bare repository for tests, filled through a work tree beside it.
//
//   GitFixture repo(dir);              // dir/work (a clone) and dir/repo.git (the bare one)
//   repo.Write("compose.yml", "...");
//   repo.Commit("first");  repo.Tag("1.0.0+1");  repo.Push();
//
// Every git command must succeed (REQUIRE). Single-threaded.
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "exec/local_executor.h"

namespace harness::testing {

class GitFixture {
 public:
  explicit GitFixture(const std::string& root) : root_(root) {
    std::filesystem::create_directories(root_);
    Git({"init", "--quiet", "--bare", "--initial-branch=main", url()}, root_);
    Git({"init", "--quiet", "--initial-branch=main", work()}, root_);
    Git({"remote", "add", "origin", url()});
  }

  std::string url() const { return root_ + "/repo.git"; }
  std::string work() const { return root_ + "/work"; }

  void Write(const std::string& path, const std::string& content) {
    std::filesystem::path p = std::filesystem::path(work()) / path;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << content;
  }
  void Remove(const std::string& path) { std::filesystem::remove(std::filesystem::path(work()) / path); }
  void Commit(const std::string& message) {
    Git({"add", "-A"});
    Git({"-c", "user.name=Test", "-c", "user.email=test@example.invalid", "commit", "--quiet", "--allow-empty", "-m", message});
  }
  void Tag(const std::string& name) { Git({"tag", name}); }
  // Pushes main and every tag (and `extra` refspecs, e.g. "HEAD:refs/pull/7/head").
  void Push(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"push", "--quiet", "--force", "origin", "main", "--tags"};
    for (const auto& e : extra) args.push_back(e);
    Git(args);
  }
  std::string Head() {
    std::string out = Git({"rev-parse", "HEAD"});
    return out.substr(0, 40);
  }
  std::string Git(std::vector<std::string> args, const std::string& cwd = "") {
    Command c;
    c.argv = {"git", "-C", cwd.empty() ? work() : cwd};
    for (auto& a : args) c.argv.push_back(std::move(a));
    c.env = {{"GIT_CONFIG_NOSYSTEM", "1"}, {"GIT_CONFIG_GLOBAL", "/dev/null"}};
    c.deadline = Deadline::In(Duration(60000));
    auto r = LocalExecutor().Run(c, CancelToken::None());
    REQUIRE(r.ok());
    INFO(QuoteArgv(c.argv) << ": " << r->err);
    REQUIRE(r->ok());
    return r->out;
  }

 private:
  std::string root_;
};

}  // namespace harness::testing
