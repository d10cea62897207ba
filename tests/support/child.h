// SpawnLogged: a child process for a test's stand-in or server, its output in a log file.
// Plain function; any test thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace harness::testing {

// Starts `args` (args[0] an absolute path) with stdin from /dev/null and stdout and stderr
// appended to `log`; the child gets SIGTERM if the test process dies, and default signal
// handling. Returns its pid, or -1 when fork fails. The caller reaps it.
pid_t SpawnLogged(std::vector<std::string> args, const std::string& log);

}  // namespace harness::testing
