#include "warm/promote.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "base/files.h"
#include "base/temp_dir.h"

namespace harness {
namespace {

TEST_CASE("promotion requests: appended one line each; refused names and unwritable state say so", "[warm]") {
  TempDir dir("promote-request");
  const std::string state = dir.path() + "/state";
  REQUIRE(RequestPromotion(state, "web", "1.1.0+1").ok());
  REQUIRE(RequestPromotion(state, "web", "1.2.0+1").ok());
  auto text = ReadFile(state + "/warm/web.wanted");
  REQUIRE(text.ok());
  CHECK(*text == "1.1.0+1\n1.2.0+1\n");

  Status bad = RequestPromotion(state, "../web", "1.0.0");
  CHECK(bad.code() == Status::Code::kInvalidArgument);
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/web.wanted"));

  const std::string file_state = dir.path() + "/not-a-folder";
  std::ofstream(file_state) << "x\n";
  Status unwritable = RequestPromotion(file_state, "web", "1.0.0");
  CHECK(unwritable.code() == Status::Code::kInfra);
  CHECK_THAT(unwritable.message(), Catch::Contains(file_state + "/warm"));
}

}  // namespace
}  // namespace harness
