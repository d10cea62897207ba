// Sweep reports for other tools: JUnit XML (what Drone, Woodpecker, GitLab and Jenkins
// read) and a Markdown summary fit for a pull-request comment or a go/no-go document.
//
// One testsuite per recipe run; a testcase per phase and per test; failures carry the
// evidence, infrastructure problems and interrupts are errors, retries are properties.
// Pure functions of the run outcomes (no clock, no I/O), so they have approval baselines.
//
// Thread-safety: pure; any thread.
#pragma once

#include <string>
#include <vector>

#include "recipe/outcome.h"

namespace harness {

std::string JUnitXml(const std::vector<RunOutcome>& runs, const std::string& name);
std::string MarkdownSummary(const std::vector<RunOutcome>& runs, const std::string& title);
// XML text with &, <, >, " and ' escaped and control characters dropped.
std::string XmlEscape(const std::string& text);

}  // namespace harness
