#include "forge/forge_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <nlohmann/json.hpp>

#include "base/json_text.h"
#include "base/wait.h"
#include "net/curl_transfer.h"

// The endpoints, as documented by the swagger annotations in Gitea's routers/api/v1
// (org/member.go, repo/collaborators.go, repo/pull.go, repo/issue_comment.go, repo/status.go);
// Forgejo serves the same API v1:
// - GET  /orgs/{org}/members/{username}: 204 member, 404 not; when the token's user cannot
//   see the org's members it redirects (303) to /orgs/{org}/public_members/{username}.
// - GET  /repos/{o}/{r}/collaborators/{collaborator}: 204 yes, 404 no, 422 no such user.
// - GET  /repos/{o}/{r}/pulls/{index}: 200 PullRequest (head/base: ref, sha, repo.clone_url).
// - POST /repos/{o}/{r}/issues/{index}/comments {"body"}: 201 Comment.
// - PATCH /repos/{o}/{r}/issues/comments/{id} {"body"}: 200 Comment (204 for non-text).
// - POST /repos/{o}/{r}/statuses/{sha} {state, target_url, description, context}: 201;
//   state is one of pending, success, error, failure, warning.
// - GET  /repos/{o}/{r}/issues/comments?since&before&page&limit: 200 [Comment], filtered on
//   the *updated* time, X-Total-Count header; pull_request_url is set only for comments on
//   pull requests and issue_url only for comments on plain issues.
// - Authentication: "Authorization: token <token>".

namespace harness {
namespace {

using nlohmann::json;

constexpr size_t kMaxBody = 8 << 20;
constexpr int kPageSize = 50;
constexpr int kMaxPages = 1000;

struct Reply {
  long status = 0;
  std::string body;
  long long total_count = -1;  // X-Total-Count, when sent
};

struct Request {
  std::string method;
  std::string path;        // /api/v1/..., segments already escaped
  std::string query = "";  // already escaped, without '?'
  std::string body = "";   // JSON, or empty
  bool idempotent = true;
};

// The outcome of one transfer.
struct Attempt {
  bool transferred = false;  // an HTTP answer arrived (reply is valid)
  bool cancelled = false;
  bool sent = false;  // the request may have reached the forge
  std::string error;  // transport failure, when !transferred
  Reply reply;
};

// The "message" of a Gitea error body, short; empty if there is none.
std::string ForgeMessage(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("message") || !j["message"].is_string()) return "";
  std::string m = j["message"].get<std::string>().substr(0, 200);
  for (char& c : m) {
    if (!std::isprint(static_cast<unsigned char>(c))) c = ' ';
  }
  return m;
}

int64_t TrailingNumber(const std::string& url) {
  std::string u = url.substr(0, url.find_first_of("#?"));
  while (!u.empty() && u.back() == '/') u.pop_back();
  std::string digits = u.substr(u.find_last_of('/') + 1);
  if (digits.empty() || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return 0;
  }
  return std::stoll(digits);
}

std::string StringAt(const json& j, std::initializer_list<const char*> path) {
  const json* cur = &j;
  for (const char* key : path) {
    if (!cur->is_object() || !cur->contains(key)) return "";
    cur = &(*cur)[key];
  }
  return cur->is_string() ? cur->get<std::string>() : "";
}

class GiteaClient : public Forge {
 public:
  explicit GiteaClient(ForgeOptions o) : opt_(std::move(o)) {
    while (!opt_.base_url.empty() && opt_.base_url.back() == '/') opt_.base_url.pop_back();
    static const std::string kApi = "/api/v1";
    if (opt_.base_url.size() >= kApi.size() &&
        opt_.base_url.compare(opt_.base_url.size() - kApi.size(), kApi.size(), kApi) == 0) {
      opt_.base_url.resize(opt_.base_url.size() - kApi.size());
    }
    if (opt_.attempts < 1) opt_.attempts = 1;
  }

