#include "recipe/cold_run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "base/cancel.h"
#include "recipe/deploy_env.h"
#include "runtime/images.h"
#include "recipe/naming.h"
#include "recipe/releases.h"
#include "report/summary.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

constexpr int kEvidenceLogLines = 50;
constexpr Duration kCheckTimeout{30000};
constexpr Duration kImageCopyTimeout{600000};

std::string ReadFile(const std::string& path, bool* ok) {
  std::ifstream f(path, std::ios::binary);
  *ok = static_cast<bool>(f);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Sleeps up to `d`, returning early when the run is cancelled.
void Nap(Duration d, const CancelToken& cancel) {
  pollfd p{cancel.fd(), POLLIN, 0};
  poll(&p, p.fd >= 0 ? 1 : 0, static_cast<int>(d.count()));
}

// Secret values of a warm deploy, readable by this user only.
Status WriteSecretsFile(const std::string& path, const std::string& content) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Infra("cannot write " + tmp);
  bool ok = write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ok = close(fd) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) return Status::Infra("cannot write " + path);
  return Status::Ok();
}

// What to do about a problem `harness check` found, from the kind of its message.
std::string FixHint(const Status& s) {
  const std::string& m = s.message();
  auto has = [&](const char* what) { return m.find(what) != std::string::npos; };
  if (has("COMPOSE_FILE")) return "make COMPOSE_FILE in .env.sample name files the recipe has";
  if (has("compose file not found")) return "add the compose file, or name the ones the recipe has (COMPOSE_FILE or the script's compose)";
  if (has(".env.sample:")) return "fix the line in .env.sample (KEY=VALUE, quotes closed)";
  if (has("version label")) return "make the label coop-cloud.${STACK_NAME}.version the release's version";
  if (has("timeout label")) return "make the label coop-cloud.${STACK_NAME}.timeout a number of seconds";
  if (has("too long")) return "shorten the recipe's service, secret or config names";
  if (has("Swarm manager")) return "run `docker swarm init`, or point --target at a manager";
  if (has("Docker does not answer")) return "start dockerd (scripts/setup does)";
  if (has("external network")) return "remove the network, or recreate it as an attachable overlay";
  if (s.code() == Status::Code::kInvalidArgument) return "fix the recipe's files or script where the message says";
  return "";
}

}  // namespace

ColdRun::ColdRun(RunOptions opts, Docker* docker, ProgressFn progress)
    : opts_(std::move(opts)),
      progress_(std::move(progress)),
      cancel_(opts_.cancel != nullptr ? *opts_.cancel : CancelToken::Signals()),
      started_(Clock::now()),
      log_(&redactor_, progress_),
      runtime_(opts_.make_runtime ? opts_.make_runtime(docker) : NewRuntime(opts_, docker)) {
  out_.recipe = opts_.recipe;
}

RunOutcome ColdRun::Execute() {
  if (!Start() || !Prepare()) return Finish();
  if (opts_.check_only) {
    // `harness check`: everything prepare decided, and nothing created.
    out_.result = "passed";
    out_.exit_code = 0;
    return Finish();
  }
  guard_ = std::make_unique<TeardownGuard>([this] { return TeardownNow(); });
  Status status = Deploy();
  if (status.ok()) status = Converge();
  if (status.ok() && !opts_.upgrade_from.empty()) status = Upgrade();
  if (status.ok()) status = Test();
  JudgeInfrastructure();
  MatchTransientClass();
  out_.teardown = guard_->Run();
  if (!out_.teardown.ok()) {
    if (out_.failed_phase.empty()) {
      Fail("teardown", out_.teardown);
    } else {
      out_.reason += " (and teardown failed: " + out_.teardown.message() + ")";
    }
  }
  Conclude();
  return Finish();
}

// ---- helpers

void ColdRun::Say(const std::string& text) { log_.Line("[" + out_.recipe + "] " + text, true); }

Status ColdRun::Interrupted() const {
  return Status::Cancelled("interrupted by " +
                           std::string(cancel_.signal() == SIGTERM ? "SIGTERM" : "SIGINT"));
}

void ColdRun::NoteLedger(const Status& s) {
  if (!s.ok() && ledger_status_.ok()) ledger_status_ = s;
}

void ColdRun::Emit(Event e) {
  if (opts_.events == nullptr) return;
  e.run_id = out_.run_id;
  e.recipe = out_.recipe;
  opts_.events->OnEvent(e);
}

void ColdRun::PhaseStarted(const PhaseLog& p, Duration budget) {
  Event e;
  e.kind = EventKind::kPhaseStarted;
  e.name = p.phase();
  e.budget = budget;
  Emit(e);
}

void ColdRun::RecordPhase(PhaseLog& p, const Status& s) {
  p.Finish(s);
  {
    Event e;
    e.kind = EventKind::kPhaseEnded;
    e.name = p.phase();
    e.status = s.ok() ? "ok" : CodeName(s.code());
    e.elapsed = p.elapsed();
    e.text = redactor_.Apply(s.message());
    Emit(e);
  }
  p.Write(out_.artifacts);
  out_.phases.push_back({p.phase(), s.WithMessage(redactor_.Apply(s.message())), p.elapsed()});
  if (ledger_) {
    auto j = p.ToJson();
    NoteLedger(ledger_->RecordPhase({out_.run_id, p.number(), p.phase(), j["status"].get<std::string>(),
                                     j["started_at"].get<std::string>(), p.elapsed().count(),
                                     j.value("error", "")}));
  }
  Say(p.phase() + (s.ok() ? " ok" : " " + std::string(CodeName(s.code()))) + " (" +
      FormatDuration(p.elapsed()) + ")" + (s.ok() ? "" : ": " + s.message()));
}

void ColdRun::Fail(const std::string& phase, const Status& s) {
  if (!out_.failed_phase.empty()) return;
  out_.failed_phase = phase;
  out_.reason = redactor_.Apply(s.message());
  switch (s.code()) {
    case Status::Code::kCancelled: out_.result = "interrupted"; break;
    case Status::Code::kInfra: out_.result = "infra"; break;
    case Status::Code::kInvalidArgument:
    case Status::Code::kNotFound: out_.result = "error"; break;
    default: out_.result = "failed"; break;
  }
}

// ---- start: everything the run needs before its first phase

