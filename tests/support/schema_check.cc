#include "support/schema_check.h"

#include "exec/local_executor.h"
#include "support/e2e.h"

namespace harness::testing {

std::string ValidateArtifacts(const std::string& dir) {
  LocalExecutor exec;
  Command cmd;
  cmd.argv = {"/usr/bin/python3", SourceDir() + "/tests/schema/validate.py", dir};
  cmd.deadline = Deadline::In(Duration(120000));
  auto r = exec.Run(cmd, CancelToken::None());
  if (!r.ok()) return "could not run " + QuoteArgv(cmd.argv) + ": " + r.status().message();
  if (r->ok()) return "";
  return QuoteArgv(cmd.argv) + ": " + r->Describe() + "\n" + r->out + r->err;
}

}  // namespace harness::testing
