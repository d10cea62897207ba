#include "runtime/event_watch.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <utility>

#include <nlohmann/json.hpp>

namespace harness {

namespace {

// Unix seconds, as the --since/--until of `docker events` and the API's since/until take.
std::string UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

// The bounds of a stream that ends at `until`: as the target's clock reads them, from a
// few seconds back, so that a clock a little behind ours misses nothing (an event seen
// twice only wakes a wait early), to a second after `until`.
std::pair<std::string, std::string> Bounds(Deadline until) {
  auto now = std::chrono::system_clock::now();
  return {UnixSeconds(now - std::chrono::seconds(2)), UnixSeconds(now + until.remaining() + std::chrono::seconds(1))};
}

}  // namespace

EventWatch::EventWatch(Docker* docker, std::string ns, Deadline until)
    : docker_(docker), ns_(std::move(ns)), until_(until) {
  Start();
}

EventWatch::EventWatch(DockerApi* api, std::string ns, Deadline until)
    : api_(api), ns_(std::move(ns)), until_(until) {
  Start();
}

void EventWatch::Start() {
  if (pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    live_ = false;
    return;
  }
  thread_ = std::thread([this] { Follow(); });
}

EventWatch::~EventWatch() {
  stop_.Cancel();
  if (thread_.joinable()) thread_.join();
  for (int fd : pipe_) {
    if (fd >= 0) close(fd);
  }
}

void EventWatch::Follow() {
  // However the stream ends (it could not start, it failed, it was stopped), waits then
  // poll: the watch only decides when to look, so its failure is no one's error.
  if (api_ != nullptr) {
    FollowApi();
  } else {
    FollowCli();
  }
  live_ = false;
  char byte = 0;
  (void)!write(pipe_[1], &byte, 1);  // a waiter stops waiting for a stream that ended
}

void EventWatch::FollowApi() {
  std::string path = "/events?filters=" + DockerApi::Filters("type", {"container", "service", "network"});
  Deadline backstop = Deadline::Never();
  if (!until_.never()) {
    auto [since, until] = Bounds(until_);
    path += "&since=" + since + "&until=" + until;
    // Docker ends the answer at `until`; this only bounds a daemon that does not.
    backstop = Deadline::In(until_.remaining() + Duration(5000));
  }
  api_->Stream(path, backstop, stop_.token(), [this](std::string_view data) {
        Consume(data);
        return true;
      })
      .IgnoreError();
}

void EventWatch::FollowCli() {
  Command cmd;
  cmd.argv = {docker_->binary(), "events", "--format", "{{json .}}", "--filter", "type=container",
              "--filter", "type=service", "--filter", "type=network"};
  if (!until_.never()) {
    auto [since, until] = Bounds(until_);
    cmd.argv.insert(cmd.argv.end(), {"--since", since, "--until", until});
  }
  cmd.max_output = 0;  // the lines are handled as they come, not kept
  cmd.on_output = [this](int stream, std::string_view data) {
    if (stream == 1) Consume(data);
  };
  docker_->executor()->Run(cmd, stop_.token()).IgnoreError();
}

void EventWatch::Consume(std::string_view data) {
  partial_.append(data);
  size_t start = 0, nl;
  bool any = false;
  while ((nl = partial_.find('\n', start)) != std::string::npos) {
    if (Concerns(std::string_view(partial_).substr(start, nl - start), ns_)) {
      ++events_;
      any = true;
    }
    start = nl + 1;
  }
  partial_.erase(0, start);
  if (any) {
    char byte = 1;
    (void)!write(pipe_[1], &byte, 1);
  }
}

bool EventWatch::Concerns(std::string_view line, const std::string& ns) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  std::string type = j.value("Type", "");
  std::string action = j.value("Action", "");
  if (action.rfind("exec_", 0) == 0) return false;
  auto actor = j.find("Actor");
  if (actor == j.end() || !actor->is_object()) return false;
  auto attrs = actor->find("Attributes");
  if (attrs == actor->end() || !attrs->is_object()) return false;
  auto text = [&](const char* key) {
    auto it = attrs->find(key);
    return it != attrs->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (type == "container") return text("com.docker.stack.namespace") == ns;
  if (type == "service" || type == "network") return text("name").rfind(ns + "_", 0) == 0;
  return false;
}

bool EventWatch::Wait(Duration max, const CancelToken& cancel) {
  auto until = Clock::now() + max;
  while (true) {
    char buf[64];
    bool event = false;
    ssize_t n;
    while ((n = read(pipe_[0], buf, sizeof buf)) > 0) {
      for (ssize_t i = 0; i < n; ++i) event = event || buf[i] == 1;
    }
    if (event) return true;
    if (cancel.cancelled()) return false;
    auto now = Clock::now();
    if (now >= until) return false;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now);
    pollfd fds[2] = {{live() ? pipe_[0] : -1, POLLIN, 0}, {cancel.fd(), POLLIN, 0}};
    poll(fds, 2, static_cast<int>(left.count()));
  }
}

}  // namespace harness
