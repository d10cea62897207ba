// JSON text: strings from outside that are not UTF-8 are written, not thrown on.
#include "base/json_text.h"

#include <catch2/catch.hpp>

#include "base/files.h"
#include "base/temp_dir.h"
#include "proof/phase_log.h"

namespace harness {
namespace {

TEST_CASE("JSON text replaces bytes that are not UTF-8", "[json]") {
  nlohmann::json j = {{"service", "app\xff\xfe"}, {"tail", "half \xc3"}, {"fine", "caf\xc3\xa9"}};
  CHECK_THROWS(j.dump());  // what the writers did before
  std::string text = JsonText(j);
  CHECK(text ==
        "{\"fine\":\"caf\xc3\xa9\",\"service\":\"app\xef\xbf\xbd\xef\xbf\xbd\",\"tail\":\"half "
        "\xef\xbf\xbd\"}");
  CHECK(nlohmann::json::parse(text)["fine"] == "caf\xc3\xa9");
  CHECK(JsonText(nlohmann::json{{"a", 1}}, 2) == "{\n  \"a\": 1\n}");
}

TEST_CASE("a proof packet with a name that is not UTF-8 is written", "[json]") {
  // A compose file may name a service with any bytes; its policy finding reaches the
  // prepare packet as evidence and as the phase's error.
  Redactor r;
  r.Add("db_password", "s3cr3tvalue123");
  PhaseLog log(0, "prepare", &r);
  log.AddEvidence({{"policy_finding", {{"service", "app\xff"}, {"rule", "privileged"}}}});
  log.Finish(Status::InvalidArgument(
      "refused: compose.yml: service app\xff: privileged: true (privileged)"));
  TempDir dir("json-text-test");
  REQUIRE(log.Write(dir.path()).ok());
  auto text = ReadFile(dir.path() + "/00-prepare.json");
  REQUIRE(text.ok());
  auto packet = nlohmann::json::parse(*text);
  CHECK(packet["evidence"][0]["policy_finding"]["service"] == "app\xef\xbf\xbd");
  CHECK(packet["error"] ==
        "refused: compose.yml: service app\xef\xbf\xbd: privileged: true (privileged)");
}

}  // namespace
}  // namespace harness