  Result<bool> IsOrgMember(const std::string& org, const std::string& user) override {
    auto o = Segment("organisation", org);
    auto u = Segment("user", user);
    if (!o.ok()) return o.status();
    if (!u.ok()) return u.status();
    Request req{"GET", "/api/v1/orgs/" + *o + "/members/" + *u};
    auto r = Send(req);
    if (!r.ok()) return r.status();
    if (r->status / 100 == 2) return true;
    if (r->status == 404 || r->status / 100 == 3) return false;
    return Refusal(req, *r);
  }

  Result<bool> IsCollaborator(const std::string& owner, const std::string& repo,
                              const std::string& user) override {
    auto base = RepoPath(owner, repo);
    auto u = Segment("user", user);
    if (!base.ok()) return base.status();
    if (!u.ok()) return u.status();
    Request req{"GET", *base + "/collaborators/" + *u};
    auto r = Send(req);
    if (!r.ok()) return r.status();
    if (r->status / 100 == 2) return true;
    if (r->status == 404 || r->status == 422) return false;
    return Refusal(req, *r);
  }

  Result<PullRequest> GetPull(const std::string& owner, const std::string& repo,
                              int64_t number) override {
    auto base = RepoPath(owner, repo);
    if (!base.ok()) return base.status();
    if (number <= 0) return Status::InvalidArgument("no pull request number");
    Request req{"GET", *base + "/pulls/" + std::to_string(number)};
    auto r = Send(req);
    if (!r.ok()) return r.status();
    if (r->status != 200) return Refusal(req, *r);
    json j = json::parse(r->body, nullptr, false);
    PullRequest pr;
    if (j.is_object() && j.contains("number") && j["number"].is_number_integer()) {
      pr.number = j["number"].get<int64_t>();
    }
    pr.state = StringAt(j, {"state"});
    pr.head_sha = StringAt(j, {"head", "sha"});
    pr.head_ref = StringAt(j, {"head", "ref"});
    pr.head_clone_url = StringAt(j, {"head", "repo", "clone_url"});
    pr.base_clone_url = StringAt(j, {"base", "repo", "clone_url"});
    pr.html_url = StringAt(j, {"html_url"});
    if (pr.number <= 0 || pr.head_sha.empty()) return Unexpected(req);
    return pr;
  }

  Result<int64_t> CreateComment(const std::string& owner, const std::string& repo, int64_t pr,
                                const std::string& body) override {
    auto base = RepoPath(owner, repo);
    if (!base.ok()) return base.status();
    if (pr <= 0) return Status::InvalidArgument("no pull request number");
    Request req{"POST", *base + "/issues/" + std::to_string(pr) + "/comments", "",
                JsonText(json{{"body", body}}), /*idempotent=*/false};
    auto r = Send(req);
    if (!r.ok()) return r.status();
    if (r->status / 100 != 2) return Refusal(req, *r);
    json j = json::parse(r->body, nullptr, false);
    if (!j.is_object() || !j.contains("id") || !j["id"].is_number_integer()) {
      return Unexpected(req);
    }
    return j["id"].get<int64_t>();
  }

  Status EditComment(const std::string& owner, const std::string& repo, int64_t comment_id,
                     const std::string& body) override {
    auto base = RepoPath(owner, repo);
    if (!base.ok()) return base.status();
    if (comment_id <= 0) return Status::InvalidArgument("no comment id");
    Request req{"PATCH", *base + "/issues/comments/" + std::to_string(comment_id), "",
                JsonText(json{{"body", body}})};
    auto r = Send(req);
    if (!r.ok()) return r.status();
    return r->status / 100 == 2 ? Status::Ok() : Refusal(req, *r);
  }

