// SwarmRuntime's images: present, pulled by the pull policy and pinned, planned for a check,
// and on the Swarm's other nodes (pulled there by the pinned reference, or copied).
#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/scope_guard.h"
#include "base/strings.h"
#include "runtime/nodes.h"
#include "runtime/swarm.h"
#include "runtime/swarm_steps.h"

namespace harness {

using namespace swarm_steps;

Status SwarmRuntime::CheckImages(const std::vector<std::string>& images, PhaseLog* log,
                                 Deadline deadline, const CancelToken& cancel) {
  if (images.empty()) return Status::Ok();
  std::vector<std::string> args = {"image", "inspect", "--format", "{{.Id}}"};
  args.insert(args.end(), images.begin(), images.end());
  auto r = docker_->Run(args, log, Step(deadline), cancel);
  if (!r.ok()) return r.status();
  if (r->cancelled) return Status::Cancelled("interrupted");
  if (!r->ok()) {
    std::vector<std::string> missing;
    for (const auto& img : images) {
      if (r->err.find(img) != std::string::npos) missing.push_back(img);
    }
    return Status::Infra("image(s) not present on this node: " +
                         (missing.empty() ? Join(images, ", ") : Join(missing, ", ")) +
                         " (no registry is consulted; build or load them first, e.g. scripts/setup)");
  }
  return Status::Ok();
}

Result<std::vector<SwarmRuntime::OtherNode>*> SwarmRuntime::OtherNodes(Deadline deadline) {
  if (other_nodes_) return &*other_nodes_;
  std::vector<OtherNode> out;
  if (nodes_ != nullptr) {
    auto nodes = nodes_->Nodes(docker_, Step(deadline));
    if (!nodes.ok()) return nodes.status();
    for (const auto& n : *nodes) {
      if (n.self || n.state != "ready") continue;
      auto exec = nodes_->For(n);
      if (!exec.ok()) return exec.status();
      out.push_back({n, std::make_unique<Docker>(*exec, docker_->binary())});
    }
  }
  other_nodes_ = std::move(out);
  return &*other_nodes_;
}

std::vector<Result<std::vector<std::string>>> SwarmRuntime::Inspect(Docker* on, const std::vector<std::string>& images,
                                                                   PhaseLog* log, Deadline deadline,
                                                                   const CancelToken& cancel) {
  auto plain = [](const std::string& image) {
    return !image.empty() && std::all_of(image.begin(), image.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '.' || c == '_' || c == '-' || c == '/' || c == ':' || c == '@';
    });
  };
  if (on == docker_ && api_ != nullptr && std::all_of(images.begin(), images.end(), plain)) {
    // A reference is one path of the API as it is (its router takes the rest of the path).
    std::vector<Result<std::vector<std::string>>> out;
    for (const auto& image : images) {
      if (cancel.cancelled()) {
        out.emplace_back(Status::Cancelled("interrupted"));
        continue;
      }
      auto a = api_->Call("GET", "/images/" + image + "/json", "", Step(deadline));
      if (!a.ok()) {
        out.emplace_back(a.status());
      } else if (a->status == 404) {
        out.emplace_back(Status::NotFound("image " + image + " is not on the node"));
      } else if (a->status != 200) {
        out.emplace_back(Status::Infra("Docker API GET /images/" + image + "/json answered " + std::to_string(a->status) +
                                       ": " + DockerApi::MessageOf(*a)));
      } else {
        auto j = nlohmann::json::parse(a->body, nullptr, false);
        std::vector<std::string> digests;
        if (j.is_object() && j.contains("RepoDigests") && j["RepoDigests"].is_array()) {
          for (const auto& d : j["RepoDigests"]) {
            if (d.is_string()) digests.push_back(d.get<std::string>());
          }
        }
        out.emplace_back(std::move(digests));
      }
    }
    return out;
  }
  std::vector<Docker::Job> jobs;
  for (const auto& image : images) jobs.push_back({on, {"image", "inspect", "--format", "{{json .RepoDigests}}", image}});
  auto results = Docker::RunAll(jobs, log, Step(deadline), cancel);
  std::vector<Result<std::vector<std::string>>> out;
  for (size_t i = 0; i < images.size(); ++i) {
    const auto& r = results[i];
    if (r.ok() && r->ok()) {
      auto j = nlohmann::json::parse(r->out, nullptr, false);
      std::vector<std::string> digests;
      if (j.is_array()) {
        for (const auto& d : j) {
          if (d.is_string()) digests.push_back(d.get<std::string>());
        }
      }
      out.emplace_back(std::move(digests));
    } else if (r.ok() && !r->cancelled && !r->timed_out &&
               (r->err.find("No such image") != std::string::npos || r->err.find("No such object") != std::string::npos)) {
      out.emplace_back(Status::NotFound("image " + images[i] + " is not on the node"));
    } else {
      out.emplace_back(Docker::Check(jobs[i].args, r));
    }
  }
  return out;
}

