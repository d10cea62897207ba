// ScriptHost: what a recipe's hooks may do to the world, as the engine offers it to Lua.
//
// The run lifecycle implements this over the runtime (Swarm) and the HTTP client; unit
// tests implement it with fakes. Every call receives the deadline of the hook in progress
// and must return by then. Called only from the thread running the hook.
#pragma once

#include <string>
#include <vector>

#include "base/cancel.h"
#include "base/deadline.h"
#include "base/status.h"
#include "exec/executor.h"
#include "net/http.h"

namespace harness {

class ScriptHost {
 public:
  virtual ~ScriptHost() = default;
  // `req.url`'s host is a service name of the deploy; the host resolves it.
  virtual Result<HttpResponse> Http(HttpRequest req, Deadline deadline) = 0;
  // Whether `name` (a domain the recipe routes) serves `path` through the Swarm's proxy:
  // https with a verified certificate, a 2xx or 3xx that is not the proxy's own answer for
  // a name it does not route; tried until `deadline`. Failed with the last answer.
  virtual Status Serves(const std::string& name, const std::string& path, Deadline deadline) = 0;
  // Runs argv inside a running container of `service`.
  virtual Result<ProcessResult> Exec(const std::string& service,
                                     const std::vector<std::string>& argv,
                                     Deadline deadline) = 0;
  // The last `tail` lines of the service's logs (stdout and stderr).
  virtual Result<std::string> Logs(const std::string& service, int tail, Deadline deadline) = 0;
  // The generated value of a declared secret.
  virtual Result<std::string> Secret(const std::string& name) = 0;
  // Writes an extra file into the run's artifact folder.
  virtual Status Artifact(const std::string& name, const std::string& content) = 0;
  // A line for the run log (print()).
  virtual void Print(const std::string& line) = 0;
  virtual const CancelToken& cancel() = 0;
};

}  // namespace harness