  Status SetStatus(const std::string& owner, const std::string& repo, const std::string& sha,
                   const std::string& state, const std::string& context,
                   const std::string& description, const std::string& target_url) override {
    static const char* kStates[] = {"pending", "success", "failure", "error", "warning"};
    if (std::find(std::begin(kStates), std::end(kStates), state) == std::end(kStates)) {
      return Status::InvalidArgument("commit status '" + state + "' is not one the forge knows");
    }
    auto base = RepoPath(owner, repo);
    auto s = Segment("commit", sha);
    if (!base.ok()) return base.status();
    if (!s.ok()) return s.status();
    json body = {{"state", state},
                 {"context", context},
                 {"description", description},
                 {"target_url", target_url}};
    // Idempotent: the newest status of a context wins, so a repeat changes nothing.
    Request req{"POST", *base + "/statuses/" + *s, "", JsonText(body)};
    auto r = Send(req);
    if (!r.ok()) return r.status();
    return r->status / 100 == 2 ? Status::Ok() : Refusal(req, *r);
  }

  Result<std::vector<ForgeComment>> CommentsSince(const std::string& owner, const std::string& repo,
                                                  const std::string& since_iso) override {
    auto base = RepoPath(owner, repo);
    if (!base.ok()) return base.status();
    std::vector<ForgeComment> out;
    for (int page = 1; page <= kMaxPages; ++page) {
      std::string query;
      if (!since_iso.empty()) query = "since=" + Escape(since_iso) + "&";
      query += "limit=" + std::to_string(kPageSize) + "&page=" + std::to_string(page);
      Request req{"GET", *base + "/issues/comments", query};
      auto r = Send(req);
      if (!r.ok()) return r.status();
      if (r->status != 200) return Refusal(req, *r);
      json list = json::parse(r->body, nullptr, false);
      if (!list.is_array()) return Unexpected(req);
      for (const json& c : list) {
        if (!c.is_object() || !c.contains("id") || !c["id"].is_number_integer()) {
          return Unexpected(req);
        }
        ForgeComment fc;
        fc.id = c["id"].get<int64_t>();
        fc.body = StringAt(c, {"body"});
        fc.user = StringAt(c, {"user", "login"});
        fc.created_at = StringAt(c, {"created_at"});
        std::string pr_url = StringAt(c, {"pull_request_url"});
        fc.on_pull = !pr_url.empty();
        fc.pr = TrailingNumber(fc.on_pull ? pr_url : StringAt(c, {"issue_url"}));
        out.push_back(std::move(fc));
      }
      // The forge may cap the page size below ours: trust its total when it sends one.
      bool more = r->total_count >= 0 ? static_cast<long long>(out.size()) < r->total_count
                                      : static_cast<int>(list.size()) >= kPageSize;
      if (list.empty() || !more) return out;
    }
    return Status::Failed("GET " + *base + "/issues/comments: more than " +
                          std::to_string(kMaxPages) + " pages of comments");
  }

 private:
  std::string Escape(const std::string& s) const {
    char* e = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
    if (e == nullptr) return "";
    std::string out(e);
    curl_free(e);
    return out;
  }

  Result<std::string> Segment(const std::string& what, const std::string& value) const {
    if (value.empty()) return Status::InvalidArgument("no " + what + " name for the forge API");
    return Escape(value);
  }

  Result<std::string> RepoPath(const std::string& owner, const std::string& repo) const {
    auto o = Segment("owner", owner);
    auto r = Segment("repository", repo);
    if (!o.ok()) return o.status();
    if (!r.ok()) return r.status();
    return "/api/v1/repos/" + *o + "/" + *r;
  }

  static std::string Endpoint(const Request& req) { return req.method + " " + req.path; }

  // Removes the token from text that may end up in a message (defence in depth: nothing the
  // forge or libcurl says should contain it).
  std::string Scrub(std::string s) const {
    if (opt_.token.empty()) return s;
    for (size_t at; (at = s.find(opt_.token)) != std::string::npos;) {
      s.replace(at, opt_.token.size(), "[token]");
    }
    return s;
  }

  std::string Describe(const Reply& r) const {
    std::string m = ForgeMessage(r.body);
    return "HTTP " + std::to_string(r.status) + (m.empty() ? "" : " (" + Scrub(m) + ")");
  }

