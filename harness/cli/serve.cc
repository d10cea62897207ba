// harness serve: receive !testme comments from Gitea/Forgejo (webhooks or polling) and test
// the pull requests' heads, posting the results back.
#include <cstdlib>

#include "base/files.h"
#include "cli/command.h"
#include "forge/forge_client.h"
#include "serve/queue.h"
#include "serve/server.h"

namespace harness {
namespace {

// The first line of `file`, or $`env` when no file is given; trailing blanks dropped.
Status SecretFrom(const std::string& file, const char* env, std::string* out) {
  if (!file.empty()) {
    auto text = ReadFile(file);
    if (!text.ok()) return Status::InvalidArgument(text.status().message());
    *out = text->substr(0, text->find('\n'));
  } else if (const char* v = std::getenv(env); v != nullptr) {
    *out = v;
  }
  while (!out->empty() && (out->back() == '\r' || out->back() == ' ')) out->pop_back();
  return Status::Ok();
}

// "HOST:PORT" (port 0: any free one).
Status ParseListen(const std::string& listen, std::string* host, int* port) {
  auto colon = listen.rfind(':');
  try {
    if (colon == std::string::npos) throw std::invalid_argument("no port");
    *host = listen.substr(0, colon);
    *port = std::stoi(listen.substr(colon + 1));
    if (*port < 0 || *port > 65535 || host->empty()) throw std::out_of_range("port");
  } catch (const std::exception&) {
    return Status::InvalidArgument("serve: --listen '" + listen + "' is not HOST:PORT");
  }
  return Status::Ok();
}

class ServeSubcommand final : public Subcommand {
 public:
  void AddFlags(CLI::App* sub) override {
    sub->add_option("--listen", listen_, "Address and port for webhooks (port 0: any free one)")->capture_default_str();
    sub->add_option("--port-file", opts_.port_file, "Write the port listened on to this file");
    sub->add_option("--forge-url", forge_url_, "The forge's address, e.g. https://git.coopcloud.tech")->required();
    sub->add_option("--forge-token-file", token_file_, "File holding the forge API token (or $HARNESS_FORGE_TOKEN)");
    sub->add_option("--webhook-secret-file", secret_file_,
                    "File holding the webhooks' shared secret (or $HARNESS_WEBHOOK_SECRET)");
    sub->add_option("--allow-user", opts_.allow_users, "A user who may start runs (repeatable)");
    sub->add_option("--allow-org", opts_.allow_orgs, "Members of this organisation may start runs (repeatable)");
    sub->add_flag("--allow-collaborators", opts_.allow_collaborators,
                  "Collaborators of the recipe's repository may start runs");
    sub->add_option("--max-body", opts_.max_body, "Largest webhook body in bytes (413 beyond)")
        ->capture_default_str()->check(CLI::Range(1024, 64 << 20));
    sub->add_option("--per-pr-per-hour", opts_.per_pr_per_hour, "Runs per pull request per hour")
        ->capture_default_str()->check(CLI::Range(1, 1000));
    sub->add_option("--per-user-per-hour", opts_.per_user_per_hour, "Runs per user per hour")
        ->capture_default_str()->check(CLI::Range(1, 1000));
    sub->add_option("-j,--jobs", opts_.jobs, "Runs at a time")->capture_default_str()->check(CLI::Range(1, 16));
    sub->add_option("--poll-repo", opts_.poll_repos,
                    "Poll this repository (owner/name) for !testme comments instead of, or besides, webhooks");
    sub->add_option("--poll-interval", poll_seconds_, "Seconds between polls (with --poll-repo)")
        ->capture_default_str()->check(CLI::Range(0, 86400));
    sub->add_option("--status-context", opts_.status_context, "Commit status context (/<recipe> is added)")
        ->capture_default_str();
  }

  Status Check(Context& ctx) override {
    if (Status s = SecretFrom(token_file_, "HARNESS_FORGE_TOKEN", &forge_.token); !s.ok()) {
      return s.Prefixed("serve: --forge-token-file");
    }
    if (Status s = SecretFrom(secret_file_, "HARNESS_WEBHOOK_SECRET", &opts_.webhook_secret); !s.ok()) {
      return s.Prefixed("serve: --webhook-secret-file");
    }
    if (forge_.token.empty()) {
      return Status::InvalidArgument(
          "serve: no forge token (--forge-token-file or $HARNESS_FORGE_TOKEN): results could not be posted");
    }
    if (opts_.webhook_secret.empty() && opts_.poll_repos.empty()) {
      return Status::InvalidArgument(
          "serve: no webhook secret (--webhook-secret-file or $HARNESS_WEBHOOK_SECRET); without one every delivery "
          "is refused — give one, or poll with --poll-repo");
    }
    if (opts_.allow_users.empty() && opts_.allow_orgs.empty() && !opts_.allow_collaborators) {
      return Status::InvalidArgument(
          "serve: nobody may start runs: give --allow-user, --allow-org or --allow-collaborators");
    }
    for (const auto& r : opts_.poll_repos) {
      if (r.find('/') == std::string::npos || r.front() == '/' || r.back() == '/') {
        return Status::InvalidArgument("serve: --poll-repo '" + r + "' is not owner/name");
      }
    }
    if (!opts_.poll_repos.empty() && poll_seconds_ == 0) poll_seconds_ = 60;
    opts_.poll_interval = Duration(static_cast<int64_t>(poll_seconds_) * 1000);
    if (Status s = ParseListen(listen_, &opts_.host, &opts_.port); !s.ok()) return s;
    auto queue = ServeQueue::Open(ctx.g.state);
    if (!queue.ok()) return Status::Infra(queue.status().message());
    queue_ = std::move(*queue);
    return Status::Ok();
  }

  Status Run(Context& ctx) override {
    forge_.base_url = forge_url_;
    forge_.cancel = &CancelToken::Signals();
    auto forge = NewGiteaClient(forge_);
    opts_.base = ctx.base;
    Server server(opts_, forge.get(), queue_.get(), ctx.docker.get(), ctx.progress);
    if (Status s = server.Run(CancelToken::Signals()); !s.ok()) return Status::Infra("serve: " + s.message());
    return Status::Cancelled("");
  }

 private:
  ServeOptions opts_;
  ForgeOptions forge_;
  std::string listen_ = "127.0.0.1:8088", forge_url_, token_file_, secret_file_;
  int poll_seconds_ = 0;
  std::unique_ptr<ServeQueue> queue_;
};

}  // namespace

std::unique_ptr<Subcommand> NewServeCommand() { return std::make_unique<ServeSubcommand>(); }

}  // namespace harness
