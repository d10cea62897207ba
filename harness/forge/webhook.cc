#include "forge/webhook.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/strings.h"

// What this file relies on, as read in the Gitea and Forgejo sources (go-gitea/gitea and
// Forgejo's services/webhook/shared/payloader.go, modules/structs/hook.go, issue.go,
// pull.go, issue_comment.go, modules/webhook/type.go):
// - The signature is hex(HMAC-SHA256(secret, body)) over the exact bytes sent, in
//   X-Gitea-Signature, X-Gogs-Signature and (Forgejo) X-Forgejo-Signature; X-Hub-Signature-256
//   carries the same value as "sha256=<hex>". No secret configured: the header is empty.
// - X-*-Event is HookEventType.Event(): a comment on an issue *or* a pull request is
//   "issue_comment"; X-*-Event-Type is the finer type, "pull_request_comment" for a comment on
//   a pull request. "pull_request_comment" as the X-*-Event is a *review* comment on the diff,
//   whose body is a PullRequestPayload (no "comment" object). Pushes to a PR are event
//   "pull_request" (type "pull_request_sync") with action "synchronized".
// - IssueCommentPayload: action (created|edited|deleted), issue (number, state, pull_request:
//   null for plain issues, an object for PRs), comment (id, body, user.login), repository
//   (full_name, name, owner.login, clone_url), sender, is_pull; Forgejo also sends the full
//   pull_request (head.sha...) for comments on PRs.
// - PullRequestPayload: action, number, pull_request (state, html_url, head/base: ref, sha,
//   repo.clone_url; head.repo is null when the fork is gone), repository, sender.

namespace harness {
namespace {

using nlohmann::json;

// A value from a delivery, fit to quote in a message: short and printable.
std::string Quote(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 40)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  if (s.size() > 40) out += "...";
  return "'" + out + "'";
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool HmacSha256(const std::string& secret, const std::string& body, unsigned char* out) {
  static const unsigned char kNoKey = 0;
  unsigned int len = 0;
  const void* key = secret.empty() ? static_cast<const void*>(&kNoKey) : secret.data();
  const auto* data = reinterpret_cast<const unsigned char*>(body.data());
  return HMAC(EVP_sha256(), key, static_cast<int>(secret.size()), data, body.size(), out, &len) !=
             nullptr &&
         len == 32;
}

// Reads fields by path and remembers the first required one that is missing.
class Fields {
 public:
  explicit Fields(const json& root) : root_(root) {}

  const json* Find(std::initializer_list<const char*> path) const {
    const json* cur = &root_;
    for (const char* key : path) {
      if (!cur->is_object()) return nullptr;
      auto it = cur->find(key);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    }
    return cur;
  }
  std::string Optional(std::initializer_list<const char*> path) const {
    const json* v = Find(path);
    return v != nullptr && v->is_string() ? v->get<std::string>() : "";
  }
  // A non-empty string (`may_be_empty`: any string).
  std::string String(std::initializer_list<const char*> path, bool may_be_empty = false) {
    const json* v = Find(path);
    if (v == nullptr || !v->is_string() || (!may_be_empty && v->get<std::string>().empty())) {
      Missing(path);
      return "";
    }
    return v->get<std::string>();
  }
  // A positive integer.
  int64_t Int(std::initializer_list<const char*> path) {
    const json* v = Find(path);
    if (v == nullptr || !v->is_number_integer() || v->get<int64_t>() <= 0) {
      Missing(path);
      return 0;
    }
    return v->get<int64_t>();
  }
  // A login: "login", or "username" as newer forges also send.
  std::string Login(std::initializer_list<const char*> user_path) {
    std::vector<const char*> p(user_path);
    const json* user = Find(user_path);
    if (user != nullptr && user->is_object()) {
      for (const char* key : {"login", "username"}) {
        auto it = user->find(key);
        if (it != user->end() && it->is_string() && !it->get<std::string>().empty()) {
          return it->get<std::string>();
        }
      }
    }
    p.push_back("login");
    Missing(p);
    return "";
  }
  Status status() const {
    if (missing_.empty()) return Status::Ok();
    return Status::InvalidArgument("the webhook payload has no valid '" + missing_ + "'");
  }

 private:
  template <typename Path>
  void Missing(const Path& path) {
    if (!missing_.empty()) return;
    for (const char* key : path) missing_ += (missing_.empty() ? "" : ".") + std::string(key);
  }

