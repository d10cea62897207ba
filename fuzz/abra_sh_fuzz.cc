// Fuzz target: a recipe's `abra.sh` (recipe/abra_sh.h), read and never run.
//
// Checks that only shell names are exported, each from a line of the file, that the lines
// not applied come in file order with a reason, and that a file with a NUL byte is the
// only error.
#include "fuzz_support.h"
#include "recipe/abra_sh.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace harness;
  static const std::map<std::string, std::string> env = {
      {"STACK_NAME", "pinboard_k3x9a2"}, {"DOMAIN", "pinboard-k3x9a2.test.local"}, {"EMPTY", ""}};
  std::string content = fuzz::Text(data, size);
  auto sh = ReadAbraSh(content, "abra.sh", env);
  bool has_nul = content.find('\0') != std::string::npos;
  FUZZ_CHECK(sh.ok() != has_nul, sh.status().ToString());
  if (!sh.ok()) return 0;
  int lines = 1;
  for (char c : content) lines += c == '\n';
  for (const auto& [name, value] : sh->exports) {
    FUZZ_CHECK(
        !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_'),
        name);
    FUZZ_CHECK(
        sh->line_of.count(name) && sh->line_of.at(name) >= 1 && sh->line_of.at(name) <= lines,
        name);
  }
  FUZZ_CHECK(sh->exports.size() == sh->line_of.size(), "one line per export");
  int previous = 0;
  for (const auto& line : sh->not_applied) {
    FUZZ_CHECK(line.line > previous && line.line <= lines, std::to_string(line.line));
    FUZZ_CHECK(!line.why.empty() && !line.text.empty(), line.text);
    previous = line.line;
  }
  return 0;
}
