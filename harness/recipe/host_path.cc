#include "recipe/host_path.h"

#include <deque>
#include <filesystem>
#include <system_error>
#include <vector>

#include "base/strings.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> Components(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::string Parent(const std::string& absolute) {
  auto slash = absolute.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : absolute.substr(0, slash);
}

}  // namespace

std::string LexicalPath(const std::string& path) {
  bool absolute = !path.empty() && path[0] == '/';
  std::vector<std::string> parts;
  for (const auto& c : Components(path)) {
    if (c == ".") continue;
    if (c != "..") {
      parts.push_back(c);
    } else if (!parts.empty() && parts.back() != "..") {
      parts.pop_back();
    } else if (!absolute) {
      parts.push_back("..");  // above a relative path's start; above "/" is "/"
    }
  }
  std::string joined = Join(parts, "/");
  if (absolute) return "/" + joined;
  return joined.empty() ? "." : joined;
}

bool IsWithin(const std::string& path, const std::string& folder) {
  if (folder == "/") return !path.empty() && path[0] == '/';
  return path == folder || path.rfind(folder + "/", 0) == 0;
}

bool ReachesDockerSocket(const std::string& path) {
  for (const char* socket : {"/var/run/docker.sock", "/run/docker.sock"}) {
    if (IsWithin(socket, path)) return true;  // the socket, or a folder above it
  }
  if (path.size() >= 12 && path.compare(path.size() - 12, 12, "/docker.sock") == 0) return true;
  // A rootless daemon listens in its user's runtime folder: /run/user/<uid>/docker.sock.
  for (const char* runtime : {"/run/user", "/var/run/user"}) {
    if (path == runtime) return true;
    std::string prefix = std::string(runtime) + "/";
    if (path.rfind(prefix, 0) == 0 && path.find('/', prefix.size()) == std::string::npos) return true;
  }
  return IsWithin(path, "/proc");
}

bool ClimbsOut(const std::string& rel) { return rel == ".." || rel.rfind("../", 0) == 0; }

std::string ResolveHere(const std::string& base, const std::string& path) {
  std::string start = !path.empty() && path[0] == '/' ? path : base + "/" + path;
  std::deque<std::string> todo;
  for (const auto& c : Components(start)) todo.push_back(c);
  std::string current = "/";
  int links = 0;
  while (!todo.empty()) {
    std::string c = todo.front();
    todo.pop_front();
    if (c == ".") continue;
    if (c == "..") {
      current = Parent(current);
      continue;
    }
    std::string next = current;
    if (next != "/") next += '/';
    next += c;
    std::error_code ec;
    fs::file_status st = fs::symlink_status(next, ec);
    if (ec || !fs::is_symlink(st)) {
      current = next;  // a real folder or file, or nothing yet: taken as written
      continue;
    }
    if (++links > 40) return "";  // as the kernel's ELOOP
    fs::path target = fs::read_symlink(next, ec);
    if (ec) return "";
    std::vector<std::string> more = Components(target.string());
    todo.insert(todo.begin(), more.begin(), more.end());
    if (target.is_absolute()) current.assign(1, '/');  // (not = "/": GCC 12 warns falsely)
  }
  return current;
}

}  // namespace harness
