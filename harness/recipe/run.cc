#include "recipe/run.h"

#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "base/cancel.h"
#include "base/redact.h"
#include "base/temp_dir.h"
#include "ledger/ledger.h"
#include "ledger/liveness.h"
#include "recipe/naming.h"
#include "recipe/teardown_guard.h"
#include "report/phase_log.h"
#include "report/summary.h"
#include "runtime/compose.h"
#include "runtime/swarm.h"
#include "script/engine.h"

namespace harness {
namespace fs = std::filesystem;

namespace {

constexpr int kEvidenceLogLines = 50;

std::string ReadFile(const std::string& path, bool* ok) {
  std::ifstream f(path, std::ios::binary);
  *ok = static_cast<bool>(f);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string UtcStamp() {
  std::string iso = IsoTime(std::chrono::system_clock::now());  // 2026-11-26T05:25:15.123Z
  std::string out;
  for (char c : iso.substr(0, 19)) {
    if (c != '-' && c != ':') out += c;
  }
  return out;  // 20261126T052515
}

// The run's log file: every progress line, command and print(), redacted.
class RunLog {
 public:
  RunLog(const Redactor* redactor, ProgressFn progress) : redactor_(redactor), progress_(std::move(progress)) {}
  void Open(const std::string& path) { file_.open(path, std::ios::app); }
  void Line(const std::string& text, bool to_console) {
    std::string clean = redactor_->Apply(text);
    std::lock_guard<std::mutex> lock(mu_);
    if (file_) file_ << IsoTime(std::chrono::system_clock::now()) << " " << clean << "\n" << std::flush;
    if (to_console && progress_) progress_(clean);
  }

 private:
  const Redactor* redactor_;
  ProgressFn progress_;
  std::ofstream file_;
  std::mutex mu_;
};

// What a recipe's hooks reach: the deploy's services through the Swarm runtime.
class RunHost : public ScriptHost {
 public:
  RunHost(SwarmRuntime* swarm, HttpClient* http, std::string ns, std::vector<std::string> services,
          std::map<std::string, std::string> secrets, std::string files_dir, RunLog* log)
      : swarm_(swarm), http_(http), ns_(std::move(ns)), services_(std::move(services)),
        secrets_(std::move(secrets)), files_dir_(std::move(files_dir)), log_(log) {}

  void SetPhase(PhaseLog* phase) { phase_ = phase; }
  const nlohmann::json& calls() const { return calls_; }
  void ClearCalls() { calls_ = nlohmann::json::array(); }

  Result<HttpResponse> Http(HttpRequest req, Deadline deadline) override {
    auto url = ParseHttpUrl(req.url);
    if (!url.ok()) return url.status();
    auto addr = Resolve(url->host, deadline);
    if (!addr.ok()) return addr.status();
    bool has_host = false;
    for (const auto& [k, v] : req.headers) has_host = has_host || strcasecmp(k.c_str(), "host") == 0;
    if (!has_host) req.headers.emplace_back("Host", url->host + ":" + std::to_string(url->port));
    std::string original = req.url;
    req.url = "http://" + *addr + ":" + std::to_string(url->port) + url->path;
    Duration left = deadline.remaining();
    if (left < req.timeout) req.timeout = std::max(left, Duration(1));
    auto r = http_->Send(req, cancel());
    nlohmann::json c = {{"http", req.method + " " + original}};
    if (r.ok()) {
      c["status"] = r->status;
      c["elapsed_ms"] = r->elapsed.count();
    } else {
      c["error"] = r.status().message();
    }
    Record(c);
    return r;
  }

  Result<ProcessResult> Exec(const std::string& service, const std::vector<std::string>& argv,
                             Deadline deadline) override {
    auto container = Container(service, deadline);
    if (!container.ok()) return container.status();
    auto r = swarm_->Exec(*container, argv, deadline, cancel());
    nlohmann::json c = {{"exec", service + ": " + QuoteArgv(argv)}};
    if (r.ok()) {
      c["outcome"] = r->Describe();
    } else {
      c["error"] = r.status().message();
    }
    Record(c);
    return r;
  }

  Result<std::string> Logs(const std::string& service, int tail, Deadline deadline) override {
    if (Status s = Known(service); !s.ok()) return s;
    return swarm_->Logs(ns_, service, tail, deadline, cancel());
  }

  Result<std::string> Secret(const std::string& name) override {
    auto it = secrets_.find(name);
    if (it == secrets_.end()) {
      std::string known;
      for (const auto& [k, v] : secrets_) known += (known.empty() ? "" : ", ") + k;
      return Status::NotFound("no secret named '" + name + "' (declared: " +
                              (known.empty() ? "none" : known) + ")");
    }
    return it->second;
  }

  Status Artifact(const std::string& name, const std::string& content) override {
    bool ok = !name.empty() && name.size() <= 100 && name[0] != '.';
    for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_');
    if (!ok) return Status::InvalidArgument("bad artifact name '" + name + "' (letters, digits, . - _)");
    std::error_code ec;
    fs::create_directories(files_dir_, ec);
    return WriteFileAtomic(files_dir_ + "/" + name, redactor_ ? redactor_->Apply(content) : content);
  }

  void Print(const std::string& line) override { log_->Line("print: " + line, false); }
  const CancelToken& cancel() override { return CancelToken::Signals(); }
  void SetRedactor(const Redactor* r) { redactor_ = r; }

 private:
  Status Known(const std::string& service) {
    for (const auto& s : services_) {
      if (s == service) return Status::Ok();
    }
    std::string known;
    for (const auto& s : services_) known += (known.empty() ? "" : ", ") + s;
    return Status::NotFound("'" + service + "' is not a service of this deploy (services: " + known + ")");
  }
  Result<std::string> Container(const std::string& service, Deadline deadline) {
    if (Status s = Known(service); !s.ok()) return s;
    return swarm_->ContainerOf(ns_, service, deadline, cancel());
  }
  Result<std::string> Resolve(const std::string& service, Deadline deadline) {
    auto c = Container(service, deadline);
    if (!c.ok()) return c.status();
    return swarm_->AddressOf(*c, deadline, cancel());
  }
  void Record(nlohmann::json c) {
    if (calls_.size() < 500) calls_.push_back(std::move(c));
  }

  SwarmRuntime* swarm_;
  HttpClient* http_;
  std::string ns_;
  std::vector<std::string> services_;
  std::map<std::string, std::string> secrets_;
  std::string files_dir_;
  RunLog* log_;
  const Redactor* redactor_ = nullptr;
  PhaseLog* phase_ = nullptr;
  nlohmann::json calls_ = nlohmann::json::array();
};

Status CancelledStatus() {
  int sig = CancelToken::Signals().signal();
  return Status::Cancelled("interrupted by " + std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT"));
}

// Sleeps up to `d`, returning early when the run is cancelled.
void Nap(Duration d) {
  pollfd p{CancelToken::Signals().fd(), POLLIN, 0};
  poll(&p, p.fd >= 0 ? 1 : 0, static_cast<int>(d.count()));
}

}  // namespace

RunOutcome RunRecipeWithRetry(const RunOptions& opts, Docker* docker, const ProgressFn& progress) {
  RunOutcome first = RunRecipe(opts, docker, progress);
  if (first.result != "failed" || first.transient_class.empty() ||
      CancelToken::Signals().cancelled()) {
    return first;
  }
  if (progress) {
    progress("[" + opts.recipe + "] failure matches the declared transient class '" +
             first.transient_class + "': retrying once");
  }
  RunOutcome second = RunRecipe(opts, docker, progress);
  second.retry_of = first.run_id;
  second.first_reason = first.reason;
  second.transient_class = first.transient_class;
  if (second.result == "failed") {
    second.escalated = true;
    second.reason = "failed again after one retry for the transient class '" + first.transient_class +
                    "' (escalated): " + second.reason;
  }
  return second;
}

int CombinedExitCode(const std::vector<RunOutcome>& runs) {
  int code = 0;
  auto rank = [](int c) {
    if (c >= 128) return 4;
    if (c == 3) return 3;
    if (c == 2) return 2;
    if (c == 1) return 1;
    return 0;
  };
  for (const auto& r : runs) {
    if (rank(r.exit_code) > rank(code)) code = r.exit_code;
  }
  return code;
}

RunOutcome RunRecipe(const RunOptions& opts, Docker* docker, const ProgressFn& progress) {
  auto run_started = Clock::now();
  RunOutcome out;
  out.recipe = opts.recipe;
  Redactor redactor;
  RunLog log(&redactor, progress);
  auto say = [&](const std::string& text) { log.Line("[" + out.recipe + "] " + text, true); };
  std::function<void(const RunOutcome&)> on_finish;
  auto finish = [&](RunOutcome& o) -> RunOutcome& {
    o.elapsed = std::chrono::duration_cast<Duration>(Clock::now() - run_started);
    if (on_finish) on_finish(o);
    if (!o.artifacts.empty()) {
      WriteFileAtomic(o.artifacts + "/summary.json", redactor.Apply(SummaryJson(o).dump(2)) + "\n");
    }
    return o;
  };

  if (Status s = ValidateRecipeName(opts.recipe); !s.ok()) {
    out.reason = s.message();
    out.failed_phase = "prepare";
    return finish(out);
  }
  std::string recipe_dir = opts.recipes_dir + "/" + opts.recipe;
  std::string script_path = recipe_dir + "/recipe.lua";
  bool read_ok = false;
  std::string source = ReadFile(script_path, &read_ok);
  if (!read_ok) {
    out.reason = "no recipe script at " + script_path;
    out.failed_phase = "prepare";
    return finish(out);
  }

  out.namespace_name = NewNamespace(opts.recipe);
  out.run_id = UtcStamp() + "-" + out.namespace_name;
  out.artifacts = opts.artifacts_dir + "/" + out.run_id;
  std::error_code ec;
  fs::create_directories(out.artifacts, ec);
  if (ec) {
    out.reason = "cannot create the artifact folder " + out.artifacts + ": " + ec.message();
    out.result = "infra";
    out.exit_code = 3;
    out.artifacts.clear();
    return finish(out);
  }
  log.Open(out.artifacts + "/run.log");

  // The Swarm lock (shared, or exclusive for an isolated run), the run's own lock (its
  // liveness for reapers) and its ledger entry come before anything is created.
  auto swarm_lock = SwarmLock::Take(
      "local", opts.isolated ? SwarmLock::Mode::kExclusive : SwarmLock::Mode::kShared,
      opts.wait_for_isolation, CancelToken::Signals(), [&] {
        say(opts.isolated ? "waiting until no other harness run is active (isolated run)"
                          : "waiting for an isolated harness run to finish");
      });
  if (!swarm_lock.ok()) {
    out.reason = swarm_lock.status().message();
    out.failed_phase = "prepare";
    bool cancelled = swarm_lock.status().code() == Status::Code::kCancelled;
    out.result = cancelled ? "interrupted" : "infra";
    out.exit_code = cancelled ? ExitCodeForSignal(CancelToken::Signals().signal()) : 3;
    return finish(out);
  }
  auto lock = RunLock::Acquire(opts.state_dir, out.namespace_name);
  auto ledger_open = lock.ok() ? Ledger::Open(opts.state_dir) : Result<std::unique_ptr<Ledger>>(lock.status());
  if (!ledger_open.ok()) {
    out.reason = ledger_open.status().message();
    out.failed_phase = "prepare";
    out.result = "infra";
    out.exit_code = 3;
    return finish(out);
  }
  Ledger& ledger = **ledger_open;
  RunRecord record;
  record.id = out.run_id;
  record.recipe = opts.recipe;
  record.namespace_name = out.namespace_name;
  record.pid = static_cast<int64_t>(getpid());
  Status ledger_status = ledger.BeginRun(record);
  auto ledger_note = [&](const Status& s) {
    if (!s.ok() && ledger_status.ok()) ledger_status = s;
  };
  on_finish = [&](const RunOutcome& o) {
    ledger_note(ledger.EndRun(o.run_id, o.version, o.result, o.exit_code));
    if (!ledger_status.ok()) say("ledger: " + ledger_status.message());
  };

  const CancelToken& cancel = CancelToken::Signals();
  SwarmRuntime swarm(docker);
  int phase_number = 0;
  auto record_phase = [&](PhaseLog& p, const Status& s) {
    p.Finish(s);
    p.Write(out.artifacts);
    out.phases.push_back({p.phase(), s, p.elapsed()});
    auto j = p.ToJson();
    ledger_note(ledger.RecordPhase({out.run_id, p.number(), p.phase(), j["status"].get<std::string>(),
                                    j["started_at"].get<std::string>(), p.elapsed().count(),
                                    j.value("error", "")}));
    say(p.phase() + (s.ok() ? " ok" : " " + std::string(CodeName(s.code()))) + " (" +
        FormatDuration(p.elapsed()) + ")" + (s.ok() ? "" : ": " + s.message()));
  };
  auto fail = [&](const std::string& phase, const Status& s) {
    if (!out.failed_phase.empty()) return;
    out.failed_phase = phase;
    out.reason = redactor.Apply(s.message());
    switch (s.code()) {
      case Status::Code::kCancelled: out.result = "interrupted"; break;
      case Status::Code::kInfra: out.result = "infra"; break;
      case Status::Code::kInvalidArgument:
      case Status::Code::kNotFound: out.result = "error"; break;
      default: out.result = "failed"; break;
    }
  };

  // ---- prepare: load and check everything before anything is created.
  PhaseLog prepare(phase_number++, "prepare", &redactor);
  say("prepare: namespace " + out.namespace_name + ", artifacts in " + out.artifacts);
  // Loaded as "@recipes/<name>/recipe.lua" wherever the folder is, so messages stay short
  // and name the recipe.
  std::string engine_chunk = "recipes/" + opts.recipe + "/recipe.lua";
  ScriptEngine engine(engine_chunk, opts.recipe);
  auto spec = engine.Load(source);
  for (const auto& line : engine.load_output()) log.Line("print: " + line, false);
  if (!spec.ok()) {
    prepare.AddEvidence({{"script", script_path}, {"error", spec.status().message()}});
    fail("prepare", spec.status());
    record_phase(prepare, spec.status());
    out.exit_code = 2;
    return finish(out);
  }
  out.version = spec->version;
  out.weight = spec->weight;
  for (const auto& c : spec->transient) {
    try {
      std::regex check(c.match);
    } catch (const std::regex_error& e) {
      Status bad = Status::InvalidArgument(engine_chunk + ": transient class '" + c.name +
                                           "': 'match' is not a valid regular expression: " + c.match);
      fail("prepare", bad);
      record_phase(prepare, bad);
      out.exit_code = 2;
      return finish(out);
    }
  }
  std::string domain = out.namespace_name + "." + opts.domain_suffix;
  RunInfo info{out.run_id, spec->name, spec->version, out.namespace_name, domain};
  engine.SetRunInfo(info);
  prepare.Observe("recipe", {{"name", spec->name}, {"version", spec->version},
                             {"compose", spec->compose}, {"namespace", out.namespace_name},
                             {"domain", domain}, {"tests", spec->tests.size()}});

  std::map<std::string, std::string> env;
  bool env_ok = false;
  std::string env_sample = ReadFile(recipe_dir + "/.env.sample", &env_ok);
  if (env_ok) env = ParseEnvFile(env_sample);
  for (const auto& [k, v] : spec->env) env[k] = v;
  env["STACK_NAME"] = out.namespace_name;
  env["DOMAIN"] = domain;
  std::map<std::string, std::string> secret_values;
  for (const auto& sec : spec->secrets) {
    std::string upper;
    for (char c : sec.name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    env["SECRET_" + upper + "_VERSION"] = "v1";
    secret_values[sec.name] = GenerateSecret(sec.length, sec.charset);
    redactor.Add(sec.name, secret_values[sec.name]);
  }
  std::map<std::string, std::string> labels = {{"harness.run", out.run_id},
                                               {"harness.namespace", out.namespace_name},
                                               {"harness.owner", ThisProcessOwner()}};
  TempDir stage;
  Status prep = stage.path().empty() ? Status::Infra("cannot create a staging folder") : Status::Ok();
  Result<StagedCompose> staged = Status::Infra("not staged");
  if (prep.ok()) {
    staged = StageCompose(recipe_dir, spec->compose, labels, env, out.namespace_name, stage.path());
    if (!staged.ok()) prep = staged.status();
  }
  if (prep.ok()) prep = CheckDerivedNames(out.namespace_name, staged->objects);
  if (prep.ok()) {
    for (const auto& key : staged->objects.external_secrets) {
      if (!secret_values.count(key)) {
        prep = Status::InvalidArgument("compose declares the external secret '" + key +
                                       "' but recipe.lua does not declare it in 'secrets'");
        break;
      }
    }
  }
  if (prep.ok()) {
    prepare.Observe("services", staged->objects.services);
    prepare.Observe("images", staged->objects.images);
    prep = swarm.Preflight(&prepare, Deadline::In(Duration(30000)), cancel);
  }
  std::string daemon = prep.ok() ? swarm.DaemonIdentity(Deadline::In(Duration(10000))) : "";
  if (!daemon.empty()) prepare.Observe("docker_daemon", daemon);
  if (prep.ok()) prep = swarm.CheckImages(staged->objects.images, &prepare, Deadline::In(Duration(30000)), cancel);
  if (prep.ok() && cancel.cancelled()) prep = CancelledStatus();
  if (!prep.ok()) {
    fail("prepare", prep);
    record_phase(prepare, prep);
    out.exit_code = prep.code() == Status::Code::kInfra ? 3
                    : prep.code() == Status::Code::kCancelled ? ExitCodeForSignal(cancel.signal())
                                                              : 2;
    return finish(out);
  }
  record_phase(prepare, Status::Ok());

  std::vector<std::string> full_services;
  for (const auto& s : staged->objects.services) full_services.push_back(out.namespace_name + "_" + s);
  auto http = NewCurlHttpClient();
  RunHost host(&swarm, http.get(), out.namespace_name, staged->objects.services, secret_values,
               out.artifacts + "/files", &log);
  host.SetRedactor(&redactor);

  PhaseLog* evidence_phase = nullptr;  // where failure evidence goes
  std::unique_ptr<PhaseLog> deploy, converge, test;
  auto collect_evidence = [&](PhaseLog* p) {
    std::error_code ec2;
    fs::create_directories(out.artifacts + "/logs", ec2);
    for (const auto& svc : staged->objects.services) {
      auto logs = swarm.Logs(out.namespace_name, svc, 200, Deadline::In(Duration(15000)), CancelToken::None());
      if (!logs.ok()) continue;
      std::string text = redactor.Apply(*logs);
      WriteFileAtomic(out.artifacts + "/logs/" + svc + ".log", text);
      p->AddEvidence({{"service", svc}, {"log_tail", TailLines(text, kEvidenceLogLines)}});
    }
    auto health = swarm.ContainerHealth(out.namespace_name, Deadline::In(Duration(15000)));
    if (health.ok()) {
      for (const auto& c : *health) {
        if (c.value("health", "") != "healthy" || c.value("state", "") != "running") {
          p->AddEvidence({{"container", c}});
        }
      }
    }
    auto snap = swarm.Observe(out.namespace_name, nullptr, Deadline::In(Duration(15000)), CancelToken::None());
    if (snap.ok()) {
      for (const auto& t : snap->tasks) {
        if (!t.error.empty() || t.desired_state != "Running") {
          p->AddEvidence({{"task", t.name}, {"state", t.current_state}, {"error", t.error}});
        }
      }
    }
  };

  TeardownGuard guard([&]() -> Status {
    SetTeardownInProgress(true);
    PhaseLog p(99, "teardown", &redactor);
    say("teardown of " + out.namespace_name);
    Status s = swarm.Teardown(out.namespace_name, &p, Deadline::In(spec->teardown_timeout));
    if (s.ok()) s = ledger.MarkRunResourcesRemoved(out.run_id);
    record_phase(p, s);
    SetTeardownInProgress(false);
    return s;
  });

  // ---- deploy
  Deadline deploy_deadline = Deadline::In(spec->deploy_timeout);
  Status status;
  {
    deploy = std::make_unique<PhaseLog>(phase_number++, "deploy", &redactor);
    say("deploy started");
    guard.Arm();
    out.deployed = true;
    for (const auto& sec : spec->secrets) {
      std::string name = staged->objects.secrets.count(sec.name)
                             ? staged->objects.secrets.at(sec.name)
                             : out.namespace_name + "_" + sec.name + "_v1";
      status = ledger.PlanResource(out.run_id, "secret", name);  // write-ahead
      if (!status.ok()) break;
      status = swarm.CreateSecret(name, secret_values[sec.name], labels, deploy.get(), deploy_deadline, cancel);
      if (!status.ok()) break;
    }
    if (status.ok()) status = ledger.PlanResource(out.run_id, "stack", out.namespace_name);
    if (status.ok()) {
      status = swarm.DeployStack(out.namespace_name, staged->files, env, deploy.get(), deploy_deadline, cancel);
    }
    if (status.ok() && cancel.cancelled()) status = CancelledStatus();
    if (status.code() == Status::Code::kTimeout) {
      status = Status::Timeout("deploy did not finish within the deploy budget of " +
                               FormatDuration(spec->deploy_timeout));
    }
    if (!status.ok()) fail("deploy", status);
    record_phase(*deploy, status);
  }

  // ---- converge: Swarm settles, then the recipe's readiness probe passes.
  if (status.ok()) {
    converge = std::make_unique<PhaseLog>(phase_number++, "converge", &redactor);
    say("converge started (budget " + FormatDuration(deploy_deadline.remaining()) + ")");
    Duration interval{100};
    std::string last_reason;
    int polls = 0;
    nlohmann::json history = nlohmann::json::array();
    std::map<std::string, Clock::time_point> first_running;  // task id → first seen running
    while (true) {
      if (cancel.cancelled()) {
        status = CancelledStatus();
        break;
      }
      if (deploy_deadline.passed()) {
        status = Status::Timeout("did not converge within the deploy budget of " +
                                 FormatDuration(spec->deploy_timeout) + "; last state: " + last_reason);
        break;
      }
      auto snap = swarm.Observe(out.namespace_name, nullptr, deploy_deadline, cancel);
      ++polls;
      if (!snap.ok()) {
        status = snap.status().code() == Status::Code::kTimeout ? Status::Ok() : snap.status();
        if (!status.ok()) break;
        continue;
      }
      auto now = Clock::now();
      std::map<std::string, Duration> running_for;
      for (const auto& t : snap->tasks) {
        if (t.current_state.rfind("Running", 0) != 0) continue;
        auto seen = first_running.emplace(t.id, now).first->second;
        running_for[t.id] = std::chrono::duration_cast<Duration>(now - seen);
      }
      Judgement j = JudgeConvergence(*snap, full_services, running_for, spec->settle);
      if (j.reason != last_reason) {
        history.push_back({{"after_ms", converge->elapsed().count()}, {"state", j.reason}});
        last_reason = j.reason;
      }
      if (j.kind == Judgement::Kind::kConverged) break;
      if (j.kind == Judgement::Kind::kFailed) {
        for (const auto& e : j.evidence) converge->AddEvidence({{"task", e}});
        status = Status::Failed(j.reason);
        break;
      }
      Nap(std::min(interval, deploy_deadline.remaining()));
      interval = std::min(interval * 3 / 2, Duration(1000));
    }
    converge->Observe("polls", polls);
    converge->Observe("states", history);
    if (status.ok() && spec->ready.valid()) {
      say("swarm converged; readiness probe");
      Duration wait{100};
      int tries = 0;
      std::string observation;
      while (true) {
        if (cancel.cancelled()) {
          status = CancelledStatus();
          break;
        }
        ++tries;
        HookOutcome h = engine.Call(spec->ready, &host, deploy_deadline);
        if (h.status.code() == Status::Code::kCancelled) {
          status = CancelledStatus();
          break;
        }
        if (h.status.ok() && h.truthy) break;
        observation = h.status.ok() ? (h.observation.empty() ? "probe returned false" : h.observation)
                                    : h.status.message();
        if (deploy_deadline.passed()) {
          status = Status::Timeout("readiness probe did not pass within the deploy budget of " +
                                   FormatDuration(spec->deploy_timeout) + " (" + std::to_string(tries) +
                                   " tries); last observation: " + observation);
          break;
        }
        Nap(std::min(wait, deploy_deadline.remaining()));
        wait = std::min(wait * 3 / 2, Duration(2000));
      }
      converge->Observe("readiness_tries", tries);
      if (!observation.empty()) converge->Observe("readiness_last_observation", observation);
      converge->Observe("api_calls", host.calls());
      host.ClearCalls();
    }
    if (!status.ok()) {
      fail("converge", status);
      if (status.code() != Status::Code::kCancelled) {
        collect_evidence(converge.get());
        evidence_phase = converge.get();
      }
    }
    record_phase(*converge, status);
  }

  // ---- test
  if (status.ok()) {
    test = std::make_unique<PhaseLog>(phase_number++, "test", &redactor);
    say("test started (" + std::to_string(spec->tests.size()) + " tests)");
    nlohmann::json results = nlohmann::json::array();
    int failed = 0;
    std::string first_failure;
    for (const auto& t : spec->tests) {
      if (cancel.cancelled()) break;
      auto started = Clock::now();
      HookOutcome h = engine.Call(t.fn, &host, Deadline::In(spec->test_timeout));
      TestOutcome to{t.name, h.status,
                     std::chrono::duration_cast<Duration>(Clock::now() - started), h.traceback};
      if (h.status.code() == Status::Code::kTimeout) {
        to.status = Status::Timeout("test \"" + t.name + "\" ran past its time budget of " +
                                    FormatDuration(spec->test_timeout));
      }
      if (h.status.code() == Status::Code::kCancelled) to.status = CancelledStatus();
      nlohmann::json r = {{"name", t.name},
                          {"status", to.status.ok() ? "passed" : "failed"},
                          {"elapsed_ms", to.elapsed.count()},
                          {"api_calls", host.calls()}};
      host.ClearCalls();
      if (!to.status.ok()) {
        r["error"] = to.status.message();
        if (!to.traceback.empty()) r["traceback"] = to.traceback;
        if (to.status.code() != Status::Code::kCancelled) {
          ++failed;
          if (first_failure.empty()) first_failure = to.status.message();
          test->AddEvidence({{"test", t.name}, {"error", to.status.message()}});
        }
      }
      say(std::string(to.status.ok() ? "  pass " : "  FAIL ") + t.name + " (" +
          FormatDuration(to.elapsed) + ")" + (to.status.ok() ? "" : ": " + to.status.message()));
      results.push_back(r);
      out.tests.push_back(std::move(to));
    }
    test->Observe("tests", results);
    if (cancel.cancelled()) {
      status = CancelledStatus();
    } else if (failed > 0) {
      status = Status::Failed(std::to_string(failed) + " of " + std::to_string(spec->tests.size()) +
                              " tests failed; first: " + first_failure);
    }
    if (!status.ok()) {
      fail("test", status);
      if (status.code() != Status::Code::kCancelled) {
        collect_evidence(test.get());
        evidence_phase = test.get();
      }
    }
    record_phase(*test, status);
  }
  (void)evidence_phase;

  // A run during which Docker went away or restarted proves nothing about the recipe:
  // its outcome is the infrastructure's, whatever the tests said.
  if (out.deployed && out.result != "interrupted") {
    Status infra;
    if (std::string now = swarm.DaemonIdentity(Deadline::In(Duration(10000)));
        !daemon.empty() && !now.empty() && now != daemon) {
      infra = Status::Infra("the Docker daemon restarted during the run (pid/start " + daemon + " -> " + now + ")");
    } else if (!out.failed_phase.empty()) {
      if (Status up = swarm.Preflight(nullptr, Deadline::In(Duration(20000)), CancelToken::None()); !up.ok()) {
        infra = Status::Infra("Docker stopped answering during the run: " + up.message());
      }
    }
    if (!infra.ok()) {
      if (out.failed_phase.empty()) out.failed_phase = out.phases.back().name;
      out.reason = infra.message() + (out.reason.empty() ? "" : "; " + out.failed_phase + " failed with: " + out.reason);
      out.result = "infra";
    }
  }

  // A failure in a declared transient class may be retried once (by the caller).
  if (out.result == "failed") {
    for (const auto& c : spec->transient) {
      if ((c.phase == "any" || c.phase == out.failed_phase) &&
          std::regex_search(out.reason, std::regex(c.match))) {
        out.transient_class = c.name;
        break;
      }
    }
  }

  // ---- teardown: always.
  out.teardown = guard.Run();
  if (!out.teardown.ok()) {
    if (out.failed_phase.empty()) fail("teardown", out.teardown);
    else out.reason += " (and teardown failed: " + out.teardown.message() + ")";
  }

  if (cancel.cancelled() || out.result == "interrupted") {
    out.result = "interrupted";
    if (out.failed_phase.empty()) out.failed_phase = "teardown";
    out.exit_code = ExitCodeForSignal(cancel.signal() ? cancel.signal() : SIGINT);
  } else if (!out.teardown.ok() || out.result == "infra") {
    out.result = "infra";
    out.exit_code = 3;
  } else if (!out.failed_phase.empty()) {
    out.exit_code = out.result == "error" ? 2 : 1;
  } else {
    out.result = "passed";
    out.exit_code = 0;
  }
  if (!ledger_status.ok() && out.exit_code < 3) {
    // Without a complete ledger a crash could not be cleaned up after: not a green run.
    out.result = "infra";
    out.exit_code = 3;
    if (out.failed_phase.empty()) out.failed_phase = "teardown";
    out.reason += (out.reason.empty() ? "" : "; ") + ledger_status.message();
  }
  say(out.result + (out.reason.empty() ? "" : ": " + out.reason));
  return finish(out);
}

}  // namespace harness