Status SwarmRuntime::CopyImage(OtherNode& to, const std::string& image, PhaseLog* log, Deadline deadline,
                               const CancelToken& cancel, nlohmann::json* copied) {
  // Copied through this machine: the nodes need not reach each other, nor a registry.
  Command save;
  save.argv = {docker_->binary(), "save", image};
  save.deadline = deadline;
  save.max_output = size_t{4} << 30;
  auto saved = docker_->executor()->Run(save, cancel);
  if (Status s = Docker::Check({"save", image}, saved); !s.ok()) return s;
  auto loaded = to.docker->Run({"load", "--quiet"}, log, deadline, cancel, saved->out);
  if (Status s = Docker::Check({"load", image}, loaded); !s.ok()) return s.Prefixed("node " + to.node.hostname);
  copied->push_back(image + " → " + to.node.hostname);
  return Status::Ok();
}

std::vector<SwarmRuntime::ImagePlan> SwarmRuntime::PlanImages(const std::vector<std::string>& images, PullPolicy policy,
                                                              PhaseLog* log, Deadline deadline,
                                                              const CancelToken& cancel) {
  std::vector<ImagePlan> out(images.size());
  auto have = Inspect(docker_, images, log, deadline, cancel);
  std::vector<Docker::Job> jobs;
  std::vector<size_t> ask;
  for (size_t i = 0; i < images.size(); ++i) {
    ImageReport& r = out[i].report;
    r.image = images[i];
    if (have[i].ok()) {
      r.digest = DigestFor(images[i], *have[i]);
      r.source = r.digest.empty() ? "local-only" : "present";
      if (policy != PullPolicy::kAlways) continue;
    } else if (have[i].status().code() != Status::Code::kNotFound) {
      out[i].report.source = "unknown";
      out[i].error = have[i].status().message();
      continue;
    } else if (policy == PullPolicy::kNever) {
      r.source = "missing";
      out[i].error = "not on the node, and the pull policy is 'never'";
      continue;
    }
    // The registry's answer, without pulling: its manifest and digest.
    jobs.push_back({docker_, {"manifest", "inspect", "--insecure", "--verbose", images[i]}});
    ask.push_back(i);
  }
  auto answers = Docker::RunAll(jobs, log, Step(deadline), cancel);
  for (size_t k = 0; k < ask.size(); ++k) {
    ImagePlan& plan = out[ask[k]];
    const auto& a = answers[k];
    bool was_present = plan.report.source == "present" || plan.report.source == "local-only";
    if (a.ok() && a->ok()) {
      auto j = nlohmann::json::parse(a->out, nullptr, false);
      if (j.is_array() && !j.empty()) j = j[0];  // a multi-platform list: the digest of the list is not shown
      std::string digest;
      if (j.is_object() && j.contains("Descriptor") && j["Descriptor"].is_object()) {
        digest = j["Descriptor"].value("digest", "");
      }
      plan.report.source = was_present ? plan.report.source : "pullable";
      if (!digest.empty()) plan.report.digest = digest;
      continue;
    }
    Status why = a.ok() ? PullFailure(images[ask[k]], a->err.empty() ? a->out : a->err, a->timed_out,
                                      Step(deadline).remaining())
                        : a.status();
    if (was_present) continue;  // `always` would pull it again; what is here still counts
    plan.report.source = why.code() == Status::Code::kFailed ? "missing" : "unknown";
    plan.error = why.message();
  }
  for (auto& p : out) p.report.pinned = PinnedReference(p.report.image, p.report.digest);
  return out;
}

