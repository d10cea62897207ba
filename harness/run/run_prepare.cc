// ColdRun::Prepare and its parts: everything decided before the first object is created.
#include "run/cold_run.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "base/files.h"
#include "base/strings.h"
#include "recipe/deploy_env.h"
#include "recipe/naming.h"
#include "runtime/docker_api.h"
#include "runtime/images.h"

namespace harness {

namespace {

constexpr Duration kCheckTimeout{30000};

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

// ---- prepare: load and check everything before anything is created

bool ColdRun::Prepare() {
  PhaseLog prepare(phase_number_++, "prepare", &redactor_);
  PhaseStarted(prepare, Duration(0));
  Say("prepare: namespace " + out_.namespace_name + ", artifacts in " + out_.artifacts);
  auto refuse = [&](const Status& s) {
    Fail("prepare", s);
    RecordPhase(prepare, s);
    out_.exit_code = ExitCode(s);
    if (spec_) MatchTransientClass();
    NoteRetry();
    if (opts_.check_only) {
      Problem(s);
      if (staged_) FillCheckReport(prepare);  // what was decided before the problem
    }
    check_["prepare"] = prepare.ToJson();
    return false;
  };

  if (Status s = LoadScript(prepare); !s.ok()) return refuse(s);
  domain_ = profile_->Domain(out_.namespace_name, opts_.domain_suffix);
  domain_ = runtime_->DomainFor(out_.namespace_name, domain_);
  labels_ = {{"harness.run", out_.run_id},
             {"harness.namespace", out_.namespace_name},
             {"harness.owner", ThisProcessOwner()}};
  for (const auto& [key, value] : profile_->Labels(opts_.recipe)) labels_[key] = value;
  if (stage_.path().empty()) return refuse(Status::Infra("cannot create a staging folder"));
  if (Status s = ReadRecipe(prepare); !s.ok()) return refuse(s);
  if (Status s = CheckRecipeLabels(prepare); !s.ok()) return refuse(s);
  out_.version = spec_->version;
  engine_->SetRunInfo({out_.run_id, spec_->name, spec_->version, out_.namespace_name, domain_});
  prepare.Observe("recipe", {{"name", spec_->name}, {"version", spec_->version},
                             {"compose", compose_}, {"namespace", out_.namespace_name}, {"profile", profile_->kind()},
                             {"domain", domain_}, {"tests", spec_->tests.size()}});

  if (Status s = MakeSecrets(prepare); !s.ok()) return refuse(s);
  if (Status s = CheckDerivedNames(out_.namespace_name, staged_->objects); !s.ok()) return refuse(s);
  prepare.Observe("services", staged_->objects.services);
  if (Status s = runtime_->Preflight(&prepare, Deadline::In(kCheckTimeout), cancel_); !s.ok()) return refuse(s);
  // On this machine, convergence is read through the Engine API's socket when it reaches
  // the same daemon as the CLI: milliseconds per look instead of three CLI processes.
  prepare.Observe("observations_via", runtime_->ChooseObservations(Deadline::In(kCheckTimeout)));
  if (opts_.api != nullptr) prepare.Observe("docker_api", opts_.api->Describe());
  daemon_ = runtime_->DaemonIdentity(Deadline::In(Duration(10000)));
  if (!daemon_.empty()) prepare.Observe("docker_daemon", daemon_);
  if (Status s = LookAtNetworks(prepare); !s.ok()) return refuse(s);
  if (Status s = PrepareImages(prepare); !s.ok()) return refuse(s);
  if (!opts_.check_only) {
    // What the deploys deploy: the staged files, images pinned.
    Runtime::App app{spec_->name, domain_, recipe_dir_, staged_->files, compose_, env_};
    if (Status s = runtime_->PrepareApp(app); !s.ok()) return refuse(s);
  }
  if (!opts_.check_only) LookForProxy(prepare);
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
  host_->RouteDomains(routed_domains_, proxy_);
  return true;
}

// ---- the parts of prepare

void ColdRun::LookForProxy(PhaseLog& prepare) {
  // Traefik reads a Swarm service's own labels (its deploy labels): each HTTP router's rule.
  const std::string prefix = "traefik.http.routers.", suffix = ".rule";
  for (const auto& [service, labels] : staged_->objects.deploy_labels) {
    for (const auto& [key, value] : labels) {
      if (key.size() <= prefix.size() + suffix.size() || key.compare(0, prefix.size(), prefix) != 0 ||
          key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0) {
        continue;
      }
      for (const auto& d : RouterHosts(value)) {
        if (std::find(routed_domains_.begin(), routed_domains_.end(), d) == routed_domains_.end()) {
          routed_domains_.push_back(d);
        }
      }
    }
  }
  if (routed_domains_.empty()) return;
  nlohmann::json seen = {{"domains", routed_domains_}};
  // A recipe that routes names is reached by its domain, whether or not its rules name it.
  domain_in_rules_ = std::find(routed_domains_.begin(), routed_domains_.end(), domain_) != routed_domains_.end();
  if (!domain_in_rules_) routed_domains_.push_back(domain_);
  if (!opts_.proxy.empty()) {
    const std::string host = opts_.proxy.substr(0, opts_.proxy.rfind(':'));
    proxy_ = ProxyAccess{opts_.proxy, host + ":80", opts_.proxy_ca, "--proxy " + opts_.proxy};
  } else if (auto found = runtime_->FindProxy(&prepare, Deadline::In(Duration(20000)), cancel_); !found.ok()) {
    seen["error"] = found.status().message();
    Say("proxy: could not look for the Swarm's proxy (" + found.status().message() +
        "): no serving check, and requests by domain will fail");
  } else if (found->has_value()) {
    const Runtime::ProxyEntry& e = **found;
    proxy_ = ProxyAccess{"127.0.0.1:" + std::to_string(e.https_port),
                         e.http_port > 0 ? "127.0.0.1:" + std::to_string(e.http_port) : "", opts_.proxy_ca,
                         "service " + e.service + " publishes 443 as " + std::to_string(e.https_port)};
  }
  if (proxy_) {
    seen["https"] = proxy_->https;
    if (!proxy_->http.empty()) seen["http"] = proxy_->http;
    seen["found"] = proxy_->how;
    seen["ca"] = proxy_->ca_file.empty() ? "system" : proxy_->ca_file;
    Say("proxy: " + proxy_->how + " (" + Join(routed_domains_, ", ") + ")");
  } else {
    seen["none"] = "no service on the proxy network publishes port 443, and no --proxy was given";
  }
  prepare.Observe("proxy", seen);
}

Status ColdRun::LoadScript(PhaseLog& prepare) {
  // Loaded as "@recipes/<name>/recipe.lua" wherever the folder is, so messages stay short
  // and name the recipe.
  const std::string& chunk = checkout_.chunk;
  engine_ = std::make_unique<ScriptEngine>(chunk, opts_.recipe, opts_.script_limits);
  auto spec = engine_->Load(source_);
  for (const auto& line : engine_->load_output()) log_.Line("print: " + line, false);
  if (!spec.ok()) {
    prepare.AddEvidence({{"script", checkout_.script}, {"error", spec.status().message()}});
    return spec.status();
  }
  spec_ = std::move(*spec);
  if (!checkout_.commit.empty()) {
    // A git recipe's version is the release tag (or commit) checked out.
    spec_->version = checkout_.version;
    prepare.Observe("source", {{"git", checkout_.origin}, {"path", spec_->source_path}, {"commit", checkout_.commit},
                               {"version", checkout_.version}});
  } else if (!opts_.version.empty() && spec_->version != opts_.version) {
    return Status::InvalidArgument(chunk + ": the release folder " + opts_.version + " declares version '" +
                                   spec_->version + "'");
  }
  out_.version = spec_->version;
  out_.weight = spec_->weight;
  for (const auto& c : spec_->transient) {
    try {
      std::regex check(c.match);
    } catch (const std::regex_error&) {
      return Status::InvalidArgument(chunk + ": transient class '" + c.name +
                                     "': 'match' is not a valid regular expression: " + c.match);
    }
  }
  return Status::Ok();
}

Status ColdRun::MakeSecrets(PhaseLog& prepare) {
  // A profile may keep secrets from one deploy to the next (the warm canon's).
  auto kept = profile_->KeptSecrets();
  if (!kept.ok()) return kept.status();
  nlohmann::json secrets = nlohmann::json::array();
  for (const auto& sec : spec_->secrets) {
    auto it = kept->find(sec.name);
    bool keep = it != kept->end();
    secret_values_[sec.name] = keep ? it->second : GenerateSecret(sec.length, sec.charset);
    redactor_.Add(sec.name, secret_values_[sec.name]);
    secrets.push_back({{"name", sec.name}, {"length", sec.length}, {"charset", sec.charset}, {"kept", keep}});
  }
  prepare.Observe("secrets", secrets);
  return profile_->KeepSecrets(secret_values_);
}

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
  // Before staging, which copies the files configs and secrets name. A check judges every
  // recipe, so that a maintainer sees what a pull request's head would be refused.
  if (Untrusted() || opts_.check_only) {
    if (Status s = CheckComposePolicyOfHead(prepare); !s.ok()) return s;
  }
  auto staged = StageCompose(recipe_dir_, compose_, labels_, env_, out_.namespace_name, stage_.path(),
                             StageOptions{profile_->stays()});
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

bool ColdRun::Untrusted() const {
  return !opts_.commit.empty() || !opts_.compose_policy.Trusts(checkout_.origin);
}

Status ColdRun::CheckComposePolicyOfHead(PhaseLog& prepare) {
  auto findings = CheckComposePolicy(recipe_dir_, compose_, env_, opts_.recipe, opts_.compose_policy);
  if (!findings.ok()) return findings.status();
  const bool untrusted = Untrusted();
  const std::string source = !opts_.commit.empty()         ? "commit " + opts_.commit
                             : !checkout_.origin.empty() ? "git " + checkout_.origin
                                                         : "folder " + recipe_dir_;
  nlohmann::json list = nlohmann::json::array();
  std::string described;
  for (const auto& f : *findings) {
    nlohmann::json j = {{"file", f.file}, {"service", f.service}, {"key", f.key}, {"detail", f.detail}, {"rule", f.rule}};
    list.push_back(j);
    prepare.AddEvidence({{"policy_finding", j}});
    described += (described.empty() ? "" : "; ") + f.Describe();
  }
  prepare.Observe("compose_policy", {{"source", source}, {"untrusted", untrusted}, {"findings", list}});
  check_["compose_policy"] = {{"source", source}, {"untrusted", untrusted}, {"findings", list}};
  if (findings->empty() || !untrusted) return Status::Ok();
  return Status::InvalidArgument("refused by the compose policy for untrusted sources (docs/policy.md): " + described);
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
  if (!profile_->expect_version().empty()) expect_version_ = profile_->expect_version();

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
    auto text = ReadFile(staged_->files[i]);
    // The report still lists the file; why its text is missing is said.
    if (!text.ok()) Say("check: the staged " + compose_[i] + " cannot be shown: " + text.status().message());
    staged.push_back({{"file", compose_[i]}, {"staged", redactor_.Apply(text.value_or(""))}});
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

}  // namespace harness
