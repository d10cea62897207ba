// Host paths judged lexically (bind sources on the node) and where they really are on this
// machine (files the deploy reads here).
#include "recipe/host_path.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "base/temp_dir.h"

namespace harness {
namespace {

namespace fs = std::filesystem;

TEST_CASE("host paths are normalised lexically", "[policy]") {
  CHECK(LexicalPath("//var/run/../run/docker.sock") == "/var/run/docker.sock");
  CHECK(LexicalPath("/var/run/") == "/var/run");
  CHECK(LexicalPath("/../..") == "/");
  CHECK(LexicalPath("a/../../b") == "../b");
  CHECK(LexicalPath("./x/./y/") == "x/y");
  CHECK(LexicalPath("") == ".");
  CHECK(LexicalPath("a/..") == ".");
  CHECK(ClimbsOut(".."));
  CHECK(ClimbsOut("../x"));
  CHECK_FALSE(ClimbsOut("..x"));
  CHECK_FALSE(ClimbsOut("x/y"));
  CHECK(ReachesDockerSocket("/"));
  CHECK(ReachesDockerSocket("/run/user/1000"));
  CHECK_FALSE(ReachesDockerSocket("/run/user/1000/app"));
  CHECK_FALSE(ReachesDockerSocket("/srv/docker.socket"));
  CHECK_FALSE(ReachesDockerSocket("/var/lib"));
  CHECK(IsWithin("/a/b", "/a"));
  CHECK(IsWithin("/a", "/a"));
  CHECK_FALSE(IsWithin("/ab", "/a"));
  CHECK(IsWithin("/x", "/"));
}

TEST_CASE("ResolveHere follows links as the kernel would", "[policy]") {
  TempDir dir("resolve-here");
  std::string root = fs::canonical(dir.path()).string();
  fs::create_directories(root + "/recipe/sub");
  fs::create_symlink("sub", root + "/recipe/link");         // relative, inside
  fs::create_symlink("/etc", root + "/recipe/etc");         // absolute, outside
  fs::create_symlink("../..", root + "/recipe/sub/up");     // climbs out
  fs::create_symlink("loop2", root + "/recipe/loop1");
  fs::create_symlink("loop1", root + "/recipe/loop2");
  CHECK(ResolveHere(root + "/recipe", "link/x") == root + "/recipe/sub/x");
  CHECK(ResolveHere(root + "/recipe", "etc/passwd") == "/etc/passwd");
  CHECK(ResolveHere(root + "/recipe", "sub/up/other") == root + "/other");
  CHECK(ResolveHere(root + "/recipe", "missing/../../x") == root + "/x");
  CHECK(ResolveHere(root + "/recipe", "/abs/./y") == "/abs/y");
  CHECK(ResolveHere(root + "/recipe", "loop1") == "");
}

}  // namespace
}  // namespace harness