bool ColdRun::Start() {
  auto stop = [&](const std::string& reason, const char* result, int code) {
    out_.reason = reason;
    out_.failed_phase = "prepare";
    out_.result = result;
    out_.exit_code = code;
    return false;
  };
  if (Status s = ValidateRecipeName(opts_.recipe); !s.ok()) return stop(s.message(), "error", 2);
  RecipeSources sources(opts_.recipes_dir, (opts_.state_dir.empty() ? DefaultStateDir() : opts_.state_dir) + "/git");
  auto checkout = sources.Checkout(opts_.recipe, opts_.version, opts_.commit, cancel_);
  if (!checkout.ok()) {
    Status s = checkout.status();
    bool infra = s.code() == Status::Code::kInfra;
    return stop(s.message(), infra ? "infra" : s.code() == Status::Code::kCancelled ? "interrupted" : "error",
                infra ? 3 : s.code() == Status::Code::kCancelled ? ExitCodeForSignal(cancel_.signal()) : 2);
  }
  checkout_ = std::move(*checkout);
  out_.version = checkout_.version;
  if (!opts_.upgrade_from.empty()) {
    if (opts_.warm || !runtime_->can_upgrade()) {
      return stop("an upgrade run deploys with the swarm runtime into a cold namespace", "error", 2);
    }
    auto from = sources.Checkout(opts_.recipe, opts_.upgrade_from, "", cancel_);
    if (!from.ok()) {
      return stop("the release to upgrade from: " + from.status().message(),
                  from.status().code() == Status::Code::kInfra ? "infra" : "error",
                  from.status().code() == Status::Code::kInfra ? 3 : 2);
    }
    from_ = std::move(*from);
    out_.upgraded_from = from_.version.empty() ? opts_.upgrade_from : from_.version;
  }
  recipe_dir_ = checkout_.files_dir;
  auto script = RecipeSources::ScriptText(checkout_);
  if (!script.ok()) return stop(script.status().message(), "error", 2);
  source_ = std::move(*script);

  out_.namespace_name = opts_.warm ? opts_.warm->namespace_name : NewNamespace(opts_.recipe);
  out_.run_id = UtcStamp() + "-" + out_.namespace_name;
  out_.artifacts = opts_.artifacts_dir + "/" + out_.run_id;
  {
    Event e;
    e.kind = EventKind::kRunStarted;
    e.text = out_.namespace_name;
    e.attempt = opts_.retry_of ? 2 : 1;
    Emit(e);
  }
  std::error_code ec;
  fs::create_directories(out_.artifacts, ec);
  if (ec) {
    std::string why = "cannot create the artifact folder " + out_.artifacts + ": " + ec.message();
    out_.artifacts.clear();
    return stop(why, "infra", 3);
  }
  log_.Open(out_.artifacts + "/run.log");

  // A check creates nothing and records no run.
  if (opts_.check_only) return true;
  // The Swarm lock (shared, or exclusive for an isolated run), the run's own lock (its
  // liveness for reapers) and its ledger entry come before anything is created.
  auto swarm_lock = SwarmLock::Take(
      runtime_->target()->Describe(), opts_.isolated ? SwarmLock::Mode::kExclusive : SwarmLock::Mode::kShared,
      opts_.wait_for_isolation, cancel_, [&] {
        Say(opts_.isolated ? "waiting until no other harness run is active (isolated run)"
                           : "waiting for an isolated harness run to finish");
      });
  if (!swarm_lock.ok()) {
    if (swarm_lock.status().code() == Status::Code::kCancelled) {
      return stop(swarm_lock.status().message(), "interrupted", ExitCodeForSignal(cancel_.signal()));
    }
    return stop(swarm_lock.status().message(), "infra", 3);
  }
  swarm_lock_.emplace(std::move(*swarm_lock));
  auto run_lock = RunLock::Acquire(opts_.state_dir, out_.namespace_name);
  if (!run_lock.ok()) return stop(run_lock.status().message(), "infra", 3);
  run_lock_.emplace(std::move(*run_lock));
  auto ledger = Ledger::Open(opts_.state_dir);
  if (!ledger.ok()) return stop(ledger.status().message(), "infra", 3);
  ledger_ = std::move(*ledger);
  RunRecord record;
  record.id = out_.run_id;
  record.recipe = opts_.recipe;
  record.namespace_name = out_.namespace_name;
  record.pid = static_cast<int64_t>(getpid());
  record.sweep = opts_.sweep_id;
  record.artifacts = out_.artifacts;
  record.target = runtime_->target()->Describe();
  if (Status s = ledger_->BeginRun(record); !s.ok()) return stop(s.message(), "infra", 3);
  return true;
}

// ---- prepare: load and check everything before anything is created

