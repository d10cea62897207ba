// Forge webhooks: whether a delivery is genuine, and what it asks the harness to do.
//
// Gitea and Forgejo sign the raw request body with HMAC-SHA256 under the hook's secret and
// send the lower-case hex tag in X-Gitea-Signature (Forgejo also in X-Forgejo-Signature);
// the event name is in X-Gitea-Event / X-Forgejo-Event, a finer one in *-Event-Type, and a
// delivery id in *-Delivery. ParseWebhook() reads an already verified body into a
// ForgeEvent; it never echoes the body in a message. Which commenters may trigger a run,
// and ignoring the bot's own comments, is decided by the caller (serve).
//
// Pure functions on values: any thread.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace harness {

// The lower-case hex HMAC-SHA256 of `body` under `secret` (what the forge sends).
std::string HmacSha256Hex(const std::string& secret, const std::string& body);

// True when `signature_hex` (hex in either case, optionally "sha256="-prefixed) is the
// HMAC-SHA256 of `body` under `secret`. Compared in constant time; a wrong length or non-hex
// is false; an empty secret never verifies.
bool VerifySignature(const std::string& secret, const std::string& body,
                     const std::string& signature_hex);

// True when some line of a comment, outside ``` fences, is the `!testme` command: after
// trimming, exactly "!testme" or "!testme" followed by whitespace and arguments.
// "please !testme" and "> !testme" (a quote) are not commands.
bool IsTestmeComment(const std::string& body);

struct ForgeEvent {
  enum class Kind {
    kTestme,       // a `!testme` comment on a pull request
    kPullUpdated,  // a pull request opened, pushed to, reopened or closed
    kIgnored,      // anything else; why_ignored says why
  };
  Kind kind = Kind::kIgnored;
  std::string why_ignored;
  std::string action;  // the payload's action: "created", "synchronized", "closed"...
  std::string owner, repo, full_name, clone_url;  // the base repository
  int64_t pr = 0;
  std::string pr_state;  // "open" or "closed", when the payload says
  std::string user;      // the commenter (kTestme) or the sender (kPullUpdated)
  int64_t comment_id = 0;
  std::string head_sha;        // always for kPullUpdated; for kTestme only if sent (Forgejo)
  std::string head_clone_url;  // empty when the head repository is gone
  std::string delivery;        // not in the body: the caller copies X-*-Delivery here
};

// `event_header`: the X-Gitea-Event or X-Forgejo-Event value ("issue_comment",
// "pull_request"); the X-*-Event-Type values "pull_request_comment" and
// "pull_request_sync" are accepted too (a "pull_request_comment" body without a "comment",
// i.e. a review comment on the diff, is kIgnored). Only a *created* comment is kTestme.
// Unknown events are kIgnored without parsing the body. Malformed JSON or a missing required
// field: InvalidArgument naming the field.
Result<ForgeEvent> ParseWebhook(const std::string& event_header, const std::string& body);

}  // namespace harness
