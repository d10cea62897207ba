#include "serve/server.h"

#include <httplib.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/files.h"
#include "base/json_text.h"
#include "base/strings.h"
#include "base/time.h"
#include "base/wait.h"
#include "events/events.h"
#include "source/recipe_source.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

constexpr const char* kMarker = "<!-- recipe-harness -->";

std::string Short(const std::string& sha) { return sha.substr(0, 12); }

std::string OneLine(std::string s, size_t max) {
  if (auto nl = s.find('\n'); nl != std::string::npos) s = s.substr(0, nl);
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

// A run's phases, as edits of the pull request's comment.
class PhaseReporter : public EventSink {
 public:
  explicit PhaseReporter(std::function<void(const std::string&)> on_phase) : on_phase_(std::move(on_phase)) {}
  void OnEvent(const Event& e) override {
    if (e.kind == EventKind::kPhaseStarted) on_phase_(e.name);
  }

 private:
  std::function<void(const std::string&)> on_phase_;
};

std::string Header(const std::vector<std::pair<std::string, std::string>>& headers, const std::string& name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

std::string Json(const nlohmann::json& j) { return JsonText(j); }

std::string HourAgo() { return IsoTime(std::chrono::system_clock::now() - std::chrono::hours(1)); }

}  // namespace

Server::Server(ServeOptions options, Forge* forge, ServeQueue* queue, Docker* docker, ProgressFn progress)
    : opts_(std::move(options)), forge_(forge), queue_(queue), docker_(docker), progress_(std::move(progress)) {}

Server::~Server() = default;

void Server::Say(const std::string& line) {
  if (progress_) progress_("serve: " + line);
}

// ---- webhooks

Server::Reply Server::HandleWebhook(const std::vector<std::pair<std::string, std::string>>& headers,
                                    const std::string& body) {
  std::string signature = Header(headers, "x-forgejo-signature");
  if (signature.empty()) signature = Header(headers, "x-gitea-signature");
  if (signature.empty()) signature = Header(headers, "x-hub-signature-256");
  if (!VerifySignature(opts_.webhook_secret, body, signature)) {
    Say("refused a delivery: " + std::string(signature.empty() ? "no signature" : "the signature does not match"));
    return {401, Json({{"error", "signature missing or wrong"}})};
  }
  std::string event = Header(headers, "x-forgejo-event");
  if (event.empty()) event = Header(headers, "x-gitea-event");
  auto parsed = ParseWebhook(event, body);
  if (!parsed.ok()) return {400, Json({{"error", parsed.status().message()}})};
  ForgeEvent e = std::move(*parsed);
  e.delivery = Header(headers, "x-forgejo-delivery");
  if (e.delivery.empty()) e.delivery = Header(headers, "x-gitea-delivery");
  const std::string delivery_key = "delivery:" + e.delivery;
  if (!e.delivery.empty()) {
    auto seen = queue_->Seen(delivery_key);
    if (!seen.ok()) {
      Say("delivery " + e.delivery + ": " + seen.status().message());
      return {503, Json({{"error", "the queue is not available"}})};
    }
    if (*seen) return {200, Json({{"duplicate", e.delivery}})};
  }
  Reply reply{202, Json({{"ignored", e.why_ignored}})};
  switch (e.kind) {
    case ForgeEvent::Kind::kTestme:
      reply = HandleTestme(e);
      break;
    case ForgeEvent::Kind::kPullUpdated:
      if (Status s = HandlePullUpdated(e); !s.ok()) {
        reply = {503, Json({{"error", "the queue is not available"}})};
      } else {
        reply = {202, Json({{"pull_request", e.pr}, {"action", e.action}})};
      }
      break;
    case ForgeEvent::Kind::kIgnored:
      break;
  }
  // A delivery is remembered once handled: one refused for want of the queue or the forge
  // can be delivered again (its comment is still queued at most once).
  if (!e.delivery.empty() && reply.status < 500) {
    if (auto recorded = queue_->FirstSighting(delivery_key); !recorded.ok()) {
      Say("delivery " + e.delivery + " was handled but not recorded (a redelivery is handled again): " +
          recorded.status().message());
    }
  }
  return reply;
}

Server::Reply Server::HandleTestme(const ForgeEvent& e) {
  const std::string where = e.full_name + "#" + std::to_string(e.pr);
  const std::string seen_key = "comment:" + std::to_string(e.comment_id);
  const Reply unavailable{503, Json({{"error", "the queue is not available"}})};
  const Reply duplicate{200, Json({{"duplicate", e.comment_id}})};
  // The comment is recorded as handled only once it is: with its job (Enqueue), or just
  // before an answer without a run. Until then (the queue or the forge failing) it can be
  // delivered or polled again.
  auto seen = queue_->Seen(seen_key);
  if (!seen.ok()) {
    Say(where + ": " + seen.status().message());
    return unavailable;
  }
  if (*seen) return duplicate;
  auto answered = [&]() -> std::optional<Reply> {
    auto first = queue_->FirstSighting(seen_key);
    if (!first.ok()) {
      Say(where + ": " + first.status().message());
      return unavailable;
    }
    if (!*first) return duplicate;  // handled meanwhile by a redelivery
    return std::nullopt;
  };

  auto allowed = Allowed(e.owner, e.repo, e.user);
  if (!allowed.ok()) {
    Say(where + ": cannot check whether @" + e.user + " may start runs: " + allowed.status().message());
    return {503, Json({{"error", "cannot check permissions with the forge"}})};
  }
  if (!*allowed) {
    Say(where + ": @" + e.user + " may not start runs");
    if (auto r = answered()) return *r;
    auto once = queue_->FirstSighting("denied:" + where + ":" + e.user);
    if (!once.ok()) Say(where + ": no reply to @" + e.user + ": " + once.status().message());
    if (once.ok() && *once) {
      Comment(e, std::string(kMarker) + "\nThanks, @" + e.user +
                     "! Test runs start on a shared machine, so only maintainers of this recipe can "
                     "ask for them. A maintainer can comment `!testme` to test this pull request.");
    }
    return {202, Json({{"ignored", "not allowed to start runs"}})};
  }
  auto recipe = RecipeFor(e.full_name, e.clone_url);
  if (!recipe.ok()) {
    Say(where + ": " + recipe.status().message());
    if (auto r = answered()) return *r;
    Comment(e, std::string(kMarker) + "\nThis harness has no recipe built from " + e.full_name +
                   ", so there is nothing to test here.");
    return {202, Json({{"ignored", "no recipe for this repository"}})};
  }
  for (auto [count, limit, who] : {std::tuple{queue_->CountSince(e.full_name, e.pr, "", HourAgo()), opts_.per_pr_per_hour,
                                              std::string("this pull request")},
                                   std::tuple{queue_->CountSince("", 0, e.user, HourAgo()), opts_.per_user_per_hour,
                                              "@" + e.user}}) {
    if (!count.ok()) {
      Say(where + ": " + count.status().message());
      return unavailable;
    }
    if (*count >= limit) {
      Say(where + ": rate limit for " + who);
      if (auto r = answered()) return *r;
      Comment(e, std::string(kMarker) + "\n" + std::to_string(limit) + " test runs per hour is the limit for " + who +
                     "; please ask again later.");
      return {429, Json({{"error", "rate limit"}})};
    }
  }
  auto pull = forge_->GetPull(e.owner, e.repo, e.pr);
  if (!pull.ok()) {
    Say(where + ": cannot read the pull request: " + pull.status().message());
    return {502, Json({{"error", "cannot read the pull request from the forge"}})};
  }
  if (pull->state != "open" || pull->head_sha.empty()) {
    if (auto r = answered()) return *r;
    Comment(e, std::string(kMarker) + "\nThis pull request is closed: nothing to test.");
    return {202, Json({{"ignored", "pull request closed"}})};
  }
  ServeJob job;
  job.repo = e.full_name;
  job.pr = e.pr;
  job.sha = pull->head_sha;
  job.recipe = *recipe;
  job.user = e.user;
  int64_t id = 0;
  {
    // Queued and announced under the posting lock: an older run cannot write between.
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<int64_t> running;
    auto queued = queue_->Enqueue(job, &running, seen_key);
    if (!queued.ok()) {
      Say(where + ": cannot queue the run asked for by @" + e.user + " (it can be asked for again): " +
          queued.status().message());
      return unavailable;
    }
    if (*queued == 0) return duplicate;
    id = *queued;
    for (int64_t old : running) {
      if (auto it = running_.find(old); it != running_.end()) it->second->Cancel();
    }
  }
  Say(where + ": queued job " + std::to_string(id) + ": " + job.recipe + " at " + Short(job.sha) + " for @" + e.user);
  Post(id, e.full_name, e.pr,
       "**" + job.recipe + "** at `" + Short(job.sha) + "`: queued (asked by @" + e.user + ")");
  SetCommitStatus(id, job, "pending", "queued");
  wake_.notify_all();
  return {202, Json({{"queued", id}, {"sha", job.sha}, {"recipe", job.recipe}})};
}

Status Server::HandlePullUpdated(const ForgeEvent& e) {
  std::vector<int64_t> running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A push leaves runs of the new head alone (none yet); closing supersedes everything.
    Status s = queue_->Supersede(e.full_name, e.pr, e.action == "closed" ? "" : e.head_sha, &running);
    if (!s.ok()) {
      Say(e.full_name + "#" + std::to_string(e.pr) + ": " + e.action + ": nothing superseded: " + s.message());
      return s;
    }
    for (int64_t old : running) {
      if (auto it = running_.find(old); it != running_.end()) it->second->Cancel();
    }
  }
  if (!running.empty()) {
    Say(e.full_name + "#" + std::to_string(e.pr) + ": " + e.action + ": cancelled " + std::to_string(running.size()) +
        " running job(s)");
  }
  return Status::Ok();
}