bool ColdRun::Prepare() {
  PhaseLog prepare(phase_number_++, "prepare", &redactor_);
  PhaseStarted(prepare, Duration(0));
  Say("prepare: namespace " + out_.namespace_name + ", artifacts in " + out_.artifacts);
  auto refuse = [&](const Status& s) {
    Fail("prepare", s);
    RecordPhase(prepare, s);
    out_.exit_code = s.code() == Status::Code::kInfra       ? 3
                     : s.code() == Status::Code::kCancelled ? ExitCodeForSignal(cancel_.signal())
                     : out_.result == "failed"              ? 1
                                                            : 2;
    if (spec_) MatchTransientClass();
    NoteRetry();
    if (opts_.check_only) {
      Problem(s);
      if (staged_) FillCheckReport(prepare);  // what was decided before the problem
    }
    check_["prepare"] = prepare.ToJson();
    return false;
  };

  // Loaded as "@recipes/<name>/recipe.lua" wherever the folder is, so messages stay short
  // and name the recipe.
  const std::string& chunk = checkout_.chunk;
  engine_ = std::make_unique<ScriptEngine>(chunk, opts_.recipe);
  auto spec = engine_->Load(source_);
  for (const auto& line : engine_->load_output()) log_.Line("print: " + line, false);
  if (!spec.ok()) {
    prepare.AddEvidence({{"script", checkout_.script}, {"error", spec.status().message()}});
    return refuse(spec.status());
  }
  spec_ = std::move(*spec);
  if (!checkout_.commit.empty()) {
    // A git recipe's version is the release tag (or commit) checked out.
    spec_->version = checkout_.version;
    prepare.Observe("source", {{"git", checkout_.origin}, {"path", spec_->source_path}, {"commit", checkout_.commit},
                               {"version", checkout_.version}});
  } else if (!opts_.version.empty() && spec_->version != opts_.version) {
    return refuse(Status::InvalidArgument(chunk + ": the release folder " + opts_.version +
                                          " declares version '" + spec_->version + "'"));
  }
  out_.version = spec_->version;
  out_.weight = spec_->weight;
  for (const auto& c : spec_->transient) {
    try {
      std::regex check(c.match);
    } catch (const std::regex_error&) {
      return refuse(Status::InvalidArgument(chunk + ": transient class '" + c.name +
                                            "': 'match' is not a valid regular expression: " + c.match));
    }
  }
  domain_ = opts_.warm ? opts_.warm->domain : out_.namespace_name + "." + opts_.domain_suffix;
  domain_ = runtime_->DomainFor(out_.namespace_name, domain_);
  labels_ = {{"harness.run", out_.run_id},
             {"harness.namespace", out_.namespace_name},
             {"harness.owner", ThisProcessOwner()}};
  if (opts_.warm) labels_["harness.warm"] = opts_.recipe;
  if (stage_.path().empty()) return refuse(Status::Infra("cannot create a staging folder"));
  if (Status s = ReadRecipe(prepare); !s.ok()) return refuse(s);
  if (Status s = CheckRecipeLabels(prepare); !s.ok()) return refuse(s);
  out_.version = spec_->version;
  engine_->SetRunInfo({out_.run_id, spec_->name, spec_->version, out_.namespace_name, domain_});
  prepare.Observe("recipe", {{"name", spec_->name}, {"version", spec_->version},
                             {"compose", compose_}, {"namespace", out_.namespace_name},
                             {"domain", domain_}, {"tests", spec_->tests.size()}});

  // A warm deploy keeps its secrets from one promotion to the next.
  nlohmann::json kept = nlohmann::json::object();
  if (opts_.warm) {
    bool kept_ok = false;
    std::string text = ReadFile(opts_.warm->secrets_file, &kept_ok);
    if (kept_ok) kept = nlohmann::json::parse(text, nullptr, false);
    if (!kept.is_object()) return refuse(Status::Infra("unreadable secrets file " + opts_.warm->secrets_file));
  }
  nlohmann::json secrets = nlohmann::json::array();
  for (const auto& sec : spec_->secrets) {
    bool keep = kept.contains(sec.name) && kept[sec.name].is_string();
    secret_values_[sec.name] = keep ? kept[sec.name].get<std::string>() : GenerateSecret(sec.length, sec.charset);
    redactor_.Add(sec.name, secret_values_[sec.name]);
    kept[sec.name] = secret_values_[sec.name];
    secrets.push_back({{"name", sec.name}, {"length", sec.length}, {"charset", sec.charset}, {"kept", keep}});
  }
  prepare.Observe("secrets", secrets);
  if (opts_.warm && !spec_->secrets.empty()) {
    if (Status s = WriteSecretsFile(opts_.warm->secrets_file, kept.dump()); !s.ok()) return refuse(s);
  }
  if (Status s = CheckDerivedNames(out_.namespace_name, staged_->objects); !s.ok()) return refuse(s);
  prepare.Observe("services", staged_->objects.services);
  if (Status s = runtime_->Preflight(&prepare, Deadline::In(kCheckTimeout), cancel_); !s.ok()) return refuse(s);
  // On this machine, convergence is read through the Engine API's socket when it reaches
  // the same daemon as the CLI: milliseconds per look instead of three CLI processes.
  prepare.Observe("observations_via", runtime_->ChooseObservations(Deadline::In(kCheckTimeout)));
  daemon_ = runtime_->DaemonIdentity(Deadline::In(Duration(10000)));
  if (!daemon_.empty()) prepare.Observe("docker_daemon", daemon_);
  if (Status s = LookAtNetworks(prepare); !s.ok()) return refuse(s);
  if (Status s = PrepareImages(prepare); !s.ok()) return refuse(s);
  if (!opts_.check_only) {
    // What the deploys deploy: the staged files, images pinned.
    Runtime::App app{spec_->name, domain_, recipe_dir_, staged_->files, compose_, env_};
    if (Status s = runtime_->PrepareApp(app); !s.ok()) return refuse(s);
  }
  if (cancel_.cancelled()) return refuse(Interrupted());
  RecordPhase(prepare, Status::Ok());
  if (opts_.check_only) {
    FillCheckReport(prepare);
    return true;
  }

  for (const auto& s : staged_->objects.services) {
    full_services_.push_back(SwarmServiceName(out_.namespace_name, staged_->objects, s));
  }
  http_ = NewCurlHttpClient(runtime_->target());
  host_ = std::make_unique<RunHost>(runtime_.get(), http_.get(), out_.namespace_name, staged_->objects.services,
                                    secret_values_, out_.artifacts + "/files", &log_, &redactor_,
                                    staged_->objects.renamed);
  return true;
}

// ---- the parts of prepare

Status ColdRun::ReadRecipe(PhaseLog& prepare) {
  auto denv = ReadDeployEnvironment(recipe_dir_, *spec_, out_.namespace_name, domain_);
  if (!denv.ok()) return denv.status();
  env_ = denv->env;
  env_origin_ = denv->origin;
  compose_ = denv->compose;
  prepare.Observe("compose_files", {{"files", compose_}, {"why", denv->compose_reason}});
  nlohmann::json not_applied = nlohmann::json::array();
  for (const auto& l : denv->not_applied) {
    not_applied.push_back({{"line", l.line}, {"text", l.text}, {"why", l.why}});
  }
  if (!not_applied.empty()) prepare.Observe("abra_sh_not_applied", not_applied);
  auto staged = StageCompose(recipe_dir_, compose_, labels_, env_, out_.namespace_name, stage_.path(),
                             StageOptions{opts_.warm.has_value()});
  if (!staged.ok()) return staged.status();
  staged_ = std::move(*staged);

  // Every external secret the compose files declare is generated for the run, as abra's
  // `secret generate --all` does, with the .env.sample's length and charset hints; a
  // script's `secrets` entry overrides.
  auto add_secrets = [&](const ComposeObjects& objects, const DeployEnv& from) {
    for (const auto& key : objects.external_secrets) {
      bool declared = false;
      for (const auto& sec : spec_->secrets) declared = declared || sec.name == key;
      if (declared) continue;
      SecretSpec sec;
      sec.name = key;
      if (auto hint = from.secret_hints.find(key); hint != from.secret_hints.end()) {
        if (hint->second.length > 0) sec.length = hint->second.length;
        if (!hint->second.charset.empty()) sec.charset = hint->second.charset;
      }
      spec_->secrets.push_back(sec);
    }
  };
  add_secrets(staged_->objects, *denv);
  if (!opts_.upgrade_from.empty()) {
    // The release comes up first, under the same script, namespace, labels and secrets,
    // with its own files' choices.
    auto from_env = ReadDeployEnvironment(from_.files_dir, *spec_, out_.namespace_name, domain_);
    if (!from_env.ok()) return from_env.status().Prefixed("the release to upgrade from (" + out_.upgraded_from + ")");
    from_env_ = from_env->env;
    auto from = StageCompose(from_.files_dir, from_env->compose, labels_, from_env_, out_.namespace_name,
                             stage_from_.path(), StageOptions{false});
    if (!from.ok()) return from.status().Prefixed("the release to upgrade from (" + out_.upgraded_from + ")");
    staged_from_ = std::move(*from);
    add_secrets(staged_from_->objects, *from_env);
    prepare.Observe("upgrade_from", out_.upgraded_from);
    for (const auto& image : staged_from_->objects.images) {
      if (std::find(staged_->objects.images.begin(), staged_->objects.images.end(), image) == staged_->objects.images.end()) {
        staged_->objects.images.push_back(image);  // pulled and pinned like the run's own
      }
    }
  }
  std::sort(spec_->secrets.begin(), spec_->secrets.end(),
            [](const SecretSpec& a, const SecretSpec& b) { return a.name < b.name; });
  return Status::Ok();
}

