// Recipe environment: .env.sample parsing and the choice of compose files.
#include "recipe/recipe_env.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "base/temp_dir.h"

namespace harness {
namespace {

namespace fs = std::filesystem;
using Env = std::map<std::string, std::string>;

// The value of `key` after parsing `content` (which must parse).
std::string ValueOf(const std::string& content, const std::string& key, const Env& base = {}) {
  Result<EnvFile> env = ParseEnvSample(content, ".env.sample", base);
  REQUIRE(env.ok());
  auto it = env->values.find(key);
  return it == env->values.end() ? "<unset>" : it->second;
}

// The message of a parse that must fail.
std::string EnvError(const std::string& content) {
  Result<EnvFile> env = ParseEnvSample(content, ".env.sample");
  REQUIRE_FALSE(env.ok());
  CHECK(env.status().code() == Status::Code::kInvalidArgument);
  return env.status().message();
}

void Write(const fs::path& path, const std::string& text = "services: {}\n") {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// ----------------------------------------------------------------------------------------
// .env.sample

TEST_CASE("a real recipe's .env.sample reads as abra reads it", "[recipe-env]") {
  const std::string sample = R"ENV(TYPE=nextcloud

DOMAIN=nextcloud.example.com
## Domain aliases
#EXTRA_DOMAINS=', `www.nextcloud.example.com`'
LETS_ENCRYPT_ENV=production

# Upload limit
UPLOAD_LIMIT=512M   # trailing blanks and a comment go
PHP_MEMORY_LIMIT=1G
export TIMEOUT=300
ADMIN_EMAIL="admin@example.com"
APP_NAME='My $Cloud'

COMPOSE_FILE="compose.yml"
COMPOSE_FILE="$COMPOSE_FILE:compose.postgres.yml"
#COMPOSE_FILE="$COMPOSE_FILE:compose.smtp.yml"
#COMPOSE_FILE="$COMPOSE_FILE:compose.onlyoffice.yml"
COMPOSE_FILE="$COMPOSE_FILE:overlays/compose.redis.yml"

SECRET_DB_ROOT_PASSWORD_VERSION=v1 # length=64
SECRET_DB_PASSWORD_VERSION=v1   # length=128
SECRET_ADMIN_PASSWORD_VERSION=v1
SECRET_API_KEY_VERSION=v2 # length=64 charset=hex
SECRET_SMTP_PASSWORD_VERSION=v1 # charset=special-chars set by hand
SECRET_TOKEN_VERSION=v1 # charset=default length=32 generated

## Mail
#SMTP_AUTHTYPE=LOGIN
#SMTP_HOST=mail.example.com
MAIL_FROM_ADDRESS=noreply
MAIL_DOMAIN=${DOMAIN}
DEFAULT_PHONE_REGION=${PHONE_REGION:-DE}
	# an indented comment
)ENV";
  Result<EnvFile> env = ParseEnvSample(sample, ".env.sample");
  REQUIRE(env.ok());
  const Env& v = env->values;
  CHECK(v.at("TYPE") == "nextcloud");
  CHECK(v.at("DOMAIN") == "nextcloud.example.com");
  CHECK(v.count("EXTRA_DOMAINS") == 0);
  CHECK(v.at("LETS_ENCRYPT_ENV") == "production");
  CHECK(v.at("UPLOAD_LIMIT") == "512M");
  CHECK(v.at("TIMEOUT") == "300");
  CHECK(v.at("ADMIN_EMAIL") == "admin@example.com");
  CHECK(v.at("APP_NAME") == "My $Cloud");
  CHECK(v.at("COMPOSE_FILE") == "compose.yml:compose.postgres.yml:overlays/compose.redis.yml");
  CHECK(env->line_of.at("COMPOSE_FILE") == 19);
  CHECK(v.at("MAIL_DOMAIN") == "nextcloud.example.com");
  CHECK(v.at("DEFAULT_PHONE_REGION") == "DE");
  CHECK(v.at("SECRET_DB_PASSWORD_VERSION") == "v1");

  // Every assignment, in file order: the three COMPOSE_FILE lines are all there.
  int compose_lines = 0;
  for (const auto& e : env->entries) compose_lines += e.key == "COMPOSE_FILE";
  CHECK(compose_lines == 3);
  CHECK(env->entries.front().key == "TYPE");
  CHECK(env->entries.front().line == 1);
  CHECK(env->entries.back().key == "DEFAULT_PHONE_REGION");

  const auto& hints = env->secret_hints;
  CHECK(hints.size() == 6);
  CHECK(hints.at("db_root_password").length == 64);
  CHECK(hints.at("db_password").length == 128);
  CHECK(hints.at("db_password").charset.empty());
  CHECK(hints.at("admin_password").length == 0);
  CHECK(hints.at("api_key").length == 64);
  CHECK(hints.at("api_key").charset == "hex");
  CHECK(hints.at("smtp_password").charset == "special");  // abra's spelling
  CHECK(hints.at("token").charset == "alnum");
  CHECK(hints.at("token").length == 32);
}

TEST_CASE("env: blank lines, comments, export and line endings", "[recipe-env]") {
  Result<EnvFile> env = ParseEnvSample("\n   \n# c\n  # c\r\nexport  A=1\r\n  B=2\n", "x");
  REQUIRE(env.ok());
  CHECK(env->values == Env{{"A", "1"}, {"B", "2"}});
  CHECK(env->line_of.at("A") == 5);
  CHECK(env->line_of.at("B") == 6);
  CHECK(ValueOf("exporter=1", "exporter") == "1");  // a key that starts with "export"
  CHECK(ValueOf("export_X=1", "export_X") == "1");
  CHECK(ValueOf("A=", "A").empty());
  CHECK(ValueOf("A=   # nothing", "A").empty());
  CHECK(ValueOf("A=a", "A") == "a");
  CHECK(ValueOf("A=1\nA=2", "A") == "2");
}

TEST_CASE("env: unquoted values", "[recipe-env]") {
  CHECK(ValueOf("A=a#b", "A") == "a#b");  // '#' inside a word is not a comment
  CHECK(ValueOf("A=#b", "A") == "#b");
  CHECK(ValueOf("A=a # b", "A") == "a");
  CHECK(ValueOf("A=a\t# b", "A") == "a");
  CHECK(ValueOf("A=a b   ", "A") == "a b");
  CHECK(ValueOf("A=a \\# b", "A") == "a # b");  // an escaped '#' is text
  CHECK(ValueOf(R"(A=\$HOME)", "A") == "$HOME");
  CHECK(ValueOf("A=5$", "A") == "5$");    // a lone '$' is literal
  CHECK(ValueOf("A=a\\ ", "A") == "a ");  // an escaped trailing blank stays
}

TEST_CASE("env: expansion from earlier keys, then base, unset is empty", "[recipe-env]") {
  const Env base = {{"X", "base"}, {"EMPTY", ""}};
  CHECK(ValueOf("A=$X", "A", base) == "base");
  CHECK(ValueOf("X=mine\nA=$X", "A", base) == "mine");  // the file's own key wins
  CHECK(ValueOf("A=${X}-1", "A", base) == "base-1");
  CHECK(ValueOf("A=$X_1", "A", base).empty());  // $X_1 names X_1
  CHECK(ValueOf("A=${NOPE}", "A", base).empty());
  CHECK(ValueOf("A=$NOPE", "A", base).empty());
  CHECK(ValueOf("A=${NOPE:-d}", "A", base) == "d");
  CHECK(ValueOf("A=${NOPE-d}", "A", base) == "d");
  CHECK(ValueOf("A=${EMPTY:-d}", "A", base) == "d");
  CHECK(ValueOf("A=${EMPTY-d}", "A", base).empty());  // set but empty: no default
  CHECK(ValueOf("A=${X:-d}", "A", base) == "base");
  CHECK(ValueOf("A=${NOPE:-${X}}", "A", base) == "base");    // nested
  CHECK(ValueOf("A=${NOPE:-a # b}", "A", base) == "a # b");  // not a comment inside ${}
  CHECK(ValueOf("A=later\nB=$A\nA=again", "B") == "later");  // earlier keys only
  CHECK(ValueOf("COMPOSE_FILE=\"$COMPOSE_FILE:compose.x.yml\"", "COMPOSE_FILE",
                {{"COMPOSE_FILE", "compose.yml"}}) == "compose.yml:compose.x.yml");
}

// "${N:-${N:-…v…}}", `levels` deep.
std::string Nested(int levels) {
  std::string text;
  for (int i = 0; i < levels; ++i) text += "${N:-";
  return text + "v" + std::string(levels, '}');
}

TEST_CASE("env: defaults nest 16 levels deep, not without end", "[recipe-env]") {
  CHECK(ValueOf("A=" + Nested(16), "A") == "v");
  CHECK(ValueOf("A=\"" + Nested(16) + "\"", "A") == "v");
  CHECK(EnvError("A=" + Nested(17)) == ".env.sample:1: expansions nested deeper than 16 levels");
  // Each level was a recursion: 200000 of them overflowed the stack.
  CHECK(EnvError("A=" + Nested(200000)) == ".env.sample:1: expansions nested deeper than 16 levels");
}

TEST_CASE("env: a value named ten times a line does not grow without bound", "[recipe-env]") {
  // 451 bytes made a value of 1 GB, one line more 10 GB.
  std::string text = "V0=0123456789\n";
  for (int i = 1; i <= 8; ++i) {
    text += "V" + std::to_string(i) + "=\"";
    for (int j = 0; j < 10; ++j) text += "${V" + std::to_string(i - 1) + "}";
    text += "\"\n";
  }
  CHECK(EnvError(text) == ".env.sample:7: a value longer than 1 MiB once expanded");
  CHECK(ValueOf("A=" + std::string(1 << 20, 'a') + "\nB=$A", "B").size() == 1 << 20);
  // Each value within its limit, but together past the file's.
  std::string many = "A=" + std::string(1 << 20, 'a') + "\n";
  for (int i = 0; i < 16; ++i) many += "B" + std::to_string(i) + "=$A\n";
  CHECK(EnvError(many) == ".env.sample:17: the values add up to more than 16 MiB once expanded");
}

TEST_CASE("env: double and single quotes", "[recipe-env]") {
  CHECK(ValueOf(R"(A="a b # not a comment")", "A") == "a b # not a comment");
  CHECK(ValueOf(R"(A="a" # comment)", "A") == "a");
  CHECK(ValueOf(R"(A="say \"hi\" \\ \$X")", "A") == R"(say "hi" \ $X)");
  CHECK(ValueOf(R"(A="a\nb")", "A") == R"(a\nb)");  // other backslashes stay, as in a shell
  CHECK(ValueOf("X=1\nA=\"${X}:$X\"", "A") == "1:1");
  CHECK(ValueOf(R"(A="")", "A").empty());
  CHECK(ValueOf("X=1\nA='$X \\ \"q\"' # c", "A") == "$X \\ \"q\"");
  CHECK(ValueOf("A=''", "A").empty());
}

TEST_CASE("env: malformed lines name the file and line", "[recipe-env]") {
  CHECK_THAT(EnvError("A=1\nKEY = v"), Catch::StartsWith(".env.sample:2: a blank before '='"));
  CHECK_THAT(EnvError("KEY =v"), Catch::StartsWith(".env.sample:1: a blank before '='"));
  CHECK_THAT(EnvError("KEY= v"), Catch::StartsWith(".env.sample:1: a blank after '='"));
  CHECK_THAT(EnvError("\njust words"), Catch::StartsWith(".env.sample:2: expected KEY=VALUE"));
  CHECK_THAT(EnvError("=v"), Catch::StartsWith(".env.sample:1: a value without a name"));
  CHECK_THAT(EnvError("1KEY=v"), Catch::StartsWith(".env.sample:1: '1KEY' is not a valid name"));
  CHECK_THAT(EnvError("A-B=v"), Catch::Contains("not a valid name"));
  CHECK_THAT(EnvError("export "), Catch::Contains("'export' without an assignment"));
  CHECK_THAT(EnvError("export"), Catch::Contains("expected KEY=VALUE"));
  CHECK_THAT(EnvError("A=\"x\ny\""),
             Catch::StartsWith(".env.sample:1: a double quote without its closing quote"));
  CHECK_THAT(EnvError("A=\"x"), Catch::Contains("multi-line values are not supported"));
  CHECK_THAT(EnvError("A='x"), Catch::Contains("multi-line values are not supported"));
  CHECK_THAT(EnvError("A=x\\"), Catch::Contains("multi-line values are not supported"));
  CHECK_THAT(EnvError("A=\"x\"y"), Catch::Contains("unexpected text after the closing quote"));
  CHECK_THAT(EnvError("A='x' y"), Catch::Contains("unexpected text after the closing quote"));
  CHECK_THAT(EnvError("A=${X"), Catch::Contains("without its closing '}'"));
  CHECK_THAT(EnvError("A=${1X}"), Catch::Contains("bad substitution"));
  CHECK_THAT(EnvError("A=${X:?required}"), Catch::Contains("unsupported expansion"));
  CHECK_THAT(EnvError(std::string("A=1\nB=\0", 7)),
             Catch::StartsWith(".env.sample:2: not a text file"));
}

TEST_CASE("env: secret hints are checked", "[recipe-env]") {
  Result<EnvFile> env = ParseEnvSample(
      "SECRET_A_VERSION=v1 # length=8\nSECRET_B_VERSION=v1 # length=1024 charset=special\n"
      "SECRET_C_VERSION=\"v1\" # charset=hex length=40\nSECRET_D_VERSION=v1 # length=32 "
      "charset=alnum\n"
      "NOT_A_SECRET=v1 # length=3\nSECRET_C_VERSION=v2\n",
      ".env.sample");
  REQUIRE(env.ok());
  CHECK(env->secret_hints.at("a").length == 8);
  CHECK(env->secret_hints.at("b").length == 1024);
  CHECK(env->secret_hints.at("b").charset == "special");
  CHECK(env->secret_hints.at("c").length == 0);  // a later line replaces the hint
  CHECK(env->secret_hints.at("d").charset == "alnum");
  CHECK(env->secret_hints.size() == 4);
  CHECK(ValueOf("SECRET_C_VERSION=\"v1\" # charset=hex length=40", "SECRET_C_VERSION") == "v1");

  for (const char* bad : {"length=7", "length=1025", "length=abc", "length=", "length=12.5",
                          "length=-9", "length=99999999999", "charset=latin1", "charset="}) {
    INFO(bad);
    std::string msg = EnvError(std::string("A=1\nSECRET_X_VERSION=v1 # ") + bad);
    CHECK_THAT(msg, Catch::StartsWith(".env.sample:2: '"));
    CHECK_THAT(msg, Catch::Contains(bad));
  }
  CHECK_THAT(EnvError("SECRET_X_VERSION=v1 # length=7"), Catch::Contains("from 8 to 1024"));
}

// ----------------------------------------------------------------------------------------
// Compose files

TEST_CASE("compose files: default, COMPOSE_FILE, subfolders, duplicates", "[recipe-env]") {
  TempDir tmp("recipe-env");
  REQUIRE_FALSE(tmp.path().empty());
  fs::path dir = tmp.path();
  Write(dir / "compose.yml");
  Write(dir / "compose.postgres.yml");
  Write(dir / "overlays/compose.smtp.yaml");

  Result<ComposeChoice> def = ChooseComposeFiles(dir.string(), "", "");
  REQUIRE(def.ok());
  CHECK(def->files == std::vector<std::string>{"compose.yml"});
  CHECK(def->reason == "the default compose.yml");

  Result<ComposeChoice> c = ChooseComposeFiles(
      dir.string(), "compose.yml::./compose.postgres.yml:overlays/./compose.smtp.yaml:compose.yml:",
      ".env.sample:7");
  REQUIRE(c.ok());
  CHECK(c->files == std::vector<std::string>{"compose.yml", "compose.postgres.yml",
                                             "overlays/compose.smtp.yaml"});
  CHECK(c->reason == "COMPOSE_FILE from .env.sample:7");

  Result<ComposeChoice> only = ChooseComposeFiles(dir.string(), "compose.postgres.yml", "");
  REQUIRE(only.ok());
  CHECK(only->files == std::vector<std::string>{"compose.postgres.yml"});
  CHECK(only->reason == "COMPOSE_FILE");

  // A symlink that stays inside the recipe is fine.
  std::error_code ec;
  fs::create_symlink("overlays/compose.smtp.yaml", dir / "compose.smtp.yml", ec);
  REQUIRE_FALSE(ec);
  CHECK(ChooseComposeFiles(dir.string(), "compose.smtp.yml", "x").ok());
}

TEST_CASE("compose files: a missing overlay or a bad name is refused with a fix", "[recipe-env]") {
  TempDir tmp("recipe-env");
  fs::path dir = tmp.path();
  Write(dir / "compose.yml");
  fs::create_directories(dir / "overlays.yml");

  Result<ComposeChoice> missing =
      ChooseComposeFiles(dir.string(), "compose.yml:compose.smtp.yml", ".env.sample:7");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Status::Code::kInvalidArgument);
  CHECK(missing.status().message() ==
        "COMPOSE_FILE (.env.sample:7) names compose.smtp.yml, which the recipe does not have; "
        "add it to the recipe or remove it from COMPOSE_FILE");
  Result<ComposeChoice> sub =
      ChooseComposeFiles(dir.string(), "overlays/compose.smtp.yml", "abra.sh:3");
  REQUIRE_FALSE(sub.ok());
  CHECK_THAT(sub.status().message(),
             Catch::StartsWith("COMPOSE_FILE (abra.sh:3) names overlays/compose.smtp.yml, which "
                               "the recipe does not have"));

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"/etc/compose.yml", "absolute path"},
      {"../other/compose.yml", "leaves the recipe folder"},
      {"overlays/../../compose.yml", "leaves the recipe folder"},
      {"compose.json", "not a .yml or .yaml file"},
      {".yml", "not a .yml or .yaml file"},
      {"compose yml.yml", "the character ' '"},
      {"compose.$X.yml", "the character '$'"},
      {"a//compose.yml", "empty path component"},
      {"./", "not a file name"},
      {"overlays.yml", "not a regular file"},
  };
  for (const auto& [name, why] : bad) {
    INFO(name);
    Result<ComposeChoice> r =
        ChooseComposeFiles(dir.string(), "compose.yml:" + name, ".env.sample:7");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kInvalidArgument);
    CHECK_THAT(r.status().message(),
               Catch::StartsWith("COMPOSE_FILE (.env.sample:7) names " + name + ", "));
    CHECK_THAT(r.status().message(), Catch::Contains(why));
  }

