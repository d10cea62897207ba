// EventWatch: Docker's event stream for one namespace, used to wake waits.
//
// Follows Docker's events (containers, services, networks) on a thread of its own: through
// the Engine API's socket (GET /events, DockerApi::Stream) when the runtime reads through
// it, else `docker events` through the namespace's executor (SSH targets). Either way it
// counts the events that concern the namespace: a
// container labelled com.docker.stack.namespace=<ns>, a service or network named
// "<ns>_...". Healthcheck executions (`exec_*`) are not counted. Waits built on it
// (convergence, removal) wake on such an event instead of the next poll tick and then
// look at Docker's state as before: the stream decides when to look, never what is true.
// Without a stream (it could not start, it ended, a signal stopped it) Wait() sleeps its
// whole `max`, which makes the callers plain pollers again.
//
// SwarmRuntime::Watch hands one out as the Runtime's ChangeWatch. The Docker or DockerApi
// it follows through must outlive it. Destruction stops the stream at once (the CLI's
// process group is stopped, the API's request is cancelled).
//
// Thread-safety: Wait() from one thread at a time; live() and events() from any.
#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <thread>

#include "base/cancel.h"
#include "base/deadline.h"
#include "runtime/docker.h"
#include "runtime/docker_api.h"
#include "runtime/runtime.h"

namespace harness {

class EventWatch : public ChangeWatch {
 public:
  // Starts following at once; events before the stream is connected are not seen, so a
  // caller looks at the state after starting the watch, not before. The stream ends by
  // itself at `until` (docker events --until), so that nothing of it outlives its use on
  // a remote target whose connection was dropped; Wait() then polls.
  EventWatch(Docker* docker, std::string ns, Deadline until);
  // The same, through the Engine API's event stream (GET /events with the same filters
  // and bounds), on a connection of the stream's own.
  EventWatch(DockerApi* api, std::string ns, Deadline until);
  ~EventWatch();
  EventWatch(const EventWatch&) = delete;
  EventWatch& operator=(const EventWatch&) = delete;

  // Waits until an event of the namespace arrives that no earlier Wait() consumed, `max`
  // passes, or `cancel` fires. True when woken by an event.
  bool Wait(Duration max, const CancelToken& cancel) override;
  // The stream is running.
  bool live() const { return live_.load(); }
  // Events of the namespace seen so far.
  int events() const { return events_.load(); }

  // Whether one line of `docker events --format '{{json .}}'` (or of the Engine API's
  // GET /events, the same fields) concerns namespace `ns`.
  static bool Concerns(std::string_view line, const std::string& ns);

 private:
  void Start();
  void Follow();
  void FollowCli();
  void FollowApi();
  void Consume(std::string_view data);

  Docker* docker_ = nullptr;  // one of these two is set
  DockerApi* api_ = nullptr;
  std::string ns_;
  Deadline until_;
  CancelSource stop_;
  int pipe_[2] = {-1, -1};
  std::string partial_;
  std::atomic<bool> live_{true};
  std::atomic<int> events_{0};
  std::thread thread_;
};

}  // namespace harness