Status ColdRun::CheckRecipeLabels(PhaseLog& prepare) {
  const std::string prefix = "coop-cloud." + out_.namespace_name + ".";
  auto label = [&](const std::string& suffix) -> std::pair<std::string, std::string> {
    for (const auto& [service, labels] : staged_->objects.deploy_labels) {
      if (auto it = labels.find(prefix + suffix); it != labels.end() && !it->second.empty()) return {service, it->second};
    }
    return {};
  };
  auto [service, version] = label("version");
  version_label_ = prefix + "version";
  if (version.empty()) {
    std::tie(service, version) = label("app.version");
    if (!version.empty()) version_label_ = prefix + "app.version";
  }
  if (!version.empty()) {
    prepare.Observe("version_label", {{"service", service}, {"value", version}});
    bool is_commit = spec_->version.rfind("head-", 0) == 0;
    if (!spec_->version_given && checkout_.commit.empty() && opts_.version.empty()) {
      spec_->version = version;  // a recipe without a script: its label says what it is
    } else if (!is_commit && version != spec_->version) {
      return Status::Failed("the recipe's version label says " + version + " (service " + service +
                            ", coop-cloud.${STACK_NAME}.version) but the release under test is " + spec_->version +
                            ": update the label in the compose file");
    }
    // An upgrade must end on the run's own version: a silent rollback leaves the old one.
    if (!opts_.upgrade_from.empty() && !is_commit) expect_version_ = spec_->version;
  }
  if (opts_.warm && !opts_.warm->expect_version.empty()) expect_version_ = opts_.warm->expect_version;

  std::string from = spec_->deploy_timeout_given ? "the script's timeouts.deploy" : "the library default";
  if (!spec_->deploy_timeout_given) {
    auto [timeout_service, timeout] = label("timeout");
    if (!timeout.empty()) {
      char* end = nullptr;
      long seconds = std::strtol(timeout.c_str(), &end, 10);
      if (end == timeout.c_str() || *end != '\0' || seconds <= 0 || seconds > 24 * 3600) {
        return Status::InvalidArgument("the recipe's timeout label (service " + timeout_service +
                                       ", coop-cloud.${STACK_NAME}.timeout) is not a number of seconds: '" +
                                       timeout + "'");
      }
      spec_->deploy_timeout = Duration(seconds * 1000);
      from = "the recipe's timeout label (service " + timeout_service + ")";
    }
  }
  prepare.Observe("deploy_budget", {{"seconds", spec_->deploy_timeout.count() / 1000}, {"from", from}});
  return Status::Ok();
}

Status ColdRun::LookAtNetworks(PhaseLog& prepare) {
  std::set<std::string> names;
  for (const auto& [key, name] : staged_->objects.external_networks) names.insert(name);
  if (staged_from_) {
    for (const auto& [key, name] : staged_from_->objects.external_networks) names.insert(name);
  }
  nlohmann::json seen = nlohmann::json::array();
  const std::string target = runtime_->target()->Describe();
  for (const auto& name : names) {
    // Held before looking, so that no run of ours removes it between the look and the deploy.
    if (!opts_.check_only) {
      auto lock = NetworkLock::Share(target, name);
      if (!lock.ok()) return lock.status();
      network_locks_.emplace(name, std::move(*lock));
    }
    auto state = runtime_->InspectNetwork(name, &prepare, Deadline::In(kCheckTimeout), cancel_);
    if (!state.ok()) return state.status();
    nlohmann::json j = {{"name", name}, {"exists", state->exists}};
    if (state->exists) {
      j["driver"] = state->driver;
      j["scope"] = state->scope;
      j["created_by_harness"] = state->ours;
      if (state->scope != "swarm") {
        return Status::Infra("the external network " + name + " exists but is not a Swarm network (driver " +
                             state->driver + ", scope " + state->scope + "): a stack cannot join it");
      }
    } else {
      j["action"] = "created for the run (attachable overlay), removed when no run of ours uses it";
      networks_to_create_.push_back(name);
    }
    seen.push_back(j);
  }
  if (!seen.empty()) prepare.Observe("external_networks", seen);
  return Status::Ok();
}

Status ColdRun::PrepareImages(PhaseLog& prepare) {
  auto policy = ParsePullPolicy(opts_.pull.empty() ? spec_->pull : opts_.pull);
  if (!policy.ok()) return policy.status();
  prepare.Observe("pull_policy", PullPolicyName(*policy));
  if (opts_.check_only) return PlanImages(prepare, *policy);
  auto reports = runtime_->EnsureImages(staged_->objects.images, *policy, &prepare, Deadline::In(spec_->pull_timeout),
                                     cancel_, [this](const std::string& line) { Say(line); });
  if (!reports.ok()) {
    if (reports.status().code() == Status::Code::kCancelled) return Interrupted();
    return reports.status();
  }
  images_ = std::move(*reports);
  std::map<std::string, std::string> pins;
  nlohmann::json seen = nlohmann::json::array();
  for (const auto& r : images_) {
    pins[r.image] = r.pinned;
    nlohmann::json j = {{"image", r.image}, {"source", r.source}, {"deployed_as", r.pinned}};
    if (!r.digest.empty()) j["digest"] = r.digest;
    if (r.source == "pulled") j["pull_ms"] = r.pull_time.count();
    seen.push_back(j);
  }
  prepare.Observe("images", staged_->objects.images);
  prepare.Observe("images_resolved", seen);
  if (Status s = PinImages(*staged_, env_, pins); !s.ok()) return s;
  if (staged_from_) {
    if (Status s = PinImages(*staged_from_, from_env_, pins); !s.ok()) return s;
  }
  return Status::Ok();
}