Result<std::vector<ImageReport>> SwarmRuntime::EnsureImages(const std::vector<std::string>& images, PullPolicy policy,
                                                            PhaseLog* log, Deadline deadline,
                                                            const CancelToken& cancel,
                                                            const std::function<void(const std::string&)>& say) {
  const Duration budget = deadline.remaining();
  std::vector<ImageReport> reports(images.size());
  auto have = Inspect(docker_, images, log, deadline, cancel);
  std::vector<size_t> pull;
  for (size_t i = 0; i < images.size(); ++i) {
    reports[i].image = images[i];
    bool present = have[i].ok();
    if (!present && have[i].status().code() != Status::Code::kNotFound) return have[i].status();
    if (policy == PullPolicy::kAlways || (!present && policy == PullPolicy::kMissing)) {
      pull.push_back(i);
    } else if (!present) {
      return Status::Infra("image " + images[i] + " is not on the node and the pull policy is 'never' (pull it, " +
                           "build it, or run with --pull missing)");
    } else {
      reports[i].digest = DigestFor(images[i], *have[i]);
      reports[i].source = reports[i].digest.empty() ? "local-only" : "present";
    }
  }
  if (!pull.empty()) {
    std::vector<Docker::Job> jobs;
    for (size_t i : pull) {
      if (say) say("pulling image " + images[i]);
      jobs.push_back({docker_, {"pull", "--quiet", images[i]}});
    }
    auto pulled = Docker::RunAll(jobs, log, deadline, cancel);
    std::vector<std::string> names;
    for (size_t k = 0; k < pull.size(); ++k) {
      const auto& r = pulled[k];
      const std::string& image = images[pull[k]];
      if (!r.ok()) return r.status().Prefixed("image pull of " + image);
      if (r->cancelled) return Status::Cancelled("interrupted while pulling " + image);
      if (!r->ok()) return PullFailure(image, r->err.empty() ? r->out : r->err, r->timed_out, budget);
      reports[pull[k]].source = "pulled";
      reports[pull[k]].pull_time = r->elapsed;
      if (say) say("pulled image " + image + " in " + FormatDuration(r->elapsed));
      names.push_back(image);
    }
    auto after = Inspect(docker_, names, log, deadline, cancel);
    for (size_t k = 0; k < pull.size(); ++k) {
      if (!after[k].ok()) return after[k].status().Prefixed("image " + names[k] + " after its pull");
      reports[pull[k]].digest = DigestFor(names[k], *after[k]);
    }
  }
  for (auto& r : reports) r.pinned = PinnedReference(r.image, r.digest);

  // Tasks may land on any active node: each gets the same images, pulled there by digest
  // (the registry is reachable from every node) or, for a local-only image, copied.
  auto others = OtherNodes(deadline);
  if (!others.ok()) return others.status();
  nlohmann::json copied = nlohmann::json::array(), pulled_there = nlohmann::json::array();
  auto record = [&] {
    if (log != nullptr && !copied.empty()) log->Observe("images_copied", copied);
    if (log != nullptr && !pulled_there.empty()) log->Observe("images_pulled_on_nodes", pulled_there);
  };
  ScopeGuard observe(record);
  for (auto& o : **others) {
    if (o.node.availability != "active") continue;
    std::vector<std::string> pinned;
    for (const auto& r : reports) pinned.push_back(r.pinned);
    auto there = Inspect(o.docker.get(), pinned, log, deadline, cancel);
    std::vector<Docker::Job> jobs;
    std::vector<size_t> which;
    for (size_t i = 0; i < reports.size(); ++i) {
      if (there[i].ok()) continue;
      if (there[i].status().code() != Status::Code::kNotFound) return there[i].status().Prefixed("node " + o.node.hostname);
      if (reports[i].digest.empty()) {
        if (Status s = CopyImage(o, reports[i].image, log, deadline, cancel, &copied); !s.ok()) return s;
        continue;
      }
      jobs.push_back({o.docker.get(), {"pull", "--quiet", reports[i].pinned}});
      which.push_back(i);
    }
    auto pulled = Docker::RunAll(jobs, log, deadline, cancel);
    for (size_t k = 0; k < jobs.size(); ++k) {
      const auto& r = pulled[k];
      const std::string& image = reports[which[k]].pinned;
      if (!r.ok()) return r.status().Prefixed("node " + o.node.hostname + ": image pull of " + image);
      if (r->cancelled) return Status::Cancelled("interrupted while pulling " + image);
      if (!r->ok()) {
        return PullFailure(image, r->err.empty() ? r->out : r->err, r->timed_out, budget)
            .Prefixed("node " + o.node.hostname);
      }
      pulled_there.push_back({{"node", o.node.hostname}, {"image", image}});
    }
  }
  return reports;
}

}  // namespace harness
