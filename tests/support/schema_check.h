// Schema checks for end-to-end tests: the artifacts a command wrote validate against
// docs/schema/ and tests/schema/junit.xsd (tests/schema/validate.py does the checking).
#pragma once

#include <string>

namespace harness::testing {

// Validates every artifact under `dir` (run folders, sweep folders, or the artifacts
// folder holding both). Returns "" when all validated, else validate.py's report (each
// violation with its file and JSON pointer or line), or why it could not run.
std::string ValidateArtifacts(const std::string& dir);

}  // namespace harness::testing