Status ColdRun::PlanImages(PhaseLog& prepare, PullPolicy policy) {
  auto plans = runtime_->PlanImages(staged_->objects.images, policy, &prepare, Deadline::In(kCheckTimeout), cancel_);
  nlohmann::json seen = nlohmann::json::array();
  Status first;
  for (const auto& p : plans) {
    nlohmann::json j = {{"image", p.report.image}, {"source", p.report.source}};
    if (!p.report.digest.empty()) j["digest"] = p.report.digest;
    if (!p.error.empty()) j["error"] = p.error;
    seen.push_back(j);
    if (p.report.source == "missing" && policy == PullPolicy::kNever) {
      Status s = Status::Infra("image " + p.report.image + " is not on the node and the pull policy is 'never'");
      Problem(s, "pull or load the image on the node, or run with --pull missing");
      if (first.ok()) first = s;
    } else if (p.report.source == "missing") {
      Status s = Status::Failed("image " + p.report.image + " cannot be had: " + p.error);
      Problem(s, "fix the image's name or tag in the compose file, or push it to its registry");
      if (first.ok() || first.code() == Status::Code::kInfra) first = s;
    } else if (p.report.source == "unknown") {
      Status s = Status::Infra("image " + p.report.image + ": its registry did not answer: " + p.error);
      Problem(s, "check that the registry answers from the target (docker pull " + p.report.image + ")");
      if (first.ok()) first = s;
    }
  }
  prepare.Observe("images", staged_->objects.images);
  prepare.Observe("images_resolved", seen);
  if (!first.ok()) reported_ = true;
  return first;
}

void ColdRun::FillCheckReport(const PhaseLog& prepare) {
  check_["prepare"] = prepare.ToJson();
  nlohmann::json env = nlohmann::json::array();
  for (const auto& [k, v] : env_) {
    env.push_back({{"name", k}, {"value", redactor_.Apply(v)}, {"from", env_origin_.count(k) ? env_origin_[k] : ""}});
  }
  check_["environment"] = env;
  nlohmann::json staged = nlohmann::json::array();
  for (size_t i = 0; i < staged_->files.size(); ++i) {
    bool ok = false;
    std::string text = ReadFile(staged_->files[i], &ok);
    staged.push_back({{"file", compose_[i]}, {"staged", redactor_.Apply(text)}});
  }
  check_["staged_compose"] = staged;
  const ComposeObjects& o = staged_->objects;
  nlohmann::json secrets = nlohmann::json::array();
  for (const auto& sec : spec_->secrets) {
    std::string name = o.secrets.count(sec.name) ? o.secrets.at(sec.name) : out_.namespace_name + "_" + sec.name + "_v1";
    secrets.push_back({{"key", sec.name}, {"name", name}, {"length", sec.length}, {"charset", sec.charset}});
  }
  nlohmann::json configs = nlohmann::json::array();
  for (const auto& [key, name] : o.configs) configs.push_back({{"key", key}, {"name", name}});
  nlohmann::json volumes = nlohmann::json::array();
  for (const auto& v : o.volumes) volumes.push_back({{"key", v}, {"name", out_.namespace_name + "_" + v}});
  nlohmann::json networks = nlohmann::json::array();
  for (const auto& n : o.networks) {
    bool external = o.external_networks.count(n) > 0;
    nlohmann::json j = {{"key", n}, {"name", external ? o.external_networks.at(n) : out_.namespace_name + "_" + n},
                        {"external", external}};
    if (external) {
      j["exists"] = std::find(networks_to_create_.begin(), networks_to_create_.end(), o.external_networks.at(n)) ==
                    networks_to_create_.end();
    }
    networks.push_back(j);
  }
  std::vector<std::string> services;
  for (const auto& svc : o.services) services.push_back(SwarmServiceName(out_.namespace_name, o, svc));
  check_["objects"] = {{"services", services}, {"secrets", secrets}, {"configs", configs},
                       {"volumes", volumes}, {"networks", networks}};
}

void ColdRun::Problem(const Status& s, const std::string& fix) {
  if (reported_) return;  // already listed with its own fix
  check_["problems"].push_back({{"error", redactor_.Apply(s.message())}, {"kind", CodeName(s.code())},
                                {"fix", fix.empty() ? FixHint(s) : fix}});
}

Status ColdRun::ProvideNetworks(PhaseLog& deploy) {
  for (const auto& name : networks_to_create_) {
    if (Status s = ledger_->PlanResource(out_.run_id, "shared-network", name); !s.ok()) return s;  // write-ahead
    if (Status s = runtime_->CreateSharedNetwork(name, labels_, &deploy, deploy_deadline_, cancel_); !s.ok()) return s;
    Say("created the external network " + name + " (attachable overlay) for the run");
  }
  return Status::Ok();
}

Status ColdRun::ReleaseNetworks(PhaseLog& teardown) {
  nlohmann::json released = nlohmann::json::array();
  Status status;
  for (auto& [name, lock] : network_locks_) {
    // Only when no other run of ours holds it; Docker refuses while anything uses it.
    if (!lock.TryExclusive()) {
      released.push_back({{"name", name}, {"action", "kept: another run of ours uses it"}});
      continue;
    }
    auto removed = runtime_->RemoveSharedNetwork(name, &teardown, Deadline::In(kCheckTimeout));
    if (!removed.ok()) {
      if (status.ok()) status = removed.status().Prefixed("removing the shared network " + name);
      continue;
    }
    released.push_back({{"name", name}, {"action", *removed ? "removed or absent" : "kept: not ours or still in use"}});
  }
  if (!released.empty()) teardown.Observe("shared_networks", released);
  return status;
}

// ---- deploy