  const json& root_;
  std::string missing_;
};

void ReadRepository(Fields& f, ForgeEvent* e) {
  e->full_name = f.String({"repository", "full_name"});
  e->repo = f.String({"repository", "name"});
  e->owner = f.Login({"repository", "owner"});
  e->clone_url = f.String({"repository", "clone_url"});
}

ForgeEvent Ignored(ForgeEvent e, std::string why) {
  e.kind = ForgeEvent::Kind::kIgnored;
  e.why_ignored = std::move(why);
  return e;
}

Result<ForgeEvent> ParseComment(const json& root, bool review_event) {
  ForgeEvent e;
  if (review_event && !root.contains("comment")) {
    return Ignored(e, "a review comment on the diff, not a conversation comment");
  }
  Fields f(root);
  e.action = f.String({"action"});
  ReadRepository(f, &e);
  e.pr = f.Int({"issue", "number"});
  e.comment_id = f.Int({"comment", "id"});
  std::string body = f.String({"comment", "body"}, /*may_be_empty=*/true);
  e.user = f.Login({"comment", "user"});
  if (Status s = f.status(); !s.ok()) return s;
  e.pr_state = f.Optional({"issue", "state"});
  e.head_sha = f.Optional({"pull_request", "head", "sha"});
  e.head_clone_url = f.Optional({"pull_request", "head", "repo", "clone_url"});

  const json* meta = f.Find({"issue", "pull_request"});
  const json* is_pull = f.Find({"is_pull"});
  bool on_pull = (meta != nullptr && meta->is_object()) ||
                 (is_pull != nullptr && is_pull->is_boolean() && is_pull->get<bool>());
  // Only new comments trigger: editing an old `!testme` (fixing a typo) must not start a run.
  if (e.action != "created") return Ignored(e, "comment " + Quote(e.action) + ", not created");
  if (!on_pull) return Ignored(e, "a comment on an issue, not on a pull request");
  if (!IsTestmeComment(body)) return Ignored(e, "the comment has no !testme line");
  e.kind = ForgeEvent::Kind::kTestme;
  return e;
}

Result<ForgeEvent> ParsePull(const json& root) {
  ForgeEvent e;
  Fields f(root);
  e.action = f.String({"action"});
  ReadRepository(f, &e);
  e.pr = f.Int({"number"});
  e.head_sha = f.String({"pull_request", "head", "sha"});
  e.user = f.Login({"sender"});
  if (Status s = f.status(); !s.ok()) return s;
  e.pr_state = f.Optional({"pull_request", "state"});
  e.head_clone_url = f.Optional({"pull_request", "head", "repo", "clone_url"});
  // Gitea and Forgejo say "synchronized"; GitHub-style senders say "synchronize".
  static const char* kUpdates[] = {"opened", "reopened", "synchronized", "synchronize", "closed"};
  if (std::find(std::begin(kUpdates), std::end(kUpdates), e.action) == std::end(kUpdates)) {
    return Ignored(e, "pull request " + Quote(e.action) + " does not change what is tested");
  }
  e.kind = ForgeEvent::Kind::kPullUpdated;
  return e;
}

}  // namespace

std::string HmacSha256Hex(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  if (!HmacSha256(secret, body, mac)) return "";
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 32; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 0xf];
  }
  return out;
}

bool VerifySignature(const std::string& secret, const std::string& body,
                     const std::string& signature_hex) {
  if (secret.empty()) return false;
  std::string sig = Trim(signature_hex);
  if (Lower(sig.substr(0, 7)) == "sha256=") sig = sig.substr(7);
  if (sig.size() != 64) return false;
  unsigned char given[32];
  for (size_t i = 0; i < 32; ++i) {
    int hi = HexValue(sig[2 * i]), lo = HexValue(sig[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    given[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  unsigned char expected[EVP_MAX_MD_SIZE];
  if (!HmacSha256(secret, body, expected)) return false;
  return CRYPTO_memcmp(given, expected, 32) == 0;
}

bool IsTestmeComment(const std::string& body) {
  static const std::string kCommand = "!testme";
  bool in_fence = false;
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    std::string line = Trim(body.substr(start, end - start));
    start = end + 1;
    if (line.rfind("```", 0) == 0 || line.rfind("~~~", 0) == 0) {
      in_fence = !in_fence;
      continue;
    }
    if (in_fence || line.rfind(kCommand, 0) != 0) continue;
    if (line.size() == kCommand.size() ||
        std::isspace(static_cast<unsigned char>(line[kCommand.size()]))) {
      return true;
    }
  }
  return false;
}

Result<ForgeEvent> ParseWebhook(const std::string& event_header, const std::string& body) {
  std::string event = Lower(Trim(event_header));
  if (event.empty()) {
    return Status::InvalidArgument("the delivery names no event (X-Gitea-Event / X-Forgejo-Event)");
  }
  bool comment = event == "issue_comment" || event == "pull_request_comment";
  bool pull = event == "pull_request" || event == "pull_request_sync";
  if (!comment && !pull) {
    ForgeEvent e;
    return Ignored(e, "event " + Quote(event) + " is not one the harness acts on");
  }
  json root = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return Status::InvalidArgument("the webhook body is not a JSON object");
  }
  return comment ? ParseComment(root, event == "pull_request_comment") : ParsePull(root);
}

}  // namespace harness
