#include "recipe/outcome.h"

#include "base/exit_code.h"

namespace harness {

int CombinedExitCode(const std::vector<RunOutcome>& runs) {
  int code = 0;
  for (const auto& r : runs) code = WorseExitCode(code, r.exit_code);
  return code;
}

}  // namespace harness