Result<bool> Server::Allowed(const std::string& owner, const std::string& repo, const std::string& user) {
  if (std::find(opts_.allow_users.begin(), opts_.allow_users.end(), user) != opts_.allow_users.end()) return true;
  for (const auto& org : opts_.allow_orgs) {
    auto member = forge_->IsOrgMember(org, user);
    if (!member.ok()) return member.status();
    if (*member) return true;
  }
  if (opts_.allow_collaborators) return forge_->IsCollaborator(owner, repo, user);
  return false;
}

Result<std::string> Server::RecipeFor(const std::string& full_name, const std::string& clone_url) {
  RecipeSources sources(opts_.base.recipes_dir, opts_.base.state_dir + "/git");
  std::string by_name;
  const std::string repo_name = full_name.substr(full_name.find('/') + 1);
  auto listed = sources.List();
  if (!listed.ok()) return listed.status();
  const std::vector<std::string>& names = *listed;
  auto ends_with = [](const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  for (const auto& name : names) {
    auto origin = sources.OriginOf(name);
    if (!origin.ok() || !origin->has_value()) continue;
    const std::string& url = (*origin)->url;
    if ((!clone_url.empty() && url == clone_url) || ends_with(url, "/" + full_name + ".git") ||
        ends_with(url, "/" + full_name) || ends_with(url, ":" + full_name + ".git")) {
      return name;
    }
    if (name == repo_name) by_name = name;
  }
  if (!by_name.empty()) return by_name;
  return Status::NotFound("no git recipe under " + opts_.base.recipes_dir + " is built from " + full_name);
}

// ---- results on the forge

void Server::Post(int64_t job_id, const std::string& repo, int64_t pr, const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  auto latest = queue_->IsLatest(job_id);
  if (!latest.ok()) {
    Say(repo + "#" + std::to_string(pr) + ": job " + std::to_string(job_id) + ": nothing posted: " +
        latest.status().message());
    return;
  }
  if (!*latest) return;  // a newer request speaks for this pull request now
  const std::string owner = repo.substr(0, repo.find('/'));
  const std::string name = repo.substr(repo.find('/') + 1);
  const std::string body = std::string(kMarker) + "\n" + text;
  auto existing = queue_->ReplyComment(repo, pr);
  if (!existing.ok()) {
    Say(repo + "#" + std::to_string(pr) + ": a new comment, since the one to edit is not known: " +
        existing.status().message());
  }
  if (existing.ok() && *existing != 0) {
    Status s = forge_->EditComment(owner, name, *existing, body);
    if (s.ok()) return;
    if (s.code() != Status::Code::kNotFound) {
      Say(repo + "#" + std::to_string(pr) + ": cannot edit the comment: " + s.message());
      return;
    }
  }
  auto created = forge_->CreateComment(owner, name, pr, body);
  if (!created.ok()) {
    Say(repo + "#" + std::to_string(pr) + ": cannot comment: " + created.status().message());
    return;
  }
  if (Status s = queue_->SetReplyComment(repo, pr, *created); !s.ok()) {
    Say(repo + "#" + std::to_string(pr) + ": comment " + std::to_string(*created) +
        " is not remembered (the next update comments anew): " + s.message());
  }
}

void Server::Comment(const ForgeEvent& e, const std::string& text) {
  auto created = forge_->CreateComment(e.owner, e.repo, e.pr, text);
  if (!created.ok()) {
    Say(e.full_name + "#" + std::to_string(e.pr) + ": cannot comment: " + created.status().message());
  }
}

void Server::NoteLeftRunning(int64_t job_id, const Status& why) {
  std::lock_guard<std::mutex> lock(mu_);
  ++left_running_;
  left_running_error_ = why.Prefixed("job " + std::to_string(job_id));
}

void Server::SetCommitStatus(int64_t job_id, const ServeJob& job, const std::string& state,
                             const std::string& description) {
  std::lock_guard<std::mutex> lock(mu_);
  auto latest = queue_->IsLatest(job_id);
  if (!latest.ok()) {
    Say(job.repo + "#" + std::to_string(job.pr) + ": job " + std::to_string(job_id) + ": no commit status: " +
        latest.status().message());
    return;
  }
  if (!*latest) return;
  const std::string owner = job.repo.substr(0, job.repo.find('/'));
  const std::string name = job.repo.substr(job.repo.find('/') + 1);
  Status s = forge_->SetStatus(owner, name, job.sha, state, opts_.status_context + "/" + job.recipe,
                               OneLine(description, 140), "");
  if (!s.ok()) Say(job.repo + "#" + std::to_string(job.pr) + ": cannot set the commit status: " + s.message());
}

// ---- workers

void Server::RunJob(const ServeJob& job) {
  CancelSource source;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_[job.id] = &source;
  }
  const std::string head = "**" + job.recipe + "** at `" + Short(job.sha) + "`";
  Say("job " + std::to_string(job.id) + ": " + job.repo + "#" + std::to_string(job.pr) + ": running " + job.recipe +
      " at " + Short(job.sha));
  SetCommitStatus(job.id, job, "pending", "running");
  PhaseReporter phases([&](const std::string& phase) {
    Post(job.id, job.repo, job.pr, head + ": running — " + phase + " (asked by @" + job.user + ")");
  });
  // The head cold, then (when the recipe has releases) an upgrade from the newest release
  // to the head: both must pass.
  RunOptions o = opts_.base;
  o.recipe = job.recipe;
  o.commit = job.sha;
  o.cancel = &source.token();
  o.events = &phases;
  std::vector<RunOutcome> runs = {RunRecipe(o, docker_, progress_)};
  auto interrupted = [&] { return stopping_ || CancelToken::Signals().cancelled() || source.cancelled(); };
  if (!interrupted()) {
    RecipeSources sources(opts_.base.recipes_dir, opts_.base.state_dir + "/git");
    auto releases = sources.Releases(job.recipe, false, source.token());
    if (releases.ok() && !releases->empty()) {
      o.upgrade_from = releases->back();
      runs.push_back(RunRecipe(o, docker_, progress_));
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_.erase(job.id);
  }
  auto teardowns = [&] {
    std::string all;
    for (const auto& r : runs) all += (all.empty() ? "" : ", ") + (r.teardown.ok() ? std::string("ok") : r.teardown.message());
    return all;
  };
  if (stopping_ || CancelToken::Signals().cancelled()) {
    if (Status s = queue_->Requeue(job.id); !s.ok()) {
      NoteLeftRunning(job.id, s);
      Say("job " + std::to_string(job.id) + ": stopped by serve stopping (teardown " + teardowns() +
          "); NOT queued again: " + s.message() + " — the queue keeps it as running, and the next start of serve "
          "queues it again");
      return;
    }
    Say("job " + std::to_string(job.id) + ": stopped by serve stopping (teardown " + teardowns() + "); queued again");
    return;
  }
  int failed = -1;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].result != "passed" && failed < 0) failed = static_cast<int>(i);
  }
  auto describe = [](const RunOutcome& r) {
    std::string what = r.upgraded_from.empty() ? "cold deploy" : "upgrade from " + r.upgraded_from;
    return r.result == "passed"
               ? what + ": " + std::to_string(r.tests.size()) + " tests passed in " + FormatDuration(r.elapsed)
               : what + ": " + r.result + " in " + r.failed_phase + ": " + OneLine(r.reason, 300);
  };
  const RunOutcome& verdict = failed < 0 ? runs.back() : runs[failed];
  std::string detail = failed < 0 ? "passed (" + std::to_string(runs.size()) + " run(s))" : describe(verdict);
  auto finished = queue_->Finish(job.id, verdict.result, detail);
  if (!finished.ok()) {
    // The run happened and its result is posted; the queue still has the job as running,
    // so the next start of serve runs it again rather than lose it.
    NoteLeftRunning(job.id, finished.status());
    Say("job " + std::to_string(job.id) + ": " + detail + "; its result is NOT recorded in the queue: " +
        finished.status().message() + " — the queue keeps it as running, and the next start of serve runs it again");
  }
  if ((finished.ok() && !*finished) || source.cancelled()) {
    Say("job " + std::to_string(job.id) + ": superseded; torn down (" + teardowns() + "), nothing posted");
    return;
  }
  std::string text = head + ": " + (failed < 0 ? "✅ passed" : "❌ " + verdict.result) + "\n";
  for (const auto& r : runs) text += "\n- " + describe(r) + " (run `" + r.run_id + "`)";
  text += "\n\nAsked by @" + job.user + ".";
  Post(job.id, job.repo, job.pr, text);
  SetCommitStatus(job.id, job, failed < 0 ? "success" : verdict.result == "failed" ? "failure" : "error", detail);
  Say("job " + std::to_string(job.id) + ": " + detail + " (posted)");
}

