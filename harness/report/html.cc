#include "report/html.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "base/deadline.h"
#include "report/junit.h"
#include "report/summary.h"
#include "verdict/verdict.h"

namespace harness {
namespace {

constexpr const char* kStyle = R"css(
:root{--ok:#1a7f37;--fail:#cf222e;--err:#8250df;--infra:#9a6700;--int:#57606a;--line:#d0d7de}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.meta{color:#57606a;margin-bottom:16px}
.totals span{display:inline-block;margin-right:14px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:middle}
th{font-weight:600;background:#f6f8fa}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
.passed{background:var(--ok)}.failed{background:var(--fail)}.error{background:var(--err)}
.infra{background:var(--infra)}.interrupted{background:var(--int)}
.strip{white-space:nowrap}
.strip a{display:inline-block;width:9px;height:18px;margin-right:2px;border-radius:2px}
.reason{max-width:420px;overflow-wrap:anywhere;color:#57606a}
.since{color:var(--fail);font-size:12px}
.verdict{font-size:12px;font-weight:600}
td a{white-space:nowrap}
.rate small{color:#57606a}
svg .trend{fill:none;stroke:#8c959f;stroke-width:1}
svg .p-passed{fill:var(--ok)}svg .p-failed{fill:var(--fail)}svg .p-error{fill:var(--err)}
svg .p-infra{fill:var(--infra)}svg .p-interrupted{fill:var(--int)}
svg text{font-size:9px;fill:#57606a}
details{margin:6px 0;border:1px solid var(--line);border-radius:6px;padding:6px 10px}
summary{cursor:pointer}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;padding:8px;border-radius:6px}
body.only-failing tr.row-passed{display:none}
)css";

// Marks the page ready once its script ran (the browser test waits for it) and lets a
// reader hide the green recipes.
constexpr const char* kScript = R"js(
(function () {
  var box = document.getElementById('only-failing');
  box.addEventListener('change', function () {
    document.body.classList.toggle('only-failing', box.checked);
  });
  document.body.setAttribute('data-ready', '1');
})();
)js";

std::string Esc(const std::string& s) { return XmlEscape(s); }

// "2026-11-26T05:25:15.123Z" → "2026-11-26 05:25"
std::string ShortTime(const std::string& iso) {
  if (iso.size() < 16) return iso;
  return iso.substr(0, 10) + " " + iso.substr(11, 5);
}

std::string FirstLine(const std::string& text, size_t max) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > max) line = line.substr(0, max - 3) + "...";
  return line;
}

std::string Badge(const std::string& result) {
  return "<span class=\"badge " + Esc(result) + "\">" + Esc(result) + "</span>";
}

std::string Percent(double v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%", v * 100);
  return buf;
}

// Pass and fail count towards the pass rate; infrastructure trouble and interrupts say
// nothing about the recipe. A script error is the recipe's failure.
bool Counts(const RunOutcome& r) { return r.result != "infra" && r.result != "interrupted"; }

std::string PassRate(const std::vector<ReportRun>& runs) {
  int passes = 0, n = 0;
  for (const auto& r : runs) {
    if (!Counts(r.outcome)) continue;
    ++n;
    if (r.outcome.result == "passed") ++passes;
  }
  if (n == 0) return "-";
  Interval ci = Wilson(passes, n);
  return Percent(static_cast<double>(passes) / n) + " <small>(" + std::to_string(passes) + "/" +
         std::to_string(n) + ", 95% CI " + Percent(ci.low) + "–" + Percent(ci.high) + ")</small>";
}

// "failing since <time> (N runs)" when the latest counted runs failed; "" otherwise.
std::string FailingSince(const std::vector<ReportRun>& runs) {
  const ReportRun* since = nullptr;
  int streak = 0;
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
    if (!Counts(it->outcome)) continue;
    if (it->outcome.result == "passed") break;
    since = &*it;
    ++streak;
  }
  if (since == nullptr) return "";
  return "failing since " + ShortTime(since->started_at) + " (" + std::to_string(streak) +
         (streak == 1 ? " run)" : " runs)");
}

std::string RunTitle(const ReportRun& r) {
  std::string t = ShortTime(r.started_at) + " · " + (r.outcome.version.empty() ? "-" : r.outcome.version) +
                  " · " + r.outcome.result + " · " + FormatDuration(r.outcome.elapsed);
  if (!r.outcome.reason.empty()) t += " · " + FirstLine(r.outcome.reason, 120);
  return t;
}

std::string Strip(const std::vector<ReportRun>& runs) {
  std::string out = "<span class=\"strip\">";
  for (const auto& r : runs) {
    std::string cls = Esc(r.outcome.result);
    std::string title = Esc(RunTitle(r));
    if (r.link.empty()) {
      out += "<a class=\"" + cls + "\" title=\"" + title + "\"></a>";
    } else {
      out += "<a class=\"" + cls + "\" title=\"" + title + "\" href=\"" + Esc(r.link) + "/\"></a>";
    }
  }
  return out + "</span>";
}

// Durations over time: a polyline through one dot per run, coloured by its result.
std::string Chart(const std::vector<ReportRun>& runs) {
  constexpr int kWidth = 180, kHeight = 40, kPad = 4, kTop = 10;
  int64_t max_ms = 1;
  for (const auto& r : runs) max_ms = std::max<int64_t>(max_ms, r.outcome.elapsed.count());
  size_t n = runs.size();
  auto x = [&](size_t i) {
    return n <= 1 ? kWidth / 2.0 : kPad + (kWidth - 2.0 * kPad) * static_cast<double>(i) / (n - 1);
  };
  auto y = [&](int64_t ms) {
    return kHeight - kPad - (kHeight - kPad - kTop) * static_cast<double>(ms) / static_cast<double>(max_ms);
  };
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(1);
  os << "<svg width=\"" << kWidth << "\" height=\"" << kHeight << "\" viewBox=\"0 0 " << kWidth << " "
     << kHeight << "\" role=\"img\" aria-label=\"durations of recent runs\">";
  os << "<text x=\"" << kPad << "\" y=\"8\">max " << Esc(FormatDuration(Duration(max_ms))) << "</text>";
  if (n > 1) {
    os << "<polyline class=\"trend\" points=\"";
    for (size_t i = 0; i < n; ++i) os << (i ? " " : "") << x(i) << "," << y(runs[i].outcome.elapsed.count());
    os << "\"/>";
  }
  for (size_t i = 0; i < n; ++i) {
    os << "<circle class=\"p-" << Esc(runs[i].outcome.result) << "\" cx=\"" << x(i) << "\" cy=\""
       << y(runs[i].outcome.elapsed.count()) << "\" r=\"2.5\"><title>" << Esc(RunTitle(runs[i]))
       << "</title></circle>";
  }
  os << "</svg>";
  return os.str();
}

std::string Details(const ReportRun& r) {
  const RunOutcome& o = r.outcome;
  std::ostringstream os;
  os << "<details><summary>" << Badge(o.result) << " <strong>" << Esc(o.recipe) << "</strong> "
     << Esc(o.version.empty() ? "-" : o.version) << " — " << Esc(o.failed_phase.empty() ? "-" : o.failed_phase)
     << " · next: " << Esc(NextStep(o))
     << (o.triage_verdict.empty() ? "" : " · triage verdict: " + Esc(o.triage_verdict)) << "</summary>";
  if (!o.triage_confidence.empty()) os << "<p>Triage: " << Esc(o.triage_confidence) << "</p>";
  os << "<p>Run <code>" << Esc(o.run_id) << "</code> started " << Esc(ShortTime(r.started_at)) << ", took "
     << Esc(FormatDuration(o.elapsed)) << ".";
  if (!r.link.empty()) {
    os << " Proof packets: <a href=\"" << Esc(r.link) << "/\">folder</a>, <a href=\"" << Esc(r.link)
       << "/summary.json\">summary.json</a>, <a href=\"" << Esc(r.link) << "/run.log\">run.log</a>.";
  }
  os << "</p>";
  if (!o.reason.empty()) os << "<pre>" << Esc(o.reason) << "</pre>";
  if (!o.retry_of.empty()) {
    os << "<p>Retry of <code>" << Esc(o.retry_of) << "</code> (transient class <code>"
       << Esc(o.transient_class) << "</code>)" << (o.escalated ? ", escalated" : "") << "; first attempt: "
       << Esc(FirstLine(o.first_reason, 200)) << "</p>";
  }
  for (const auto& t : o.tests) {
    if (t.status.ok()) continue;
    os << "<p>Test <strong>" << Esc(t.name) << "</strong> failed:</p><pre>" << Esc(t.status.message())
       << "</pre>";
  }
  if (!o.teardown.ok()) os << "<p>Teardown:</p><pre>" << Esc(o.teardown.message()) << "</pre>";
  os << "</details>\n";
  return os.str();
}

}  // namespace

std::string HtmlReport(const HtmlPage& page) {
  // The latest selected run of each recipe, in recipe order.
  std::map<std::string, const ReportRun*> latest;
  for (const auto& r : page.selected) latest[r.outcome.recipe] = &r;
  std::map<std::string, const std::vector<ReportRun>*> history;
  for (const auto& h : page.history) {
    if (!h.empty()) history[h.front().outcome.recipe] = &h;
  }
  std::map<std::string, int> totals;
  for (const auto& [recipe, r] : latest) ++totals[r->outcome.result];

  std::ostringstream os;
  os << "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
     << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
     << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
     << "<title>" << Esc(page.title) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";
  os << "<h1>" << Esc(page.title) << "</h1>\n<div class=\"meta\">Generated " << Esc(ShortTime(page.generated_at))
     << " UTC · " << page.selected.size() << (page.selected.size() == 1 ? " run" : " runs") << " of "
     << latest.size() << (latest.size() == 1 ? " recipe" : " recipes") << "</div>\n";
  os << "<div class=\"totals\">";
  for (const char* result : {"passed", "failed", "error", "infra", "interrupted"}) {
    if (totals.count(result)) os << "<span>" << Badge(result) << " " << totals[result] << "</span>";
  }
  os << "<label><input type=\"checkbox\" id=\"only-failing\"> only what is not green</label></div>\n";

  os << "<h2>Recipes</h2>\n<table>\n<thead><tr><th>Recipe</th><th>Version</th><th>Latest</th>"
        "<th>Time</th><th>History</th><th>Durations</th><th>Pass rate</th><th>Reason</th></tr></thead>\n<tbody>\n";
  for (const auto& [recipe, r] : latest) {
    static const std::vector<ReportRun> kNone;
    const std::vector<ReportRun>& runs = history.count(recipe) ? *history[recipe] : kNone;
    const RunOutcome& o = r->outcome;
    std::string since = FailingSince(runs);
    os << "<tr class=\"row-" << Esc(o.result) << "\"><td><strong>" << Esc(recipe) << "</strong>";
    if (!r->link.empty()) os << "<br><a href=\"" << Esc(r->link) << "/\">proof packets</a>";
    os << "</td><td>" << Esc(o.version.empty() ? "-" : o.version) << "</td><td>" << Badge(o.result);
    if (!since.empty()) os << "<br><span class=\"since\">" << Esc(since) << "</span>";
    if (!o.triage_verdict.empty()) {
      os << "<br><span class=\"verdict\" title=\"" << Esc(o.triage_confidence) << "\">triage: "
         << Esc(o.triage_verdict) << "</span>";
    }
    os << "</td><td>" << Esc(FormatDuration(o.elapsed)) << "</td><td>" << Strip(runs) << "</td><td>"
       << Chart(runs) << "</td><td class=\"rate\">" << PassRate(runs) << "</td><td class=\"reason\">"
       << Esc(o.reason.empty() ? "" : (o.failed_phase.empty() ? "" : o.failed_phase + ": ") +
                                           FirstLine(o.reason, 160))
       << "</td></tr>\n";
  }
  os << "</tbody>\n</table>\n";

  bool any_failure = false;
  for (const auto& r : page.selected) any_failure = any_failure || r.outcome.result != "passed";
  if (any_failure) {
    os << "<h2>What went wrong</h2>\n";
    for (const auto& r : page.selected) {
      if (r.outcome.result != "passed") os << Details(r);
    }
  }
  os << "<script>" << kScript << "</script>\n</body>\n</html>\n";
  return os.str();
}

}  // namespace harness
