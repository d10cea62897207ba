// Server: `harness serve`, the `!testme` receiver for Gitea and Forgejo.
//
//   webhook   POST /webhook: body at most `max_body` (413 beyond), signature checked with
//             the shared secret (401 when wrong), payload parsed (400 when malformed);
//             `!testme` on a pull request from an allowed user (allow-list, or a member of
//             an allowed organisation, or a collaborator, asked through the forge's API)
//             queues a run of the pull request's head commit; anyone else gets one polite
//             reply. A push to the pull request, or its closing, supersedes its runs.
//   poll      the same for comments fetched from the forge every `poll_interval`, for
//             hosts that cannot receive webhooks.
//   workers   `jobs` runs at a time from the durable queue (ServeQueue). A newer request
//             for the same pull request cancels an older run (which tears down) and the
//             older one never posts. Results go back as one comment per pull request,
//             created once and edited as the run goes, and a commit status.
//
// Nothing serve writes to the forge carries a secret: the run's reason is already redacted,
// and the token and webhook secret are never formatted into text.
//
// Thread-safety: Run() on one thread; the HTTP handlers, the poller and the workers run on
// threads of their own and share the queue and the forge client.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/cancel.h"
#include "base/deadline.h"
#include "forge/forge_client.h"
#include "forge/webhook.h"
#include "run/run.h"
#include "serve/queue.h"

namespace harness {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8088;                      // 0: any free port (see port_file)
  std::string port_file;                // the bound port is written here when set
  std::string webhook_secret;
  size_t max_body = 1 << 20;
  std::vector<std::string> allow_users;
  std::vector<std::string> allow_orgs;
  bool allow_collaborators = false;
  int per_pr_per_hour = 6;              // !testme runs queued per pull request
  int per_user_per_hour = 20;           // and per user
  int jobs = 1;
  std::vector<std::string> poll_repos;  // owner/name; polled when poll_interval > 0
  Duration poll_interval{0};
  std::string status_context = "recipe-harness";
  RunOptions base;                      // recipes, state, artifacts, domain suffix, ...
};

class Server {
 public:
  // None owned; all must outlive the server.
  Server(ServeOptions options, Forge* forge, ServeQueue* queue, Docker* docker, ProgressFn progress);
  ~Server();

  // Serves until `stop` is cancelled, then stops taking work, cancels running runs (they
  // tear down and go back to the queue) and returns. Infra when the port cannot be bound,
  // when the runs cut short last time cannot be queued again (nothing is served then), or
  // when a job's end could not be recorded in the queue (it is kept as running there, and
  // the next start queues it again).
  Status Run(const CancelToken& stop);

  struct Reply {
    int status = 200;
    std::string body;  // JSON
  };
  // One webhook delivery; `headers` with lower-case names.
  Reply HandleWebhook(const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body);
  // One round of polling every --poll-repo for `!testme` comments (the poller's step).
  void PollOnce();

 private:
  Reply HandleTestme(const ForgeEvent& e);
  Status HandlePullUpdated(const ForgeEvent& e);
  Result<bool> Allowed(const std::string& owner, const std::string& repo, const std::string& user);
  Result<std::string> RecipeFor(const std::string& full_name, const std::string& clone_url);
  void Worker(const CancelToken& stop);
  void Poller(const CancelToken& stop);
  std::string poll_started_;              // comments from before serve first polled are history
  void RunJob(const ServeJob& job);
  // Writes the pull request's one comment (creating it once); only while `job_id` is current.
  void Post(int64_t job_id, const std::string& repo, int64_t pr, const std::string& text);
  void SetCommitStatus(int64_t job_id, const ServeJob& job, const std::string& state, const std::string& description);
  void CancelRunning(const std::vector<int64_t>& ids);
  // A reply on the event's pull request; a failure is said.
  void Comment(const ForgeEvent& e, const std::string& text);
  // A job whose requeue or end the queue refused: it stays running there until the next start.
  void NoteLeftRunning(int64_t job_id, const Status& why);
  void Say(const std::string& line);

  ServeOptions opts_;
  Forge* forge_;
  ServeQueue* queue_;
  Docker* docker_;
  ProgressFn progress_;
  std::mutex mu_;                         // guards running_, left_running_*, posting
  std::condition_variable wake_;          // a job was queued, or stop
  std::map<int64_t, CancelSource*> running_;
  int left_running_ = 0;                  // jobs the queue keeps as running by a refused write
  Status left_running_error_;
  std::atomic<bool> stopping_{false};
};

}  // namespace harness