void Server::Worker(const CancelToken& stop) {
  while (!stopping_ && !stop.cancelled()) {
    auto job = queue_->Claim();
    if (!job.ok()) {
      Say("cannot take the next job (trying again in 5 s): " + job.status().message());
    } else if (job->has_value()) {
      RunJob(**job);
      continue;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (!job.ok()) {
      // A queue that cannot be written still shows its queued jobs: only stopping cuts the pause.
      wake_.wait_for(lock, std::chrono::seconds(5), [&] { return stopping_.load(); });
      continue;
    }
    // Woken by a new job or by stopping.
    wake_.wait_for(lock, std::chrono::seconds(300),
                   [&] { return stopping_.load() || queue_->CountInState("queued").value_or(0) > 0; });
  }
}

void Server::PollOnce() {
  if (poll_started_.empty()) poll_started_ = IsoTime(std::chrono::system_clock::now());
  for (const auto& full : opts_.poll_repos) {
    const std::string owner = full.substr(0, full.find('/'));
    const std::string repo = full.substr(full.find('/') + 1);
    auto cursor = queue_->Cursor("poll:" + full);
    if (!cursor.ok()) {
      Say("poll " + full + ": " + cursor.status().message());
      continue;
    }
    std::string since = cursor->empty() ? poll_started_ : *cursor;
    // A little overlap: comments are deduplicated by id.
    std::string next = IsoTime(std::chrono::system_clock::now() - std::chrono::seconds(5));
    auto comments = forge_->CommentsSince(owner, repo, since);
    if (!comments.ok()) {
      Say("poll " + full + ": " + comments.status().message());
      continue;
    }
    bool retry = false;  // a comment that could not be handled for want of the queue or the forge
    for (const auto& c : *comments) {
      if (!c.on_pull || !IsTestmeComment(c.body) || c.body.find(kMarker) != std::string::npos) continue;
      ForgeEvent e;
      e.kind = ForgeEvent::Kind::kTestme;
      e.owner = owner;
      e.repo = repo;
      e.full_name = full;
      e.pr = c.pr;
      e.user = c.user;
      e.comment_id = c.id;
      if (HandleTestme(e).status == 503) retry = true;
    }
    if (retry) {
      Say("poll " + full + ": comments that could not be handled are read again at the next poll");
      continue;  // the cursor stays: handled comments are recorded and not queued twice
    }
    if (Status s = queue_->SetCursor("poll:" + full, next); !s.ok()) {
      Say("poll " + full + ": the cursor did not move (comments are read again, none is queued twice): " + s.message());
    }
  }
}

void Server::Poller(const CancelToken& stop) {
  while (!stopping_ && !stop.cancelled()) {
    PollOnce();
    WaitFor(opts_.poll_interval, stop);
  }
}

Status Server::Run(const CancelToken& stop) {
  // Before anything else: a serve that cannot give back the runs cut short last time (a
  // crash, a kill) cannot write its queue, and would leave them stranded.
  auto recovered = queue_->RecoverInterrupted();
  if (!recovered.ok()) {
    return recovered.status().Prefixed("cannot queue again the runs cut short when serve last stopped");
  }
  if (*recovered > 0) Say(std::to_string(*recovered) + " run(s) were cut short when serve last stopped: queued again");
  if (auto queued = queue_->CountInState("queued"); !queued.ok()) {
    Say(queued.status().message());
  } else if (*queued > 0) {
    Say("resuming the queue: " + std::to_string(*queued) + " run(s) waiting");
  }
  httplib::Server http;
  http.set_payload_max_length(opts_.max_body);
  http.set_read_timeout(10, 0);
  http.set_write_timeout(10, 0);
  http.Post("/webhook", [&](const httplib::Request& req, httplib::Response& res) {
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& [k, v] : req.headers) headers.emplace_back(Lower(k), v);
    Reply reply = HandleWebhook(headers, req.body);
    res.status = reply.status;
    res.set_content(reply.body, "application/json");
  });
  http.Get("/healthz", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(Json({{"queued", queue_->CountInState("queued").value_or(-1)},
                          {"running", queue_->CountInState("running").value_or(-1)}}),
                    "application/json");
  });
  http.set_logger([&](const httplib::Request& req, const httplib::Response& res) {
    Say(req.method + " " + req.path + " → " + std::to_string(res.status));
  });
  int port = opts_.port;
  if (port == 0) {
    port = http.bind_to_any_port(opts_.host);
    if (port <= 0) return Status::Infra("cannot listen on " + opts_.host);
  } else if (!http.bind_to_port(opts_.host, port)) {
    return Status::Infra("cannot listen on " + opts_.host + ":" + std::to_string(port));
  }
  if (!opts_.port_file.empty()) {
    if (Status s = WriteFileAtomic(opts_.port_file, std::to_string(port) + "\n"); !s.ok()) {
      return s.Prefixed("--port-file");
    }
  }
  Say("listening on http://" + opts_.host + ":" + std::to_string(port) + "/webhook, " + std::to_string(opts_.jobs) +
      " run(s) at a time");
  std::atomic<bool> listener_ended{false};
  std::thread listener([&] {
    http.listen_after_bind();
    listener_ended = true;
  });
  std::vector<std::thread> threads;
  for (int i = 0; i < std::max(1, opts_.jobs); ++i) threads.emplace_back([&] { Worker(stop); });
  if (opts_.poll_interval.count() > 0 && !opts_.poll_repos.empty()) threads.emplace_back([&] { Poller(stop); });

  while (!stop.cancelled()) {
    pollfd p{stop.fd(), POLLIN, 0};
    poll(&p, p.fd >= 0 ? 1 : 0, -1);
  }
  Say("stopping: no new work; running runs tear down and stay queued");
  stopping_ = true;
  // http.stop() does nothing to a server not listening yet, which would then listen for
  // ever: a stop that comes that early waits for it.
  while (!http.is_running() && !listener_ended) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  http.stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, source] : running_) source->Cancel();
  }
  wake_.notify_all();
  listener.join();
  for (auto& t : threads) t.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (left_running_ > 0) {
    return Status::Infra(std::to_string(left_running_) +
                         " job(s) could not be recorded in the queue and are kept there as running; the next start "
                         "of serve queues them again (last: " + left_running_error_.message() + ")");
  }
  return Status::Ok();
}

}  // namespace harness
