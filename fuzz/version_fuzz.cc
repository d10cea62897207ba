// Fuzz target: versions and names as release tags, catalogue entries and pull requests
// give them (recipe/releases.h, recipe/naming.h).
//
// Input: lines, each a version (or "recipe@version"). Every line is validated, split and
// read for its major version; the valid versions (as git tags are filtered) must be
// ordered consistently by CompareVersions (reflexive, antisymmetric, transitive), since
// releases are sorted with it, and are sorted.
#include <algorithm>

#include "fuzz_support.h"
#include "recipe/naming.h"
#include "recipe/releases.h"

namespace harness {
namespace {

int Sign(int c) { return (c > 0) - (c < 0); }

}  // namespace
}  // namespace harness

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace harness;
  std::string text = fuzz::Text(data, size);
  std::vector<std::string> valid;
  size_t start = 0;
  while (start <= text.size() && valid.size() < 16) {
    size_t end = std::min(text.find('\n', start), text.size());
    std::string line = text.substr(start, end - start);
    start = end + 1;
    auto [recipe, version] = SplitRecipeVersion(line);
    // Any answer will do: these are fuzzed for crashes and undefined behaviour only.
    ValidateRecipeName(recipe).IgnoreError();
    ValidateDomain(recipe).IgnoreError();
    MajorVersion(line);
    MajorVersion(version);
    if (ValidateVersion(line).ok()) valid.push_back(line);
  }
  for (const auto& a : valid) {
    FUZZ_CHECK(CompareVersions(a, a) == 0, a);
    for (const auto& b : valid) {
      int ab = Sign(CompareVersions(a, b));
      FUZZ_CHECK(ab == -Sign(CompareVersions(b, a)), a + " <> " + b);
      for (const auto& c : valid) {
        int bc = Sign(CompareVersions(b, c));
        if (ab == bc) FUZZ_CHECK(Sign(CompareVersions(a, c)) == ab, a + ", " + b + ", " + c);
        if (ab == 0 && bc != 0)
          FUZZ_CHECK(Sign(CompareVersions(a, c)) == bc, a + " = " + b + ", " + c);
      }
    }
  }
  std::sort(valid.begin(), valid.end(),
            [](const std::string& a, const std::string& b) { return CompareVersions(a, b) < 0; });
  for (size_t i = 1; i < valid.size(); ++i) {
    FUZZ_CHECK(CompareVersions(valid[i - 1], valid[i]) <= 0, valid[i - 1] + " > " + valid[i]);
  }
  return 0;
}
