// Compose files read as the deploy reads them: merges applied, values interpolated, and
// the shapes that cannot be judged refused.
#include "recipe/compose_tree.h"

#include <catch2/catch.hpp>
#include <string>

namespace harness {
namespace {

TEST_CASE("compose trees: merges, interpolation and limits", "[policy]") {
  std::map<std::string, std::string> env = {{"TAG", "1.2"}};
  SECTION("merges apply in order and interpolation reaches every value, not keys") {
    auto tree = ParseComposeTree("x: &x {a: \"${TAG}\", b: 1}\ny: &y {b: 2, c: 3}\n"
                                 "z:\n  <<: [*x, *y]\n  c: own\n  ${TAG}: k\n",
                                 "compose.yml", env);
    REQUIRE(tree.ok());
    YAML::Node z = (*tree)["z"];
    CHECK(z["a"].Scalar() == "1.2");
    CHECK(z["b"].Scalar() == "1");   // the earlier merged mapping wins
    CHECK(z["c"].Scalar() == "own");  // the mapping's own key wins
    CHECK(z["${TAG}"].Scalar() == "k");
    CHECK_FALSE(z["<<"]);
  }
  SECTION("refused shapes") {
    const std::pair<const char*, const char*> cases[] = {
        {"a: 1\na: 2\n", "compose.yml:2: 'a' appears twice in one mapping"},
        {"a:\n  <<: {b: 1}\n  <<: {c: 1}\n", "compose.yml:3: '<<' appears twice in one mapping"},
        {"a:\n  <<: scalar\n", "compose.yml:2: '<<' merges something that is not a mapping"},
        {"a: &a [*a]\n", "nested deeper than"},
        {"services: {}\n---\nservices: {app: {privileged: true}}\n", "compose.yml: more than one YAML document"},
        {"- a\n", "compose.yml: not a compose file (no mapping)"},
        {"", "compose.yml: not a compose file (no mapping)"},
        {"? [a, b]\n: c\n", "a mapping key that is not a plain value"},
    };
    for (const auto& [text, message] : cases) {
      INFO(text);
      auto tree = ParseComposeTree(text, "compose.yml", env);
      REQUIRE_FALSE(tree.ok());
      CHECK(tree.status().message().find(message) != std::string::npos);
    }
  }
  SECTION("an alias bomb is refused, not expanded") {
    std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 10; ++i) {
      std::string prev = "*a" + std::to_string(i - 1);
      bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
      for (int j = 1; j < 10; ++j) bomb += ", " + prev;
      bomb += "]\n";
    }
    auto tree = ParseComposeTree(bomb, "compose.yml", env);
    REQUIRE_FALSE(tree.ok());
    CHECK(tree.status().message().find("once anchors and merges are expanded") != std::string::npos);
  }
  SECTION("a long value multiplied by aliases is refused, not copied") {
    // 64 kB, a thousand times over: 64 MB from a file of 64 kB.
    std::string bomb = "v: &v \"" + std::string(64 << 10, 'x') + "\"\n";
    std::string prev = "v";
    for (int i = 1; i <= 3; ++i) {
      std::string name = "l" + std::to_string(i);
      bomb += name + ": &" + name + " [*" + prev;
      for (int j = 1; j < 10; ++j) bomb += ", *" + prev;
      bomb += "]\n";
      prev = name;
    }
    auto tree = ParseComposeTree(bomb, "compose.yml", env);
    REQUIRE_FALSE(tree.ok());
    CHECK(tree.status().message().find("MiB of text once anchors, merges and variables are expanded") !=
          std::string::npos);
  }
  SECTION("a long variable named many times is refused, not expanded") {
    std::map<std::string, std::string> big = {{"BIG", std::string(1 << 20, 'x')}};
    std::string text = "a: \"";
    for (int i = 0; i < 20; ++i) text += "${BIG}";
    auto tree = ParseComposeTree(text + "\"\n", "compose.yml", big);
    REQUIRE_FALSE(tree.ok());
    CHECK(tree.status().message().find("compose.yml:1: more than 16 MiB of text") != std::string::npos);
    CHECK(ParseComposeTree("a: ${BIG}${BIG}\n", "compose.yml", big).ok());
  }
  SECTION("text on which yaml-cpp's parser never ends its documents is answered") {
    // Found by fuzzing (fuzz/regressions/compose_policy/): yaml-cpp's LoadAll never
    // returned on it.
    auto tree = ParseComposeTree("[just !aust !a, ,list]\n, ,list]\n", "compose.yml", env);
    REQUIRE_FALSE(tree.ok());
    CHECK(tree.status().message() == "compose.yml: more than one YAML document");
  }
  SECTION("an empty document counts as one") {
    CHECK(ParseComposeTree("services: {}\n...\n", "compose.yml", env).ok());
    for (const char* text : {"services: {}\n---\n", "---\n---\nservices: {}\n"}) {
      INFO(text);
      auto tree = ParseComposeTree(text, "compose.yml", env);
      REQUIRE_FALSE(tree.ok());
      CHECK(tree.status().message() == "compose.yml: more than one YAML document");
    }
  }
}

}  // namespace
}  // namespace harness