  TempDir empty("recipe-env");
  Result<ComposeChoice> none = ChooseComposeFiles(empty.path(), "", "");
  REQUIRE_FALSE(none.ok());
  CHECK_THAT(none.status().message(), Catch::Contains("compose.yml"));
  CHECK_THAT(none.status().message(), Catch::Contains("set COMPOSE_FILE in .env.sample"));

  Result<ComposeChoice> gone = ChooseComposeFiles((dir / "nope").string(), "", "");
  CHECK(gone.status().code() == Status::Code::kNotFound);
}

TEST_CASE("compose files: a symlink out of the recipe is refused", "[recipe-env]") {
  TempDir tmp("recipe-env");
  fs::path root = tmp.path();
  fs::path dir = root / "recipe";
  Write(dir / "compose.yml");
  Write(root / "outside/compose.evil.yml");
  std::error_code ec;
  fs::create_symlink(root / "outside/compose.evil.yml", dir / "compose.evil.yml", ec);
  REQUIRE_FALSE(ec);
  fs::create_directory_symlink(root / "outside", dir / "overlays", ec);
  REQUIRE_FALSE(ec);
  fs::create_symlink(root / "outside/gone.yml", dir / "compose.dangling.yml", ec);
  REQUIRE_FALSE(ec);

  for (const char* name : {"compose.evil.yml", "overlays/compose.evil.yml"}) {
    INFO(name);
    Result<ComposeChoice> r =
        ChooseComposeFiles(dir.string(), std::string("compose.yml:") + name, ".env.sample:3");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::Contains("leads outside the recipe folder"));
    CHECK_THAT(r.status().message(), Catch::Contains(".env.sample:3"));
  }
  Result<ComposeChoice> dangling = ChooseComposeFiles(dir.string(), "compose.dangling.yml", "x");
  REQUIRE_FALSE(dangling.ok());
  CHECK_THAT(dangling.status().message(),
             Catch::Contains("a symlink to a file that does not exist"));

  // The recipe folder itself reached through a symlink is fine.
  fs::create_directory_symlink(dir, root / "link", ec);
  REQUIRE_FALSE(ec);
  Result<ComposeChoice> via = ChooseComposeFiles((root / "link").string(), "", "");
  REQUIRE(via.ok());
  CHECK(via->files == std::vector<std::string>{"compose.yml"});
}

}  // namespace
}  // namespace harness