  // A 3xx or 4xx answer as a Status.
  Status Refusal(const Request& req, const Reply& r) const {
    std::string what = Endpoint(req) + ": " + Describe(r);
    if (r.status == 401 || r.status == 403) {
      return Status::InvalidArgument("the forge refused the token: " + what);
    }
    if (r.status == 404) return Status::NotFound(what);
    return Status::Failed("the forge rejected " + what);
  }

  Status Unexpected(const Request& req) const {
    return Status::Failed(Endpoint(req) + ": the forge's answer is not the JSON expected");
  }

  // Waits before the next attempt; false if cancelled meanwhile.
  bool Backoff(Duration d) const { return WaitFor(d, opt_.cancel != nullptr ? *opt_.cancel : CancelToken::None()); }

  // Any answer below 500 is returned as is; 5xx and transport failures are retried.
  Result<Reply> Send(const Request& req) const {
    Duration backoff = opt_.first_backoff;
    std::string last;
    for (int attempt = 1; attempt <= opt_.attempts; ++attempt) {
      if (opt_.cancel != nullptr && opt_.cancel->cancelled()) {
        return Status::Cancelled(Endpoint(req) + ": interrupted");
      }
      Attempt a = Once(req);
      if (a.cancelled) return Status::Cancelled(Endpoint(req) + ": interrupted");
      bool retry;
      if (!a.transferred) {
        last = a.error;
        retry = req.idempotent || !a.sent;
      } else if (a.reply.status >= 500) {
        last = Describe(a.reply);
        long s = a.reply.status;
        retry = req.idempotent || s == 502 || s == 503 || s == 504;
      } else {
        return a.reply;
      }
      if (!retry) {
        return Status::Infra(Endpoint(req) + ": " + last +
                             " (not retried: the forge may have acted on it)");
      }
      if (attempt < opt_.attempts) {
        if (!Backoff(backoff)) return Status::Cancelled(Endpoint(req) + ": interrupted");
        backoff = std::min(backoff * 2, Duration(60000));
      }
    }
    return Status::Infra(Endpoint(req) + ": " + last + " (after " + std::to_string(opt_.attempts) +
                         " attempt" + (opt_.attempts == 1 ? "" : "s") + ")");
  }

  Attempt Once(const Request& req) const {
    TransferRequest t;
    t.method = req.method;
    t.url = opt_.base_url + req.path + (req.query.empty() ? "" : "?" + req.query);
    t.protocols = "http,https";
    t.timeout = opt_.timeout;
    t.connect_timeout = opt_.timeout;
    t.user_agent = opt_.user_agent;
    t.max_body = kMaxBody;
    t.cancel = opt_.cancel;
    t.body = req.body;
    t.send_body = req.method == "POST" || req.method == "PATCH" || req.method == "PUT";
    t.headers.push_back("Accept: application/json");
    if (!req.body.empty()) t.headers.push_back("Content-Type: application/json");
    if (!opt_.token.empty()) t.headers.push_back("Authorization: token " + opt_.token);
    t.headers.push_back("Expect:");  // no 100-continue round trip

    Attempt a;
    TransferResponse out;
    Status s = CurlTransfer().Perform(t, &out);  // a new connection for every attempt
    a.sent = out.sent;
    if (s.code() == Status::Code::kCancelled) {
      a.cancelled = true;
    } else if (s.code() == Status::Code::kTimeout) {
      a.error = s.message();
    } else if (!s.ok()) {
      a.error = Scrub(s.message());
    } else {
      a.reply.status = out.status;
      a.reply.body = std::move(out.body);
      for (const auto& [name, value] : out.headers) {
        if (name != "x-total-count") continue;
        try {
          a.reply.total_count = std::stoll(value);
        } catch (...) {
          a.reply.total_count = -1;
        }
      }
      a.transferred = true;
    }
    return a;
  }

  ForgeOptions opt_;
};

}  // namespace

std::unique_ptr<Forge> NewGiteaClient(ForgeOptions options) {
  return std::make_unique<GiteaClient>(std::move(options));
}

}  // namespace harness
