#include "source/git.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>

#include "base/strings.h"
#include "base/temp_dir.h"
#include "exec/executor.h"
#include "recipe/releases.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

constexpr Duration kFetch{300000};
constexpr Duration kLocal{60000};

// FNV-1a of the address, as 16 hex digits: a stable folder name for any address.
std::string Key(const std::string& url) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : url) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (int i = 60; i >= 0; i -= 4) out += kHex[(h >> i) & 0xf];
  return out;
}

// An exclusive flock on a file beside the mirror for as long as it lives.
class FileLock {
 public:
  explicit FileLock(const std::string& path) : fd_(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_ >= 0) {
      while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
    }
  }
  ~FileLock() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

}  // namespace

bool IsCommitId(const std::string& text) {
  return text.size() == 40 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

GitCache::GitCache(std::string dir, Executor* local) : dir_(std::move(dir)), local_(local) {}

std::string GitCache::MirrorDir(const GitOrigin& origin) const { return dir_ + "/" + Key(origin.url) + ".git"; }

Result<std::string> GitCache::Git(const GitOrigin& origin, std::vector<std::string> args, Deadline deadline,
                                  const CancelToken& cancel) {
  Command c;
  // No prompts, no hooks, no system or user configuration, no `ext::` transport.
  const std::string verb = args.size() > 2 && args[0] == "--git-dir" ? args[2] : args.empty() ? "" : args[0];
  c.argv = {"git", "-c", "protocol.ext.allow=never", "-c", "core.hooksPath=/dev/null", "-c", "credential.helper="};
  for (auto& a : args) c.argv.push_back(std::move(a));
  c.env = {{"GIT_TERMINAL_PROMPT", "0"}, {"GIT_CONFIG_NOSYSTEM", "1"}, {"GIT_CONFIG_GLOBAL", "/dev/null"},
           {"GIT_ASKPASS", "/bin/false"}, {"SSH_ASKPASS", "/bin/false"}, {"LC_ALL", "C"},
           {"GIT_SSH_COMMAND", "ssh -o BatchMode=yes"}};
  c.deadline = deadline;
  auto r = local_->Run(c, cancel);
  if (!r.ok()) return Status::Infra("git: " + r.status().message());
  if (r->cancelled) return Status::Cancelled("git " + verb + " cancelled");
  if (!r->ok()) {
    std::string err = TrimRight(r->err.empty() ? r->out : r->err);
    if (err.size() > 600) err = err.substr(0, 600) + "…";
    return Status::Infra("git " + verb + " for " + origin.url + ": " + r->Describe() + (err.empty() ? "" : ": " + err));
  }
  return r->out;
}

Status GitCache::Fetch(const GitOrigin& origin, Deadline deadline, const CancelToken& cancel) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Status::Infra("cannot create the git cache " + dir_ + ": " + ec.message());
  std::string mirror = MirrorDir(origin);
  FileLock lock(mirror + ".lock");
  if (!lock.ok()) return Status::Infra("cannot lock " + mirror + ".lock");
  if (!fs::exists(mirror + "/HEAD", ec)) {
    fs::remove_all(mirror, ec);  // a clone cut short
    if (ec) return Status::Infra("cannot remove the unfinished clone " + mirror + ": " + ec.message());
    auto r = Git(origin, {"clone", "--mirror", "--quiet", "--", origin.url, mirror}, deadline.Min(Deadline::In(kFetch)), cancel);
    if (!r.ok()) {
      fs::remove_all(mirror, ec);
      std::string left = ec ? " (the unfinished clone " + mirror + " was not removed: " + ec.message() + ")" : "";
      return r.status().WithMessage("cannot reach the recipe repository: " + r.status().message() + left);
    }
    return Status::Ok();
  }
  auto r = Git(origin, {"--git-dir", mirror, "remote", "update", "--prune"}, deadline.Min(Deadline::In(kFetch)),
               cancel);
  if (!r.ok()) return r.status().WithMessage("cannot reach the recipe repository: " + r.status().message());
  return Status::Ok();
}

Result<std::vector<std::string>> GitCache::Releases(const GitOrigin& origin) {
  auto out = Git(origin, {"--git-dir", MirrorDir(origin), "tag", "--list"}, Deadline::In(kLocal), CancelToken::None());
  if (!out.ok()) return out.status();
  std::vector<std::string> versions;
  size_t start = 0;
  while (start < out->size()) {
    size_t end = out->find('\n', start);
    if (end == std::string::npos) end = out->size();
    std::string tag = out->substr(start, end - start);
    start = end + 1;
    if (ValidateVersion(tag).ok()) versions.push_back(tag);
  }
  std::sort(versions.begin(), versions.end(),
            [](const std::string& a, const std::string& b) { return CompareVersions(a, b) < 0; });
  return versions;
}

Result<std::string> GitCache::Resolve(const GitOrigin& origin, const std::string& ref) {
  if (ref.empty() || ref[0] == '-') return Status::InvalidArgument("not a git reference: '" + ref + "'");
  auto out = Git(origin, {"--git-dir", MirrorDir(origin), "rev-parse", "--verify", "--quiet", ref + "^{commit}"},
                 Deadline::In(kLocal), CancelToken::None());
  if (!out.ok()) return Status::NotFound(origin.url + " has no tag, branch or commit '" + ref + "'");
  return TrimRight(*out);
}

Status GitCache::EnsureCommit(const GitOrigin& origin, const std::string& commit, Deadline deadline,
                              const CancelToken& cancel) {
  if (!IsCommitId(commit)) return Status::InvalidArgument("not a full commit id: '" + commit + "'");
  if (Resolve(origin, commit).ok()) return Status::Ok();
  std::string mirror = MirrorDir(origin);
  FileLock lock(mirror + ".lock");
  auto r = Git(origin, {"--git-dir", mirror, "fetch", "--quiet", "origin", commit}, deadline, cancel);
  if (!r.ok() || !Resolve(origin, commit).ok()) {
    return Status::NotFound(origin.url + " has no commit " + commit + (r.ok() ? "" : ": " + r.status().message()));
  }
  return Status::Ok();
}

Status GitCache::Export(const GitOrigin& origin, const std::string& commit, const std::string& dir) {
  TempDir tmp("git-export");
  if (tmp.path().empty()) return Status::Infra("cannot create a temporary folder");
  std::string tree = commit + (origin.subdir.empty() ? "" : ":" + origin.subdir);
  std::string tar = tmp.path() + "/files.tar";
  auto r = Git(origin, {"--git-dir", MirrorDir(origin), "archive", "--format=tar", "-o", tar, tree},
               Deadline::In(kLocal), CancelToken::None());
  if (!r.ok()) {
    if (!origin.subdir.empty()) {
      return Status::NotFound(origin.url + " has no folder '" + origin.subdir + "' at " + commit.substr(0, 12));
    }
    return r.status();
  }
  Command untar;
  untar.argv = {"tar", "-x", "--no-same-owner", "-f", tar, "-C", dir};
  untar.deadline = Deadline::In(kLocal);
  auto x = local_->Run(untar, CancelToken::None());
  if (!x.ok()) return Status::Infra("tar: " + x.status().message());
  if (!x->ok()) return Status::Infra("cannot extract " + commit.substr(0, 12) + " into " + dir + ": " + TrimRight(x->err));
  return Status::Ok();
}

}  // namespace harness
