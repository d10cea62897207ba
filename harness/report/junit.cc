#include "report/junit.h"

#include <cstdio>
#include <sstream>

#include "report/summary.h"

namespace harness {
namespace {

std::string Secs(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", Seconds(d));
  return buf;
}

std::string Attr(const std::string& name, const std::string& value) {
  return " " + name + "=\"" + XmlEscape(value) + "\"";
}

std::string MdCell(std::string s) {
  for (auto& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out.empty() ? "-" : out;
}

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') break;  // not allowed in XML 1.0
        out += static_cast<char>(c);
    }
  }
  return out;
}

std::string JUnitXml(const std::vector<RunOutcome>& runs, const std::string& name) {
  int tests = 0, failures = 0, errors = 0;
  Duration total{0};
  std::ostringstream suites;
  for (const auto& r : runs) {
    int s_tests = 0, s_failures = 0, s_errors = 0;
    std::ostringstream cases;
    bool is_error = r.result == "infra" || r.result == "interrupted" || r.result == "error";
    auto problem = [&](const std::string& type, const std::string& message) {
      bool error = is_error;
      (error ? s_errors : s_failures) += 1;
      return std::string("      <") + (error ? "error" : "failure") + Attr("type", type) + Attr("message", message) +
             ">" + XmlEscape(message) + "</" + (error ? "error" : "failure") + ">\n";
    };
    for (const auto& p : r.phases) {
      ++s_tests;
      cases << "    <testcase" << Attr("classname", r.recipe + ".phases") << Attr("name", p.name)
            << Attr("time", Secs(p.elapsed));
      // The failed phase carries the run's reason, even when the phase itself went well
      // (a run judged infra afterwards, e.g. because Docker restarted meanwhile).
      bool failed_here = r.result != "passed" && p.name == r.failed_phase;
      if (p.status.ok() && !failed_here) {
        cases << "/>\n";
      } else {
        cases << ">\n" << problem(p.name, failed_here ? r.reason : p.status.message())
              << "    </testcase>\n";
      }
    }
    if (r.phases.empty()) {  // refused before its first phase
      ++s_tests;
      cases << "    <testcase" << Attr("classname", r.recipe + ".phases") << Attr("name", "prepare")
            << Attr("time", "0.000") << ">\n" << problem("prepare", r.reason) << "    </testcase>\n";
    }
    for (const auto& t : r.tests) {
      ++s_tests;
      cases << "    <testcase" << Attr("classname", r.recipe + ".tests") << Attr("name", t.name)
            << Attr("time", Secs(t.elapsed));
      if (t.status.ok()) {
        cases << "/>\n";
      } else {
        std::string kind = t.status.code() == Status::Code::kTimeout ? "timeout" : "assertion";
        std::string body = t.status.message() + (t.traceback.empty() ? "" : "\n" + t.traceback);
        bool error = is_error;
        (error ? s_errors : s_failures) += 1;
        const char* tag = error ? "error" : "failure";
        cases << ">\n      <" << tag << Attr("type", kind) << Attr("message", t.status.message()) << ">"
              << XmlEscape(body) << "</" << tag << ">\n    </testcase>\n";
      }
    }
    suites << "  <testsuite" << Attr("name", r.recipe) << Attr("tests", std::to_string(s_tests))
           << Attr("failures", std::to_string(s_failures)) << Attr("errors", std::to_string(s_errors))
           << Attr("skipped", "0") << Attr("time", Secs(r.elapsed)) << ">\n";
    suites << "    <properties>\n";
    auto prop = [&](const std::string& k, const std::string& v) {
      if (!v.empty()) suites << "      <property" << Attr("name", k) << Attr("value", v) << "/>\n";
    };
    prop("version", r.version);
    prop("run_id", r.run_id);
    prop("namespace", r.namespace_name);
    prop("result", r.result);
    prop("next", NextStep(r) == "-" ? "" : NextStep(r));
    if (r.result == "infra") prop("verdict", "infra");
    prop("triage_verdict", r.triage_verdict);
    prop("triage_confidence", r.triage_confidence);
    if (!r.retry_of.empty()) {
      prop("retried_for", r.transient_class);
      prop("first_run", r.retry_of);
      prop("first_reason", r.first_reason);
      prop("escalated", r.escalated ? "true" : "false");
    }
    suites << "    </properties>\n" << cases.str() << "  </testsuite>\n";
    tests += s_tests;
    failures += s_failures;
    errors += s_errors;
    total += r.elapsed;
  }
  std::ostringstream os;
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  os << "<testsuites" << Attr("name", name) << Attr("tests", std::to_string(tests))
     << Attr("failures", std::to_string(failures)) << Attr("errors", std::to_string(errors))
     << Attr("time", Secs(total)) << ">\n";
  os << suites.str() << "</testsuites>\n";
  return os.str();
}

std::string MarkdownSummary(const std::vector<RunOutcome>& runs, const std::string& title) {
  std::ostringstream os;
  int passed = 0;
  for (const auto& r : runs) passed += r.result == "passed" ? 1 : 0;
  os << "## " << title << "\n\n";
  os << "**" << passed << " passed, " << runs.size() - passed << " failed** of " << runs.size() << " recipes.\n\n";
  os << "| recipe | version | result | phase | time | next | reason |\n";
  os << "|---|---|---|---|---|---|---|\n";
  for (const auto& r : runs) {
    std::string result = r.result == "passed" ? "passed" : "**" + r.result + "**";
    os << "| " << MdCell(r.recipe) << " | " << MdCell(r.version) << " | " << result << " | "
       << MdCell(r.failed_phase) << " | " << FormatDuration(r.elapsed) << " | "
       << MdCell(!r.triage_verdict.empty() ? "verdict: " + r.triage_verdict
                 : NextStep(r) == "-"       ? ""
                                            : NextStep(r))
       << " | " << MdCell(r.reason) << " |\n";
  }
  bool any_retry = false;
  for (const auto& r : runs) any_retry = any_retry || !r.retry_of.empty();
  if (any_retry) {
    os << "\nRetried once for a declared transient class:\n\n";
    for (const auto& r : runs) {
      if (r.retry_of.empty()) continue;
      os << "- " << MdCell(r.recipe) << ": class `" << r.transient_class << "`, "
         << (r.escalated ? "failed again (escalated)" : "passed on the retry") << "; first failure: "
         << MdCell(r.first_reason) << "\n";
    }
  }
  return os.str();
}

}  // namespace harness