Status ColdRun::Deploy() {
  PhaseLog deploy(phase_number_++, "deploy", &redactor_);
  Say("deploy started");
  deploy_deadline_ = Deadline::In(spec_->deploy_timeout);
  PhaseStarted(deploy, spec_->deploy_timeout);
  // A warm deploy stays, and is no dead run's leftover: not armed, not in the resources.
  if (!opts_.warm) guard_->Arm();
  out_.deployed = !opts_.warm;
  Status status = ProvideNetworks(deploy);
  if (status.ok()) status = runtime_->CreateApp(&deploy, deploy_deadline_, cancel_);
  for (const auto& sec : spec_->secrets) {
    if (!status.ok()) break;
    std::string name = staged_->objects.secrets.count(sec.name)
                           ? staged_->objects.secrets.at(sec.name)
                           : out_.namespace_name + "_" + sec.name + "_v1";
    if (opts_.warm) {
      auto exists = runtime_->SecretExists(name, &deploy, deploy_deadline_, cancel_);
      if (!exists.ok()) status = exists.status();
      if (!status.ok()) break;
      if (*exists) continue;
    } else {
      status = ledger_->PlanResource(out_.run_id, "secret", name);  // write-ahead
    }
    if (status.ok()) {
      status = runtime_->CreateSecret({sec.name, name, secret_values_[sec.name], labels_}, &deploy, deploy_deadline_,
                                      cancel_);
    }
    if (!status.ok()) break;
  }
  if (status.ok() && !opts_.warm) status = ledger_->PlanResource(out_.run_id, "stack", out_.namespace_name);
  if (status.ok()) {
    status = runtime_->Deploy(out_.namespace_name, staged_from_ ? staged_from_->files : staged_->files,
                                staged_from_ ? from_env_ : env_, &deploy, deploy_deadline_, cancel_);
  }
  if (status.ok() && cancel_.cancelled()) status = Interrupted();
  if (status.code() == Status::Code::kTimeout) {
    status = Status::Timeout("deploy did not finish within the deploy budget of " +
                             FormatDuration(spec_->deploy_timeout));
  }
  if (!status.ok()) Fail("deploy", status);
  RecordPhase(deploy, status);
  return status;
}

// ---- converge: Swarm settles, then the recipe's readiness probe passes

Status ColdRun::Converge() {
  PhaseLog converge(phase_number_++, "converge", &redactor_);
  PhaseStarted(converge, deploy_deadline_.remaining());
  Say("converge started (budget " + FormatDuration(deploy_deadline_.remaining()) + ")");
  Status status = WaitForSwarm(converge);
  if (status.ok() && opts_.warm && !expect_version_.empty()) status = WaitForVersion(converge);
  if (status.ok() && spec_->ready.valid()) status = WaitForReadiness(converge);
  if (!status.ok()) {
    Fail("converge", status);
    if (status.code() != Status::Code::kCancelled) CollectEvidence(converge);
  }
  RecordPhase(converge, status);
  return status;
}

// ---- upgrade: the run's own version over the release, in place

Status ColdRun::Upgrade() {
  PhaseLog upgrade(phase_number_++, "upgrade", &redactor_);
  deploy_deadline_ = Deadline::In(spec_->deploy_timeout);
  PhaseStarted(upgrade, spec_->deploy_timeout);
  Say("upgrade from " + out_.upgraded_from + " to " + out_.version + " started");
  upgrade.Observe("upgrade", {{"from", out_.upgraded_from}, {"to", out_.version}});
  Status status = runtime_->Deploy(out_.namespace_name, staged_->files, env_, &upgrade, deploy_deadline_, cancel_);
  if (status.ok() && cancel_.cancelled()) status = Interrupted();
  if (status.ok()) status = WaitForSwarm(upgrade);
  if (status.ok() && !expect_version_.empty()) status = WaitForVersion(upgrade);
  if (status.ok() && spec_->ready.valid()) status = WaitForReadiness(upgrade);
  if (status.code() == Status::Code::kTimeout) {
    status = Status::Timeout("the upgrade did not converge within the deploy budget of " +
                             FormatDuration(spec_->deploy_timeout) + ": " + status.message());
  }
  if (!status.ok()) {
    Fail("upgrade", status);
    if (status.code() != Status::Code::kCancelled) CollectEvidence(upgrade);
  }
  RecordPhase(upgrade, status);
  return status;
}

// The deployed version is polled, not read once: a rolling update takes a while to show,
// and Swarm may roll a failed update back silently, leaving the old version running.
Status ColdRun::WaitForVersion(PhaseLog& converge) {
  const std::string label = version_label_.empty() ? "coop-cloud." + out_.namespace_name + ".version" : version_label_;
  const std::string& want = expect_version_;
  std::string last;
  while (true) {
    auto versions = runtime_->ServiceVersions(full_services_, label, nullptr, deploy_deadline_, cancel_);
    if (!versions.ok()) return versions.status();
    bool any = false, all = true;
    last.clear();
    for (const auto& v : *versions) {
      if (v.update_state.rfind("rollback", 0) == 0) {
        converge.Observe("versions", last);
        return Status::Failed("Swarm rolled the update of " + v.service + " back (" + v.update_state +
                              "); it runs " + (v.version.empty() ? "an unlabelled version" : v.version) +
                              ", not " + want);
      }
      if (v.version.empty()) continue;
      any = true;
      all = all && v.version == want;
      last += (last.empty() ? "" : ", ") + v.service + "=" + v.version;
    }
    if (!any) {
      return Status::Failed("no service carries the label " + label + ": the deployed version cannot be verified");
    }
    if (all) {
      converge.Observe("versions", last);
      Say("deployed version verified: " + want);
      return Status::Ok();
    }
    if (cancel_.cancelled()) return Interrupted();
    if (deploy_deadline_.passed()) {
      converge.Observe("versions", last);
      return Status::Timeout("the deployed version did not become " + want + " within the deploy budget of " +
                             FormatDuration(spec_->deploy_timeout) + " (" + last + ")");
    }
    Nap(Duration(250), cancel_);
  }
}

