#include "base/redact.h"

#include <catch2/catch.hpp>

#include "proof/phase_log.h"

namespace harness {
namespace {

TEST_CASE("known secret values are replaced everywhere", "[redact]") {
  Redactor r;
  r.Add("db_password", "hunter2hunter2");
  r.Add("short", "abc");  // too short to redact safely
  CHECK(r.Apply("pw=hunter2hunter2; again hunter2hunter2") ==
        "pw=[redacted:db_password]; again [redacted:db_password]");
  CHECK(r.Apply("abc stays") == "abc stays");
}

TEST_CASE("proof packets are redacted", "[redact]") {
  Redactor r;
  r.Add("token", "s3cr3tvalue123");
  PhaseLog log(1, "deploy", &r);
  Command cmd;
  cmd.argv = {"docker", "secret", "create", "x", "-"};
  cmd.stdin_data = "s3cr3tvalue123";
  ProcessResult res;
  res.exit_code = 1;
  res.err = "error: s3cr3tvalue123 rejected";
  log.RecordCommand(cmd, res);
  log.Observe("note", "value s3cr3tvalue123");
  log.Finish(Status::Failed("failed with s3cr3tvalue123"));
  std::string text = log.ToJson().dump();
  CHECK(text.find("s3cr3tvalue123") == std::string::npos);
  CHECK(text.find("[redacted:token]") != std::string::npos);
  CHECK(log.FileName() == "01-deploy.json");
}

}  // namespace
}  // namespace harness
