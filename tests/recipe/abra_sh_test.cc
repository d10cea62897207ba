// abra.sh: literal exports applied, everything else listed with its reason, never run.
#include "recipe/abra_sh.h"

#include <catch2/catch.hpp>

namespace harness {
namespace {

using Env = std::map<std::string, std::string>;

TEST_CASE("a real recipe's abra.sh: exports applied, functions listed, never run", "[recipe-env]") {
  const std::string script = R"SH(#!/bin/bash
# Config versions
export ENTRYPOINT_VERSION=v3
export NGINX_CONF_VERSION=v3
export PHP_INI_VERSION=v3 # bump when php.ini changes
export CRON_VERSION=v3
export APP_TIMEOUT=${APP_TIMEOUT:-300}

backup() {
  if [ -z "$STACK_NAME" ]; then
    echo "no stack" >&2
    exit 1
  fi
  docker exec "$(docker ps -q -f name=${STACK_NAME}_db)" pg_dump -U postgres > /tmp/backup.sql
  for f in a b; do
    echo "$f }"
  done
}

function restore {
  cat /tmp/backup.sql | docker exec -i "$CONTAINER" psql -U postgres
}

export AFTER=ok
)SH";
  Result<AbraSh> sh = ReadAbraSh(script, "abra.sh", {{"STACK_NAME", "web"}});
  REQUIRE(sh.ok());
  CHECK(sh->exports == Env{{"ENTRYPOINT_VERSION", "v3"},
                           {"NGINX_CONF_VERSION", "v3"},
                           {"PHP_INI_VERSION", "v3"},
                           {"CRON_VERSION", "v3"},
                           {"APP_TIMEOUT", "300"},
                           {"AFTER", "ok"}});
  CHECK(sh->line_of.at("ENTRYPOINT_VERSION") == 3);
  CHECK(sh->line_of.at("AFTER") == 24);
  REQUIRE(sh->not_applied.size() == 2);
  CHECK(sh->not_applied[0].line == 9);
  CHECK(sh->not_applied[0].text == "backup() {");
  CHECK(sh->not_applied[0].why == "shell function, never run (lines 9-18)");
  CHECK(sh->not_applied[1].line == 20);
  CHECK(sh->not_applied[1].text == "function restore {");
  CHECK_THAT(sh->not_applied[1].why, Catch::StartsWith("shell function"));

