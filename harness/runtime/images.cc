#include "runtime/images.h"

#include <algorithm>

#include "base/time.h"

namespace harness {

namespace {

bool Contains(const std::string& text, const char* what) { return text.find(what) != std::string::npos; }

// Docker's reason without its "Error response from daemon: " prefix, on one line.
std::string Reason(const std::string& docker_error) {
  std::string r = docker_error;
  const std::string prefix = "Error response from daemon: ";
  if (auto at = r.find(prefix); at != std::string::npos) r = r.substr(at + prefix.size());
  std::replace(r.begin(), r.end(), '\n', ' ');
  while (!r.empty() && r.back() == ' ') r.pop_back();
  return r;
}

}  // namespace

std::string ImageRef::Name() const {
  if (registry == "docker.io") {
    return repository.rfind("library/", 0) == 0 ? repository.substr(8) : repository;
  }
  return registry + "/" + repository;
}

ImageRef ParseImageRef(const std::string& image) {
  ImageRef ref;
  std::string rest = image;
  if (auto at = rest.find('@'); at != std::string::npos) {
    ref.digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
  }
  // A tag follows the last ':' after the last '/' (a registry's port comes before it).
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    ref.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  // The first part is a registry when it looks like a host: a '.', a ':' or "localhost".
  auto first = rest.find('/');
  std::string head = first == std::string::npos ? "" : rest.substr(0, first);
  if (!head.empty() && (head.find('.') != std::string::npos || head.find(':') != std::string::npos ||
                        head == "localhost")) {
    ref.registry = head == "index.docker.io" || head == "registry-1.docker.io" ? "docker.io" : head;
    ref.repository = rest.substr(first + 1);
    // Docker Hub's one-part names are its official images: docker.io/nginx is library/nginx.
    if (ref.registry == "docker.io" && ref.repository.find('/') == std::string::npos) {
      ref.repository = "library/" + ref.repository;
    }
  } else {
    ref.registry = "docker.io";
    ref.repository = rest.find('/') == std::string::npos ? "library/" + rest : rest;
  }
  return ref;
}

Result<PullPolicy> ParsePullPolicy(const std::string& text) {
  if (text == "missing" || text == "if_not_present") return PullPolicy::kMissing;
  if (text == "always") return PullPolicy::kAlways;
  if (text == "never") return PullPolicy::kNever;
  return Status::InvalidArgument("unknown pull policy '" + text + "' (use missing, always or never)");
}

const char* PullPolicyName(PullPolicy p) {
  switch (p) {
    case PullPolicy::kAlways: return "always";
    case PullPolicy::kNever: return "never";
    case PullPolicy::kMissing: break;
  }
  return "missing";
}

std::string DigestFor(const std::string& image, const std::vector<std::string>& repo_digests) {
  ImageRef want = ParseImageRef(image);
  if (!want.digest.empty()) return want.digest;
  for (const auto& entry : repo_digests) {
    auto at = entry.find('@');
    if (at == std::string::npos) continue;
    ImageRef have = ParseImageRef(entry);
    if (have.registry == want.registry && have.repository == want.repository) return entry.substr(at + 1);
  }
  return "";
}

std::string PinnedReference(const std::string& image, const std::string& digest) {
  if (digest.empty() || image.find('@') != std::string::npos) return image;
  return image + "@" + digest;
}

Status PullFailure(const std::string& image, const std::string& docker_error, bool timed_out, Duration budget) {
  ImageRef ref = ParseImageRef(image);
  std::string from = " from " + ref.registry;
  if (timed_out) {
    return Status::Infra("image pull of " + image + from + " timed out: not done within the pull budget of " +
                         FormatDuration(budget));
  }
  std::string reason = Reason(docker_error);
  if (Contains(reason, "manifest unknown") || Contains(reason, "no such manifest") || Contains(reason, "not found") ||
      Contains(reason, "name unknown") ||
      Contains(reason, "repository does not exist")) {
    // Docker Hub says the same of a private repository asked for without credentials.
    std::string login = Contains(reason, "docker login") ? "; if it is private, `docker login` on the target" : "";
    return Status::Failed("image " + image + " does not exist: " + ref.registry + " has no " + ref.repository +
                          (ref.digest.empty() ? ":" + ref.tag : "@" + ref.digest) + login + " (Docker: " + reason + ")");
  }
  // A busy or slow registry, by Docker's words for it (never by digits, which an address
  // may hold too).
  bool transient = Contains(reason, "HTTP status: 5") || Contains(reason, "Internal Server Error") ||
                   Contains(reason, "Bad Gateway") || Contains(reason, "Service Unavailable") ||
                   Contains(reason, "Gateway Timeout") || Contains(reason, "Too Many Requests") ||
                   Contains(reason, "toomanyrequests") || Contains(reason, "TLS handshake timeout") ||
                   Contains(reason, "i/o timeout") || Contains(reason, "connection timed out");
  return Status::Infra("image pull of " + image + from + (transient ? " failed transiently: " : " failed: ") + reason);
}

}  // namespace harness
