// The serving check: a domain answers through the Swarm's proxy (RunHost::Serves), and the
// test that opens a routed recipe's test phase with it (ColdRun::CheckServing).
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

Status RunHost::Serves(const std::string& name, const std::string& path, Deadline deadline) {
  if (!Routes(name)) {
    return Status::InvalidArgument(name + " is not a name the recipe's router rules give (they give: " +
                                   (domains_.empty() ? std::string("none") : Join(domains_, ", ")) + ")");
  }
  const std::string url = "https://" + name + path;
  std::string last;
  int tries = 0;
  const size_t before = calls_.size();  // the hook's own calls so far stay
  for (;;) {
    ++tries;
    calls_.erase(calls_.begin() + static_cast<std::ptrdiff_t>(std::min(before, calls_.size())), calls_.end());
    // (the packet keeps the last try's requests)
    HttpRequest req;
    req.url = url;
    req.timeout = kRequestTimeout;
    auto r = Http(req, deadline);
    if (!r.ok()) {
      if (r.status().code() == Status::Code::kCancelled || r.status().code() == Status::Code::kInfra) return r.status();
      last = r.status().message();
    } else if (r->status >= 200 && r->status < 400) {
      // A proxy may answer a name it does not route with a page of its own: the same
      // request under a Host no router has shows it.
      HttpRequest unrouted = req;
      unrouted.headers.emplace_back("Host", "unrouted." + ns_ + ".invalid");
      auto d = Http(unrouted, deadline);
      auto location = [](const HttpResponse& h) {
        for (const auto& [k, v] : h.headers) {
          if (k == "location") return v;
        }
        return std::string();
      };
      if (!(d.ok() && d->status == r->status && d->body == r->body && location(*d) == location(*r))) {
        return Status::Ok();
      }
      last = "status " + std::to_string(r->status) + ", the proxy's own answer for a name it does not route";
    } else {
      last = "status " + std::to_string(r->status) + (r->status == 404 ? " (no router of the proxy took it)" : "") +
             ", body: " + Excerpt(r->body);
    }
    if (deadline.remaining() <= kBetweenTries || !WaitFor(kBetweenTries, cancel())) break;
  }
  if (cancel().cancelled()) return Status::Cancelled("interrupted");
  return Status::Failed(url + " did not serve through the proxy (" + proxy_->how + ") in " + std::to_string(tries) +
                        (tries == 1 ? " try" : " tries") + "; last: " + last);
}

bool ColdRun::ChecksServing() const {
  return spec_->serving && proxy_.has_value() && host_ != nullptr && host_->Routes(domain_);
}

Status ColdRun::CheckServing() {
  Status s = host_->Serves(domain_, spec_->serving_path, Deadline::In(spec_->deploy_timeout));
  if (s.code() == Status::Code::kCancelled) return Interrupted();
  if (s.code() != Status::Code::kFailed) return s;
  std::vector<std::string> rules;  // what the recipe's router rules name, for the evidence
  for (const auto& d : routed_domains_) {
    if (d != domain_ || domain_in_rules_) rules.push_back(d);
  }
  return Status::Failed(s.message() + " (within the deploy budget of " + FormatDuration(spec_->deploy_timeout) +
                        "); the recipe's router rules name: " + (rules.empty() ? "nothing" : Join(rules, ", ")));
}

}  // namespace harness
