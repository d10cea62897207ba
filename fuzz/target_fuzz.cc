// Fuzz target: --target as the command line gives it (exec/target.h).
//
// Checks that a target that parses holds nothing a shell or ssh would interpret (only
// the characters its checks allow), and that its description parses back to the same
// target.
#include <cctype>

#include "exec/target.h"
#include "fuzz_support.h"

namespace harness {
namespace {

bool Only(const std::string& s, const char* extra) {
  for (unsigned char c : s) {
    if (!std::isalnum(c) && std::string(extra).find(static_cast<char>(c)) == std::string::npos)
      return false;
  }
  return true;
}

}  // namespace
}  // namespace harness

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace harness;
  std::string spec = fuzz::Text(data, size);
  auto t = ParseTarget(spec);
  if (!t.ok()) return 0;
  std::string described = t->Describe();
  if (t->local) {
    FUZZ_CHECK(described == "local", described);
    return 0;
  }
  FUZZ_CHECK(!t->user.empty() && t->user[0] != '-' && Only(t->user, "_-."), t->user);
  FUZZ_CHECK(!t->host.empty() && t->host[0] != '-' && Only(t->host, "-.:"), t->host);
  FUZZ_CHECK(t->port >= 1 && t->port <= 65535, std::to_string(t->port));
  auto again = ParseTarget(described);
  FUZZ_CHECK(again.ok(), described + ": " + again.status().ToString());
  FUZZ_CHECK(again->Describe() == described && again->user == t->user && again->host == t->host &&
                 again->port == t->port,
             described);
  return 0;
}
