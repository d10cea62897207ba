// Exit codes: what the harness's process status means, and how several outcomes combine.
//
//   0        everything asked for passed
//   1        a recipe failed (a test, convergence, a probe, a deadline inside a phase)
//   2        usage: a bad option, name, script or policy; nothing was deployed
//   3        infrastructure: Docker, the host, the target or the harness itself failed
//   128 + N  interrupted by signal N (130 SIGINT, 143 SIGTERM)
//
// Several outcomes (a sweep's runs, a canon sweep's recipes) exit with the most serious one:
// a signal over infrastructure over usage over a failure over success.
//
// Thread-safety: pure functions, except that ExitCodeFor reads the process-wide signal token.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace harness {

// The exit code of a command's final status. A cancelled status exits with the signal that
// arrived (SIGINT when none did).
int ExitCodeFor(const Status& status);
// The same, for a status cancelled by `signal` (0: none arrived, SIGINT's code).
int ExitCodeFor(const Status& status, int signal);

// The status an exit code stands for, with `message` ("" when the outcome has already been
// reported). The inverse of ExitCodeFor.
Status StatusForExitCode(int code, std::string message = "");

// The more serious of two exit codes, by the order above.
int WorseExitCode(int a, int b);
// The most serious of `codes`; 0 for none.
int CombinedExitCode(const std::vector<int>& codes);

}  // namespace harness