Status ColdRun::WaitForSwarm(PhaseLog& converge) {
  Duration interval{100};
  std::string last_reason;
  int polls = 0, woken = 0;
  nlohmann::json history = nlohmann::json::array();
  std::map<std::string, Clock::time_point> first_running;  // task id → first seen running
  // Docker's events of the namespace wake the wait; the first look is after the stream
  // started, so nothing before it is missed.
  std::unique_ptr<ChangeWatch> watch = runtime_->Watch(out_.namespace_name, deploy_deadline_);
  Status status;
  while (true) {
    if (cancel_.cancelled()) {
      status = Interrupted();
      break;
    }
    if (deploy_deadline_.passed()) {
      status = Status::Timeout("did not converge within the deploy budget of " +
                               FormatDuration(spec_->deploy_timeout) + "; last state: " + last_reason);
      break;
    }
    auto snap = runtime_->Observe(out_.namespace_name, full_services_, nullptr, deploy_deadline_, cancel_);
    ++polls;
    if (!snap.ok()) {
      if (snap.status().code() == Status::Code::kTimeout) continue;  // the deadline decides
      status = snap.status();
      break;
    }
    auto now = Clock::now();
    std::map<std::string, Duration> running_for;
    for (const auto& t : snap->tasks) {
      if (t.current_state.rfind("Running", 0) != 0) continue;
      auto seen = first_running.emplace(t.id, now).first->second;
      running_for[t.id] = std::chrono::duration_cast<Duration>(now - seen);
    }
    Judgement j = JudgeConvergence(*snap, full_services_, running_for, spec_->settle);
    if (j.reason != last_reason) {
      history.push_back({{"after_ms", converge.elapsed().count()}, {"state", j.reason}});
      last_reason = j.reason;
    }
    if (j.kind == Judgement::Kind::kConverged) break;
    if (j.kind == Judgement::Kind::kFailed) {
      for (const auto& e : j.evidence) converge.AddEvidence({{"task", e}});
      status = Status::Failed(j.reason);
      break;
    }
    // Docker's next event of the namespace ends the wait early; a task that only has to
    // stay up wakes it when its settle time is over.
    Duration next = std::min(interval, deploy_deadline_.remaining());
    for (const auto& [id, up] : running_for) {
      if (up < spec_->settle) next = std::min(next, spec_->settle - up + Duration(1));
    }
    if (watch->Wait(next, cancel_)) {
      // Docker's other views (task states) follow an event within moments: look again soon.
      ++woken;
      interval = Duration(100);
      continue;
    }
    interval = std::min(interval * 3 / 2, Duration(1000));
  }
  converge.Observe("polls", polls);
  converge.Observe("woken_by_events", woken);
  converge.Observe("states", history);
  return status;
}

Status ColdRun::WaitForReadiness(PhaseLog& converge) {
  Say("swarm converged; readiness probe");
  Duration wait{100};
  int tries = 0;
  std::string observation;
  Status status;
  while (true) {
    if (cancel_.cancelled()) {
      status = Interrupted();
      break;
    }
    ++tries;
    HookOutcome h = engine_->Call(spec_->ready, host_.get(), deploy_deadline_);
    if (h.status.code() == Status::Code::kCancelled) {
      status = Interrupted();
      break;
    }
    if (h.status.ok() && h.truthy) break;
    observation = h.status.ok() ? (h.observation.empty() ? "probe returned false" : h.observation)
                                : h.status.message();
    if (deploy_deadline_.passed()) {
      status = Status::Timeout("readiness probe did not pass within the deploy budget of " +
                               FormatDuration(spec_->deploy_timeout) + " (" + std::to_string(tries) +
                               " tries); last observation: " + observation);
      break;
    }
    Nap(std::min(wait, deploy_deadline_.remaining()), cancel_);
    wait = std::min(wait * 3 / 2, Duration(2000));
  }
  converge.Observe("readiness_tries", tries);
  if (!observation.empty()) converge.Observe("readiness_last_observation", observation);
  converge.Observe("api_calls", host_->calls());
  host_->ClearCalls();
  return status;
}

// ---- test

Status ColdRun::Test() {
  PhaseLog test(phase_number_++, "test", &redactor_);
  PhaseStarted(test, spec_->test_timeout * static_cast<int64_t>(spec_->tests.size()));
  Say("test started (" + std::to_string(spec_->tests.size()) + " tests)");
  nlohmann::json results = nlohmann::json::array();
  int failed = 0;
  std::string first_failure;
  Status infra_failure;
  for (const auto& t : spec_->tests) {
    if (cancel_.cancelled()) break;
    auto started = Clock::now();
    {
      Event e;
      e.kind = EventKind::kStepStarted;
      e.name = t.name;
      Emit(e);
    }
    HookOutcome h = engine_->Call(t.fn, host_.get(), Deadline::In(spec_->test_timeout));
    TestOutcome to{t.name, h.status, std::chrono::duration_cast<Duration>(Clock::now() - started),
                   h.traceback};
    if (h.status.code() == Status::Code::kTimeout) {
      to.status = Status::Timeout("test \"" + t.name + "\" ran past its time budget of " +
                                  FormatDuration(spec_->test_timeout));
    }
    if (h.status.code() == Status::Code::kCancelled) to.status = Interrupted();
    nlohmann::json r = {{"name", t.name},
                        {"status", to.status.ok() ? "passed" : "failed"},
                        {"elapsed_ms", to.elapsed.count()},
                        {"api_calls", host_->calls()}};
    host_->ClearCalls();
    if (!to.status.ok()) {
      r["error"] = to.status.message();
      if (!to.traceback.empty()) r["traceback"] = to.traceback;
      if (to.status.code() != Status::Code::kCancelled) {
        ++failed;
        if (first_failure.empty()) first_failure = to.status.message();
        test.AddEvidence({{"test", t.name}, {"error", to.status.message()}});
      }
    }
    Say(std::string(to.status.ok() ? "  pass " : "  FAIL ") + t.name + " (" +
        FormatDuration(to.elapsed) + ")" + (to.status.ok() ? "" : ": " + to.status.message()));
    results.push_back(r);
    to.status = to.status.WithMessage(redactor_.Apply(to.status.message()));
    {
      Event e;
      e.kind = EventKind::kStepEnded;
      e.name = t.name;
      e.status = to.status.ok() ? "passed" : "failed";
      e.text = to.status.message();
      e.elapsed = to.elapsed;
      Emit(e);
    }
    to.traceback = redactor_.Apply(to.traceback);
    bool infra = to.status.code() == Status::Code::kInfra;
    if (infra) infra_failure = to.status;
    out_.tests.push_back(std::move(to));
    // The harness, Docker or the target failed under the test: the rest would not be
    // judged fairly either.
    if (infra) break;
  }
  test.Observe("tests", results);
  Status status;
  if (cancel_.cancelled()) {
    status = Interrupted();
  } else if (!infra_failure.ok()) {
    status = infra_failure;
  } else if (failed > 0) {
    status = Status::Failed(std::to_string(failed) + " of " + std::to_string(spec_->tests.size()) +
                            " tests failed; first: " + first_failure);
  }
  if (!status.ok()) {
    Fail("test", status);
    if (status.code() != Status::Code::kCancelled) CollectEvidence(test);
  }
  RecordPhase(test, status);
  return status;
}

