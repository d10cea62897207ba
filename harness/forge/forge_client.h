// Forge: the seam between serve and a Gitea or Forgejo server (they share API v1).
//
// NewGiteaClient() is the libcurl implementation; tests may implement Forge with a fake.
// The client owns its options (and so the token); the token is sent only in the
// Authorization header and never appears in a Status message. Expected failures are
// Status values: 401/403 InvalidArgument (the token is refused), 404 NotFound, other 4xx
// Failed, all at once; 5xx answers and transport failures are retried with exponential
// backoff, then Infra naming the endpoint. A request that is not idempotent (CreateComment)
// is retried only when the forge cannot have acted on it (no connection; 502/503/504).
//
// Thread-safety: the client may be used from several threads at once (one curl handle per
// request). The cancel token, if any, must outlive the client.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/cancel.h"
#include "base/deadline.h"
#include "base/status.h"

namespace harness {

struct PullRequest {
  int64_t number = 0;
  std::string state;  // "open" or "closed"
  std::string head_sha, head_ref, head_clone_url, base_clone_url, html_url;
};

struct ForgeComment {
  int64_t id = 0;
  int64_t pr = 0;        // the issue or pull request number (from its URL)
  bool on_pull = false;  // the comment is on a pull request, not a plain issue
  std::string user;
  std::string body;
  std::string created_at;
};

class Forge {
 public:
  virtual ~Forge() = default;
  // 204 yes; 404 no; a redirect (the bot cannot see the org's members) also no.
  virtual Result<bool> IsOrgMember(const std::string& org, const std::string& user) = 0;
  // 204 yes; 404, or 422 for a user that does not exist, no.
  virtual Result<bool> IsCollaborator(const std::string& owner, const std::string& repo,
                                      const std::string& user) = 0;
  virtual Result<PullRequest> GetPull(const std::string& owner, const std::string& repo,
                                      int64_t number) = 0;
  // Returns the new comment's id.
  virtual Result<int64_t> CreateComment(const std::string& owner, const std::string& repo,
                                        int64_t pr, const std::string& body) = 0;
  virtual Status EditComment(const std::string& owner, const std::string& repo, int64_t comment_id,
                             const std::string& body) = 0;
  // `state`: pending, success, failure, error or warning (else InvalidArgument, nothing sent).
  virtual Status SetStatus(const std::string& owner, const std::string& repo,
                           const std::string& sha, const std::string& state,
                           const std::string& context, const std::string& description,
                           const std::string& target_url) = 0;
  // Comments on the repository's issues and pull requests updated at or after `since_iso`
  // (RFC 3339; empty: all), in the forge's order (oldest first), every page followed; for
  // polling when webhooks cannot arrive. The bot's own comments are included.
  virtual Result<std::vector<ForgeComment>> CommentsSince(const std::string& owner,
                                                          const std::string& repo,
                                                          const std::string& since_iso) = 0;
};

struct ForgeOptions {
  std::string base_url;         // the forge's root, e.g. https://git.coopcloud.tech
  std::string token;            // an access token of the bot account
  Duration timeout{10000};      // per attempt
  int attempts = 4;             // at most, for retryable failures
  Duration first_backoff{500};  // doubled after each failed attempt
  std::string user_agent = "recipe-harness";
  // Interrupts transfers and backoff waits (Status::Cancelled); null: never.
  const CancelToken* cancel = nullptr;
};

// Gitea and Forgejo share API v1. REQUIRES: options.base_url is http(s)://...
std::unique_ptr<Forge> NewGiteaClient(ForgeOptions options);

}  // namespace harness
