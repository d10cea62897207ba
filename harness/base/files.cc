#include "base/files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace harness {

Result<std::string> ReadFile(const std::string& path) {
  errno = 0;
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    int err = errno;
    std::string why = err != 0 ? std::strerror(err) : "cannot open";
    if (err == ENOENT) return Status::NotFound("cannot read " + path + ": " + why);
    return Status::Infra("cannot read " + path + ": " + why);
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Status WriteFileAtomic(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return Status::Infra("cannot write " + tmp);
    f << content;
    if (!f.good()) return Status::Infra("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status::Infra("cannot rename " + tmp);
  return Status::Ok();
}

}  // namespace harness