  Result<AbraSh> set = ReadAbraSh(script, "abra.sh", {{"APP_TIMEOUT", "900"}});
  REQUIRE(set.ok());
  CHECK(set->exports.at("APP_TIMEOUT") == "900");
}

// The reason a single-line abra.sh is not applied ("" when it is).
std::string WhyNot(const std::string& line, const Env& env = {}) {
  Result<AbraSh> sh = ReadAbraSh(line, "abra.sh", env);
  REQUIRE(sh.ok());
  if (sh->not_applied.empty()) return "";
  REQUIRE(sh->not_applied.size() == 1);
  return sh->not_applied[0].why;
}

std::string Exported(const std::string& script, const std::string& name, const Env& env = {}) {
  Result<AbraSh> sh = ReadAbraSh(script, "abra.sh", env);
  REQUIRE(sh.ok());
  auto it = sh->exports.find(name);
  return it == sh->exports.end() ? "<unset>" : it->second;
}

TEST_CASE("abra.sh: literal exports and expansions", "[recipe-env]") {
  const Env env = {{"STACK_NAME", "web"}, {"EMPTY", ""}};
  CHECK(Exported("export A=v1", "A") == "v1");
  CHECK(Exported("  export   A=v1   # note", "A") == "v1");
  CHECK(Exported("export A='it is $HOME; `x`'", "A") == "it is $HOME; `x`");
  CHECK(Exported("export A=\"x y ${STACK_NAME}_$STACK_NAME \\$\"", "A", env) == "x y web_web $");
  CHECK(Exported("export A=${STACK_NAME}", "A", env) == "web");
  CHECK(Exported("export A=$STACK_NAME", "A", env) == "web");
  CHECK(Exported("export A=${NOPE:-v2}", "A", env) == "v2");
  CHECK(Exported("export A=${NOPE-v2}", "A", env) == "v2");
  CHECK(Exported("export A=${EMPTY:-v2}", "A", env) == "v2");
  CHECK(Exported("export A=${NOPE}", "A", env).empty());
  CHECK(Exported("export A=", "A").empty());
  CHECK(Exported("export A=pre_${STACK_NAME}.conf", "A", env) == "pre_web.conf");
  CHECK(Exported("export A=1\nexport B=${A}2\nexport A=3", "B") == "12");     // earlier exports
  CHECK(Exported("export A=1\nexport A=${A:-9}", "A", {{"A", "0"}}) == "1");  // export beats env
  CHECK(Exported("export A=https://x.example/a?b=c,d@e%f+g", "A") ==
        "https://x.example/a?b=c,d@e%f+g");
}

TEST_CASE("abra.sh: defaults nest 16 levels deep, not without end", "[recipe-env]") {
  auto nested = [](int levels) {
    std::string text;
    for (int i = 0; i < levels; ++i) text += "${N:-";
    return text + "v" + std::string(levels, '}');
  };
  CHECK(Exported("export A=" + nested(16), "A") == "v");
  CHECK(WhyNot("export A=" + nested(17)) == "expansions nested deeper than 16 levels");
  CHECK(WhyNot("export A=\"" + nested(200000) + "\"") == "expansions nested deeper than 16 levels");
}

TEST_CASE("abra.sh: an export named ten times a line does not grow without bound", "[recipe-env]") {
  std::string text = "export V0=0123456789\n";
  for (int i = 1; i <= 8; ++i) {
    text += "export V" + std::to_string(i) + "=\"";
    for (int j = 0; j < 10; ++j) text += "${V" + std::to_string(i - 1) + "}";
    text += "\"\n";
  }
  Result<AbraSh> sh = ReadAbraSh(text, "abra.sh", {});
  REQUIRE(sh.ok());
  CHECK(sh->exports.at("V5").size() == 1000000);
  CHECK_FALSE(sh->exports.count("V6"));
  CHECK(sh->exports.at("V7").empty());  // V6 is unset
  REQUIRE(sh->not_applied.size() == 1);
  CHECK(sh->not_applied[0].line == 7);
  CHECK(sh->not_applied[0].why == "a value longer than 1 MiB once expanded");
  // Each within its limit, but together past the file's.
  std::string many = "export A=" + std::string(1 << 20, 'a') + "\n";
  for (int i = 0; i < 16; ++i) many += "export B" + std::to_string(i) + "=$A\n";
  sh = ReadAbraSh(many, "abra.sh", {});
  REQUIRE(sh.ok());
  CHECK(sh->exports.size() == 16);
  REQUIRE(sh->not_applied.size() == 1);
  CHECK(sh->not_applied[0].why == "the exports add up to more than 16 MiB once expanded");
}

TEST_CASE("abra.sh: everything else is listed with its reason", "[recipe-env]") {
  CHECK(WhyNot("export A=$(id)") == "command substitution is never run");
  CHECK(WhyNot("export A=\"$(id)\"") == "command substitution is never run");
  CHECK(WhyNot("export A=`id`") == "command substitution is never run");
  CHECK(WhyNot("export A=\"`id`\"") == "command substitution is never run");
  CHECK(WhyNot("export A=${B:-`id`}") == "command substitution is never run");
  CHECK(WhyNot("export A=${B:-$(id)}") == "command substitution is never run");
  CHECK(WhyNot("export A=$((1+2))") == "arithmetic expansion is not applied");
  CHECK(WhyNot("A=$(id)") == "command substitution is never run");
  CHECK(WhyNot("echo `id`") == "command substitution is never run");
  CHECK(WhyNot("A=1") == "a plain assignment (without export) is not applied");
  CHECK(WhyNot("export A B") == "an export of more than one name is not applied");
  CHECK(WhyNot("export A=1 B=2") == "an export of more than one name is not applied");
  CHECK(WhyNot("export A") == "an export without a value is not applied");
  CHECK(WhyNot("export") == "'export' without a name");
  CHECK(WhyNot("export -f backup") == "export with options is not applied");
  CHECK(WhyNot("export A=1; rm -rf /") == "more than one command on the line (never run)");
  CHECK(WhyNot("export A=1 && rm -rf /") == "more than one command on the line (never run)");
  CHECK(WhyNot("export A=1|cat") == "more than one command on the line (never run)");
  CHECK_THAT(WhyNot("export A=1>/tmp/x"), Catch::Contains("not a literal value"));
  CHECK_THAT(WhyNot("export A=<(x)"), Catch::Contains("not a literal value"));
  CHECK(WhyNot("export A=~/x") == "tilde expansion is not applied");
  CHECK(WhyNot("export A=a\\ b") == "backslash escapes are not applied");
  CHECK(WhyNot("export A=$1") == "the special parameter $1 is not applied");
  CHECK(WhyNot("export A=$$") == "the special parameter $$ is not applied");
  CHECK_THAT(WhyNot("export A=${B:?no}"), Catch::Contains("unsupported expansion"));
  CHECK_THAT(WhyNot("export A=\"x"), Catch::Contains("unterminated quote"));
  CHECK(WhyNot("source ./other.sh") == "sourcing another file is never run");
  CHECK(WhyNot(". ./other.sh") == "sourcing another file is never run");
  CHECK(WhyNot("echo hi") == "a command; abra.sh is never run");
  CHECK(WhyNot("}") == "a closing '}' without its opening");
  CHECK(WhyNot("if [ -n \"$X\" ]; then export A=1; fi") == "'if' block, never run (line 1)");
  CHECK(WhyNot("f() { echo hi; }") == "shell function, never run (line 1)");
  CHECK(WhyNot("# export A=1\n\n   # x") == "");
}

TEST_CASE("abra.sh: blocks are skipped to their end, their exports not applied", "[recipe-env]") {
  const std::string script =
      "if [ -z \"$A\" ]; then\n"         // 1
      "  export A=1\n"                   // 2
      "else\n"                           // 3
      "  export A=2\n"                   // 4
      "fi\n"                             // 5
      "case \"$1\" in\n"                 // 6
      "  x) export B=1 ;;\n"             // 7
      "esac\n"                           // 8
      "restore ()\n"                     // 9
      "{\n"                              // 10
      "  echo \"{ not a brace\"  # }\n"  // 11
      "}\n"                              // 12
      "while true; do\n"                 // 13
      "  break\n"                        // 14
      "done\n"                           // 15
      "export OK=yes\n";                 // 16
  Result<AbraSh> sh = ReadAbraSh(script, "abra.sh", {});
  REQUIRE(sh.ok());
  CHECK(sh->exports == Env{{"OK", "yes"}});
  REQUIRE(sh->not_applied.size() == 4);
  CHECK(sh->not_applied[0].why == "'if' block, never run (lines 1-5)");
  CHECK(sh->not_applied[1].why == "'case' block, never run (lines 6-8)");
  CHECK(sh->not_applied[2].why == "shell function, never run (lines 9-12)");
  CHECK(sh->not_applied[3].why == "'while' block, never run (lines 13-15)");

  // Braces inside ${...}, $(...), quotes and backticks do not end a function.
  Result<AbraSh> inner = ReadAbraSh(
      "f() {\n  echo ${X:-} $(printf '}') `echo }` \"}\"\n  g=${Y:-${Z}}\n}\nexport OK=1\n",
      "abra.sh", {});
  REQUIRE(inner.ok());
  CHECK(inner->exports == Env{{"OK", "1"}});
  REQUIRE(inner->not_applied.size() == 1);
  CHECK(inner->not_applied[0].why == "shell function, never run (lines 1-4)");

  Result<AbraSh> open = ReadAbraSh("backup() {\n  export A=1\n", "abra.sh", {});
  REQUIRE(open.ok());
  CHECK(open->exports.empty());
  REQUIRE(open->not_applied.size() == 1);
  CHECK_THAT(open->not_applied[0].why, Catch::Contains("its end was not found"));
}

TEST_CASE("abra.sh: only a file that is not text is an error", "[recipe-env]") {
  Result<AbraSh> sh = ReadAbraSh(std::string("export A=1\nexport B=\0\n", 22), "abra.sh", {});
  REQUIRE_FALSE(sh.ok());
  CHECK(sh.status().code() == Status::Code::kInvalidArgument);
  CHECK(sh.status().message() == "abra.sh:2: not a text file (a NUL byte)");
  CHECK(ReadAbraSh("}}}\nfi\n((\n\"unterminated\n${\n", "abra.sh", {}).ok());
}

}  // namespace
}  // namespace harness
