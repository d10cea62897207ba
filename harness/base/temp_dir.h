// TempDir: a private folder under the system temp folder, removed with everything in it
// when the object goes away (a removal that fails is said on stderr). path() is empty
// when it could not be created.
//
// The object owns the folder; moving is not allowed. Thread-safety: one owner thread; path()
// may be read from any thread while the object lives.
#pragma once

#include <string>

namespace harness {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "harness");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace harness
