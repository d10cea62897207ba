#include "cli/context.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>

#include "events/console.h"
#include "exec/local_executor.h"
#include "recipe/naming.h"
#include "source/recipe_source.h"

namespace harness {

void AddGlobalOptions(CLI::App* app, GlobalOptions* g) {
  app->add_option("--recipes", g->recipes, "Folder of recipes (<name>/recipe.lua)")->capture_default_str();
  app->add_option("--artifacts", g->artifacts, "Folder for proof packets, logs and summaries")
      ->capture_default_str();
  app->add_option("--docker", g->docker, "Docker CLI to use")->capture_default_str();
  app->add_option("--domain-suffix", g->domain_suffix, "Domains are <namespace>.<suffix>")->capture_default_str();
  app->add_option("--proxy", g->proxy,
                  "The Swarm's reverse proxy for requests by domain, host:port of its https entry as the target "
                  "sees it (default: the service on the proxy network that publishes 443)");
  app->add_option("--proxy-ca", g->proxy_ca,
                  "CA bundle (PEM) the proxy's certificates must verify against (default: the system's)");
  app->add_option("--state", g->state, "Folder of the ledger and run locks")->capture_default_str();
  app->add_option("--runtime", g->runtime, "How deploys are made: 'swarm' (docker stack deploy) or 'abra'")
      ->capture_default_str()
      ->check(CLI::IsMember({"swarm", "abra"}));
  app->add_option("--pull", g->pull,
                  "Image pull policy for every run: 'missing' (pull what the nodes lack), 'always', 'never' "
                  "(default: the recipe's, else missing)")
      ->check(CLI::IsMember({"missing", "always", "never"}));
  app->add_option("--script-memory", g->script_memory_mib,
                  "MiB of memory a recipe's Lua script may use; a script that needs more fails")
      ->capture_default_str()
      ->check(CLI::Range(16, 16384));
  app->add_option("--abra", g->abra.binary, "The abra command line to use with --runtime abra")
      ->capture_default_str();
  app->add_option("--compose-policy", g->compose_policy,
                  "What untrusted heads (run --commit, serve) may ask of the Swarm beyond the default "
                  "(docs/policy.md)");
  app->add_option("--target", g->target, "Where the Swarm is: 'local', or a manager over SSH, ssh://[user@]host[:port]")
      ->capture_default_str();
  app->add_option("--ssh-key", g->ssh.identity_file,
                  "Private key for --target (default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa)");
  app->add_option("--known-hosts", g->ssh.known_hosts, "known_hosts file for --target (default: ~/.ssh/known_hosts)");
  app->add_flag("--accept-new-host-key", g->ssh.accept_new_host_key,
                "Trust and record the key of a host not yet in known_hosts (a changed key is always refused)");
  app->add_flag("--json", g->json, "Machine output: the summary as JSON on stdout, progress as JSON lines on stderr");
  app->add_flag("-q,--quiet", g->quiet, "No progress on stderr");
  app->add_flag("--plain", g->plain, "Progress as plain lines, also on a terminal (the default for pipes and files)");
}

namespace {

// Progress: a live view on a terminal, plain lines otherwise, JSON lines with --json.
std::unique_ptr<EventSink> NewConsole(const GlobalOptions& g) {
  if (g.quiet) return nullptr;
  if (g.json) return std::make_unique<JsonConsole>(&std::cerr);
  if (!g.plain && ConsoleLive(STDERR_FILENO)) {
    auto live = std::make_unique<LiveConsole>(&std::cerr, ConsoleColor(STDERR_FILENO),
                                              [] { return ConsoleWidth(STDERR_FILENO); });
    live->StartTicker(Duration(250));
    return live;
  }
  return std::make_unique<PlainConsole>(&std::cerr, ConsoleColor(STDERR_FILENO));
}

// --proxy is host:port (a name or an IPv4 address, a port 1-65535); --proxy-ca a file.
Status ValidateProxy(const std::string& proxy, const std::string& ca) {
  if (!proxy.empty()) {
    auto colon = proxy.rfind(':');
    std::string host = colon == std::string::npos ? "" : proxy.substr(0, colon);
    std::string port = colon == std::string::npos ? "" : proxy.substr(colon + 1);
    bool host_ok = !host.empty() && host.size() <= 253 &&
                   std::all_of(host.begin(), host.end(), [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '-'; });
    bool port_ok = !port.empty() && port.size() <= 5 &&
                   std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }) &&
                   std::stoi(port) >= 1 && std::stoi(port) <= 65535;
    if (!host_ok || !port_ok) return Status::InvalidArgument("--proxy: expected host:port, got '" + proxy + "'");
  }
  if (!ca.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(ca, ec) || access(ca.c_str(), R_OK) != 0) {
      return Status::InvalidArgument("--proxy-ca: no readable file: " + ca);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Context>> OpenContext(const GlobalOptions& g, ContextNeeds needs) {
  if (Status s = ValidateDomain(g.domain_suffix); !s.ok()) return s.Prefixed("--domain-suffix");
  if (Status s = ValidateProxy(g.proxy, g.proxy_ca); !s.ok()) return s;
  auto target = ParseTarget(g.target);
  if (!target.ok()) return target.status().Prefixed("--target");
  Result<ComposePolicy> policy = ComposePolicy{};
  if (!g.compose_policy.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(g.compose_policy, ec)) {
      return Status::InvalidArgument("--compose-policy: no such file: " + g.compose_policy);
    }
    policy = LoadComposePolicy(g.compose_policy);
    if (!policy.ok()) return Status::InvalidArgument(policy.status().message()).Prefixed("--compose-policy");
  }
  auto ctx = std::make_unique<Context>();
  ctx->g = g;
  ctx->target = *target;
  if (target->local || !needs.target) {
    ctx->exec = std::make_unique<LocalExecutor>();
  } else {
    auto ssh = SshExecutor::Open(*target, g.ssh);
    if (!ssh.ok()) {
      if (!needs.tolerate_no_target) return Status::Infra(ssh.status().message());
      ctx->target_error = ssh.status();
      ctx->target_findings.push_back({"target", Finding::Level::kFail, ssh.status().message(),
                                      "check --target, --ssh-key and --known-hosts (docs/cli.md, Targets)"});
      return ctx;
    }
    ctx->exec = std::move(*ssh);
    ctx->target_findings.push_back(
        {"target", Finding::Level::kOk, target->Describe() + ": host key known, key accepted", ""});
  }
  ctx->docker = std::make_unique<Docker>(ctx->exec.get(), g.docker);
  // The Swarm's other nodes are reached over SSH like the target (never from a local one).
  ctx->reach = std::make_unique<NodeReach>(ctx->exec.get(),
                                           target->local ? std::nullopt : std::optional<Target>(*target), g.ssh);
  // On this machine everything but the deploy goes through Docker's socket, once it shows
  // to be the daemon the CLI reaches; on an SSH target the same through the target's socket,
  // forwarded over the connection. Opened when a command first needs it.
  if (needs.target && g.docker == "docker") {
    Docker* docker = ctx->docker.get();
    Executor* exec = ctx->exec.get();
    const bool local = target->local;
    ctx->api = std::make_unique<DockerApiSource>([docker, exec, local](std::string* why) {
      const Deadline within = Deadline::In(Duration(20000));
      if (!local) return DockerApi::ThroughSsh(static_cast<SshExecutor*>(exec), docker->binary(), within, why);
      auto api = DockerApi::ForLocalCli(docker, within);
      if (api == nullptr) *why = "the local socket does not reach the CLI's daemon";
      return api;
    });
    ctx->reach->set_api(ctx->api.get());
  }
  ctx->console = NewConsole(g);
  if (ctx->console) ctx->events.Add(ctx->console.get());
  Context* raw = ctx.get();
  ctx->progress = [raw](const std::string& line) { raw->events.Message(line); };

  RunOptions& base = ctx->base;
  base.events = &ctx->events;
  base.state_dir = g.state;
  base.recipes_dir = g.recipes;
  base.artifacts_dir = g.artifacts;
  base.domain_suffix = g.domain_suffix;
  base.proxy = g.proxy;
  base.proxy_ca = g.proxy_ca.empty() ? "" : std::filesystem::absolute(g.proxy_ca).string();
  base.nodes = ctx->reach.get();
  base.api = ctx->api.get();
  base.runtime = g.runtime;
  base.pull = g.pull;
  base.script_limits.memory = g.script_memory_mib << 20;
  base.abra = g.abra;
  base.compose_policy = *policy;
  // abra reaches the target through its own server entry: the SSH host, or "default".
  if (!target->local) base.abra.server = target->host;
  return ctx;
}

std::vector<std::string> ListRecipes(const GlobalOptions& g) {
  auto names = RecipeSources(g.recipes, g.state + "/git").List();
  if (!names.ok()) {
    std::cerr << "harness: " << names.status().message() << "\n";
    return {};
  }
  return *names;
}

Result<std::unique_ptr<Ledger>> OpenLedger(const GlobalOptions& g) {
  auto ledger = Ledger::Open(g.state);
  if (!ledger.ok()) return Status::Infra(ledger.status().message());
  return ledger;
}

}  // namespace harness
