#include "report/check.h"

#include <sstream>

#include "base/json_text.h"

namespace harness {

namespace {

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : JsonText(*it);
}

const nlohmann::json& Obs(const nlohmann::json& report, const char* key) {
  static const nlohmann::json none;
  auto p = report.find("prepare");
  if (p == report.end() || !p->contains("observations")) return none;
  auto it = (*p)["observations"].find(key);
  return it == (*p)["observations"].end() ? none : *it;
}

}  // namespace

std::string CheckText(const nlohmann::json& r) {
  std::ostringstream out;
  out << "recipe " << Str(r, "recipe") << " " << Str(r, "version") << " (namespace " << Str(r, "namespace")
      << " for this check)\n";
  if (const auto& c = Obs(r, "compose_files"); c.is_object()) {
    out << "\ncompose files (" << Str(c, "why") << "):\n";
    for (const auto& f : c["files"]) out << "  " << f.get<std::string>() << "\n";
  }
  if (r.contains("environment")) {
    out << "\nenvironment:\n";
    for (const auto& e : r["environment"]) {
      out << "  " << Str(e, "name") << "=" << Str(e, "value") << "   (" << Str(e, "from") << ")\n";
    }
  }
  if (const auto& na = Obs(r, "abra_sh_not_applied"); na.is_array()) {
    out << "\nabra.sh lines not applied (never executed):\n";
    for (const auto& l : na) out << "  abra.sh:" << Str(l, "line") << ": " << Str(l, "text") << "  — " << Str(l, "why") << "\n";
  }
  if (const auto& images = Obs(r, "images_resolved"); images.is_array()) {
    const auto& policy = Obs(r, "pull_policy");
    out << "\nimages (pull policy " << (policy.is_string() ? policy.get<std::string>() : "missing") << "):\n";
    for (const auto& i : images) {
      out << "  " << Str(i, "image") << "  " << Str(i, "source");
      if (i.contains("digest")) out << "  " << Str(i, "digest");
      if (i.contains("error")) out << "  (" << Str(i, "error") << ")";
      out << "\n";
    }
  }
  if (r.contains("objects")) {
    const auto& o = r["objects"];
    out << "\nservices:\n";
    for (const auto& s : o["services"]) out << "  " << s.get<std::string>() << "\n";
    out << "secrets (generated for the run; values never shown):\n";
    for (const auto& s : o["secrets"]) {
      out << "  " << Str(s, "name") << "  (length " << Str(s, "length") << ", " << Str(s, "charset") << ")\n";
    }
    out << "configs:\n";
    for (const auto& s : o["configs"]) out << "  " << Str(s, "name") << "\n";
    out << "volumes:\n";
    for (const auto& s : o["volumes"]) out << "  " << Str(s, "name") << "\n";
    out << "networks:\n";
    for (const auto& s : o["networks"]) {
      out << "  " << Str(s, "name");
      if (s.value("external", false)) out << (s.value("exists", false) ? "  (external, exists)" : "  (external, created for the run)");
      out << "\n";
    }
  }
  if (const auto& b = Obs(r, "deploy_budget"); b.is_object()) {
    out << "\ndeploy budget: " << Str(b, "seconds") << " s (" << Str(b, "from") << ")\n";
  }
  if (const auto& v = Obs(r, "version_label"); v.is_object()) {
    out << "version label: " << Str(v, "value") << " (service " << Str(v, "service") << ")\n";
  }
  if (r.contains("staged_compose")) {
    for (const auto& f : r["staged_compose"]) {
      out << "\n--- staged " << Str(f, "file") << " ---\n" << Str(f, "staged");
    }
  }
  const auto& problems = r.contains("problems") ? r["problems"] : nlohmann::json::array();
  out << "\n";
  if (problems.empty()) {
    out << "ready: a run could start (exit 0)\n";
  } else {
    out << "problems:\n";
    for (const auto& p : problems) {
      out << "  " << Str(p, "error") << "\n";
      if (!Str(p, "fix").empty()) out << "    fix: " << Str(p, "fix") << "\n";
    }
    out << Str(r, "result") << " (exit " << Str(r, "exit_code") << ")\n";
  }
  return out.str();
}

}  // namespace harness
