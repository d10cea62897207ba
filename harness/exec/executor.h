// Executor: runs a command (an argument vector, never a shell string) somewhere.
//
// The seam for every outside command the harness issues. LocalExecutor runs on this
// machine; an SSH executor runs on a Swarm manager. Each command carries a deadline and
// honours a CancelToken: on either, the command's whole process group is stopped (TERM,
// then KILL) and the result says which happened.
//
// Thread-safety: an Executor may be used from several threads at once.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/cancel.h"
#include "base/deadline.h"
#include "base/status.h"

namespace harness {

struct Command {
  std::vector<std::string> argv;
  std::string stdin_data;                                  // written to the child's stdin
  std::vector<std::pair<std::string, std::string>> env;    // added to the inherited environment
  Deadline deadline = Deadline::Never();
  size_t max_output = 8 << 20;                             // per stream; the rest is dropped
  // Called on the running thread with each piece of output as it arrives (1 stdout,
  // 2 stderr), before the command ends; the output is still collected in the result.
  std::function<void(int stream, std::string_view data)> on_output;
};

struct ProcessResult {
  int exit_code = -1;    // valid when the process exited
  int term_signal = 0;   // the signal that ended it, if any
  bool timed_out = false;
  bool cancelled = false;
  std::string out;
  std::string err;
  Duration elapsed{0};

  bool ok() const { return exit_code == 0 && !timed_out && !cancelled && term_signal == 0; }
  // "exit 1", "killed by signal 9", "timed out after 3.0s", "cancelled".
  std::string Describe() const;
};

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs the command to completion. A non-ok Status only when it could not be started;
  // a command that ran and failed is an ok Result with a non-zero exit code.
  virtual Result<ProcessResult> Run(const Command& cmd, const CancelToken& cancel) = 0;
  // "local", "ssh://user@host:22".
  virtual std::string Describe() const = 0;

  // Makes the files of a local folder readable by the commands this executor runs, and
  // returns the folder's path as those commands see it. Local: the folder itself; remote:
  // a private copy on the target. Pair each with Unshare() once the commands are done.
  virtual Result<std::string> Share(const std::string& local_dir, Deadline deadline, const CancelToken& cancel) {
    (void)deadline;
    (void)cancel;
    return local_dir;
  }
  virtual void Unshare(const std::string& shared_dir, Deadline deadline) {
    (void)shared_dir;
    (void)deadline;
  }

  // A port on this machine's loopback that accepts one connection and carries it to
  // host:port as the target sees it (an address on the target's Docker bridge, say); 0 when
  // this machine is the target and the caller should connect directly.
  virtual Result<int> Forward(const std::string& host, int port, Deadline deadline) {
    (void)host;
    (void)port;
    (void)deadline;
    return 0;
  }
};

// Quotes one word for a POSIX shell: plain words stay as they are, anything else is
// wrapped in single quotes.
std::string ShellQuote(const std::string& word);
// The argument vector as one shell-safe line (for logs, proof packets and SSH).
std::string QuoteArgv(const std::vector<std::string>& argv);

}  // namespace harness
