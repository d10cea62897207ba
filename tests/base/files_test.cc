#include "base/files.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "base/temp_dir.h"

namespace harness {
namespace {

TEST_CASE("WriteFileAtomic replaces a file that ReadFile reads back", "[files]") {
  TempDir dir("files-test");
  REQUIRE_FALSE(dir.path().empty());
  const std::string path = dir.path() + "/a.json";
  const std::string bytes("one\0two\r\n", 9);
  REQUIRE(WriteFileAtomic(path, bytes).ok());
  auto read = ReadFile(path);
  REQUIRE(read.ok());
  CHECK(*read == bytes);
  REQUIRE(WriteFileAtomic(path, "new").ok());
  CHECK(*ReadFile(path) == "new");
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_CASE("ReadFile tells a missing file from an empty one", "[files]") {
  TempDir dir("files-test");
  auto missing = ReadFile(dir.path() + "/none");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Status::Code::kNotFound);
  CHECK(missing.status().message().find(dir.path() + "/none") != std::string::npos);
  REQUIRE(WriteFileAtomic(dir.path() + "/empty", "").ok());
  auto empty = ReadFile(dir.path() + "/empty");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
}

TEST_CASE("WriteFileAtomic fails where it cannot write", "[files]") {
  TempDir dir("files-test");
  Status s = WriteFileAtomic(dir.path() + "/no/such/folder/x", "x");
  CHECK(s.code() == Status::Code::kInfra);
  CHECK(s.message().find("No such file") != std::string::npos);   // says why
}

TEST_CASE("WriteFileAtomic creates the file with the mode it is given", "[files]") {
  TempDir dir("files-test");
  const std::string path = dir.path() + "/secrets.json";
  REQUIRE(WriteFileAtomic(path, "{}", 0600).ok());
  auto perms = std::filesystem::status(path).permissions();
  CHECK((perms & std::filesystem::perms::group_all) == std::filesystem::perms::none);
  CHECK((perms & std::filesystem::perms::others_all) == std::filesystem::perms::none);
  CHECK((perms & std::filesystem::perms::owner_read) != std::filesystem::perms::none);
}

}  // namespace
}  // namespace harness
