// ColdRun's serving check: the run's domain answers through the Swarm's proxy.
#include <algorithm>

#include "base/strings.h"
#include "base/wait.h"
#include "run/cold_run.h"

namespace harness {
namespace {

constexpr Duration kRequestTimeout{10000};
constexpr Duration kBetweenTries{1000};
constexpr size_t kBodyExcerpt = 200;

std::string Excerpt(const std::string& body) {
  std::string e = body.substr(0, kBodyExcerpt);
  for (char& c : e) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return e + (body.size() > kBodyExcerpt ? "..." : "");
}

}  // namespace

bool ColdRun::ChecksServing() const {
  return proxy_.has_value() && host_ != nullptr && host_->Routes(domain_);
}

Status ColdRun::CheckServing() {
  const Deadline deadline = Deadline::In(spec_->deploy_timeout);
  const std::string url = "https://" + domain_ + "/";
  std::string last;
  int tries = 0;
  for (;;) {
    ++tries;
    host_->ClearCalls();  // the packet keeps the last try's requests
    HttpRequest req;
    req.url = url;
    req.timeout = kRequestTimeout;
    auto r = host_->Http(req, deadline);
    if (!r.ok()) {
      if (r.status().code() == Status::Code::kCancelled || r.status().code() == Status::Code::kInfra) return r.status();
      last = r.status().message();
    } else if (r->status >= 200 && r->status < 400) {
      // A proxy may answer a name it does not route with a page of its own: the same
      // request under a Host no router has shows it.
      HttpRequest unrouted = req;
      unrouted.headers.emplace_back("Host", "unrouted." + out_.namespace_name + ".invalid");
      auto d = host_->Http(unrouted, deadline);
      if (!(d.ok() && d->status == r->status && d->body == r->body)) return Status::Ok();
      last = "status " + std::to_string(r->status) + ", the proxy's own answer for a name it does not route";
    } else {
      last = "status " + std::to_string(r->status) + (r->status == 404 ? " (no router of the proxy took it)" : "") +
             ", body: " + Excerpt(r->body);
    }
    if (deadline.remaining() <= kBetweenTries || !WaitFor(kBetweenTries, cancel_)) break;
  }
  if (cancel_.cancelled()) return Interrupted();
  std::vector<std::string> rules;  // what the recipe's router rules name, for the evidence
  for (const auto& fp : staged_->objects.footprints) rules.insert(rules.end(), fp.domains.begin(), fp.domains.end());
  return Status::Failed(url + " did not serve through the proxy (" + proxy_->how + ") within the deploy budget of " +
                        FormatDuration(spec_->deploy_timeout) + ", " + std::to_string(tries) + " tries; last: " + last +
                        "; the recipe's router rules name: " + (rules.empty() ? "nothing" : Join(rules, ", ")));
}

}  // namespace harness