void ColdRun::CollectEvidence(PhaseLog& p) {
  std::error_code ec;
  fs::create_directories(out_.artifacts + "/logs", ec);
  const CancelToken& never = CancelToken::None();
  for (const auto& svc : staged_->objects.services) {
    auto logs = runtime_->Logs(out_.namespace_name, host_ ? host_->Key(svc) : svc, 200, Deadline::In(Duration(15000)), never);
    if (!logs.ok()) continue;
    std::string text = redactor_.Apply(*logs);
    WriteFileAtomic(out_.artifacts + "/logs/" + svc + ".log", text);
    p.AddEvidence({{"service", svc}, {"log_tail", TailLines(text, kEvidenceLogLines)}});
  }
  if (auto health = runtime_->ContainerHealth(out_.namespace_name, Deadline::In(Duration(15000))); health.ok()) {
    for (const auto& c : *health) {
      if (c.value("health", "") != "healthy" || c.value("state", "") != "running") {
        p.AddEvidence({{"container", c}});
      }
    }
  }
  if (auto snap = runtime_->Observe(out_.namespace_name, full_services_, nullptr, Deadline::In(Duration(15000)), never); snap.ok()) {
    for (const auto& t : snap->tasks) {
      if (!t.error.empty() || t.desired_state != "Running") {
        p.AddEvidence({{"task", t.name}, {"state", t.current_state}, {"error", t.error}});
      }
    }
  }
}

// ---- after the phases

void ColdRun::JudgeInfrastructure() {
  // A run during which Docker went away or restarted proves nothing about the recipe:
  // its outcome is the infrastructure's, whatever the tests said.
  if (!out_.deployed || out_.result == "interrupted") return;
  Status infra;
  if (std::string now = runtime_->DaemonIdentity(Deadline::In(Duration(10000)));
      !daemon_.empty() && !now.empty() && now != daemon_) {
    infra = Status::Infra("the Docker daemon restarted during the run (pid/start " + daemon_ + " -> " + now + ")");
  } else if (!out_.failed_phase.empty()) {
    if (Status up = runtime_->Preflight(nullptr, Deadline::In(Duration(20000)), CancelToken::None()); !up.ok()) {
      infra = Status::Infra("Docker stopped answering during the run: " + up.message());
    }
  }
  if (infra.ok()) return;
  if (out_.failed_phase.empty()) out_.failed_phase = out_.phases.back().name;
  out_.reason = infra.message() + (out_.reason.empty() ? "" : "; " + out_.failed_phase + " failed with: " + out_.reason);
  out_.result = "infra";
}

void ColdRun::MatchTransientClass() {
  // A failure in a declared transient class may be retried once (RunRecipeWithRetry).
  // Prepare's infrastructure failures (a busy registry) only by a class of that phase.
  bool infra_in_prepare = out_.result == "infra" && out_.failed_phase == "prepare";
  if ((out_.result != "failed" && !infra_in_prepare) || opts_.retry_of) return;
  for (const auto& c : spec_->transient) {
    if (infra_in_prepare && c.phase != "prepare") continue;
    if ((c.phase == "any" || c.phase == out_.failed_phase) && std::regex_search(out_.reason, std::regex(c.match))) {
      out_.transient_class = c.name;
      return;
    }
  }
}

Status ColdRun::TeardownNow() {
  SetTeardownInProgress(true);
  PhaseLog p(99, "teardown", &redactor_);
  PhaseStarted(p, spec_->teardown_timeout);
  Say("teardown of " + out_.namespace_name);
  Deadline teardown_deadline = Deadline::In(spec_->teardown_timeout);
  Status s = runtime_->Teardown(out_.namespace_name, &p, teardown_deadline);
  if (s.ok()) s = ReleaseNetworks(p);
  if (s.ok()) s = ledger_->MarkRunResourcesRemoved(out_.run_id);
  RecordPhase(p, s);
  SetTeardownInProgress(false);
  return s;
}

void ColdRun::Conclude() {
  if (cancel_.cancelled() || out_.result == "interrupted") {
    out_.result = "interrupted";
    if (out_.failed_phase.empty()) out_.failed_phase = "teardown";
    out_.exit_code = ExitCodeForSignal(cancel_.signal() ? cancel_.signal() : SIGINT);
  } else if (!out_.teardown.ok() || out_.result == "infra") {
    out_.result = "infra";
    out_.exit_code = 3;
  } else if (!out_.failed_phase.empty()) {
    out_.exit_code = out_.result == "error" ? 2 : 1;
  } else {
    out_.result = "passed";
    out_.exit_code = 0;
  }
  NoteRetry();
  if (!ledger_status_.ok() && out_.exit_code < 3) {
    // Without a complete ledger a crash could not be cleaned up after: not a green run.
    out_.result = "infra";
    out_.exit_code = 3;
    if (out_.failed_phase.empty()) out_.failed_phase = "teardown";
    out_.reason += (out_.reason.empty() ? "" : "; ") + ledger_status_.message();
  }
  Say(out_.result + (out_.reason.empty() ? "" : ": " + out_.reason));
}

void ColdRun::NoteRetry() {
  if (!opts_.retry_of) return;
  out_.retry_of = opts_.retry_of->run_id;
  out_.first_reason = opts_.retry_of->reason;
  out_.transient_class = opts_.retry_of->transient_class;
  if (out_.result == "failed" || out_.result == "infra") {
    out_.escalated = true;
    out_.reason = "failed again after one retry for the transient class '" + out_.transient_class +
                  "' (escalated): " + out_.reason;
  }
}

RunOutcome ColdRun::Finish() {
  out_.elapsed = std::chrono::duration_cast<Duration>(Clock::now() - started_);
  std::string summary = redactor_.Apply(SummaryJson(out_).dump(2)) + "\n";
  if (ledger_) {
    NoteLedger(ledger_->EndRun(out_.run_id, out_.version, out_.result, out_.exit_code, summary));
    if (!ledger_status_.ok()) Say("ledger: " + ledger_status_.message());
  }
  if (!out_.artifacts.empty()) WriteFileAtomic(out_.artifacts + "/summary.json", summary);
  Event ended;
  ended.kind = EventKind::kRunEnded;
  ended.status = out_.result;
  ended.text = out_.reason;
  ended.elapsed = out_.elapsed;
  ended.exit_code = out_.exit_code;
  Emit(ended);
  return out_;
}

}  // namespace harness
